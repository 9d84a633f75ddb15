package agent

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evalrun/evalrun/internal/netaddr"
)

// core is what every HTTP transport shares: the validated options, one
// keep-alive pool, the key and how it is sent, request ids and trace
// context, the debug dump, and the classification of failures. A
// transport embeds *core, so Close is promoted to it.
type core struct {
	// client is transport behind an http.Client that answers redirects
	// instead of following them. core's own calls use transport.RoundTrip
	// directly (see open).
	client    *http.Client
	transport *http.Transport
	// hdrBody and hdrNoBody are the header templates of requests with and
	// without a body (see headerTemplate).
	hdrBody, hdrNoBody http.Header
	// secrets are redacted from every error and debug line: the key (and
	// its query-escaped form) and header values taken from the environment.
	// Built once, not per line.
	secrets *Redactor
	timeout time.Duration
	maxBody int64
	ua      []string

	authName  string   // header carrying the key; "" with query auth or no key
	authVal   []string // its value
	queryName string   // query parameter carrying the key; "" unless Auth is "query"
	queryVal  string   // the key, query-escaped

	debug    *debugLog // nil when Options.Debug is nil
	idPrefix string    // random per core, so ids from two runs never collide
	seq      atomic.Uint64
}

// Defaults for zero Options fields.
const (
	DefaultTimeout      = 30 * time.Second
	DefaultMaxConns     = 100
	DefaultMaxBodyBytes = 4 << 20
	DefaultUserAgent    = "evalrun"
	// DefaultQueryParam is the query parameter of Auth "query".
	DefaultQueryParam = "api_key"
)

// maxErrorBody caps how much of a non-2xx body is read for its message.
const maxErrorBody = 64 << 10

var (
	jsonType = []string{"application/json"}
	// errCallTimeout is the cause of a per-call timeout, to tell it from the
	// caller's own deadline.
	errCallTimeout = errors.New("per-call timeout")
	errTooLarge    = errors.New("response body too large")
)

// newCore checks the options every transport shares and returns the core
// and the base URL without a trailing slash. It makes no connection.
func newCore(opts Options) (*core, string, error) {
	base, err := checkBaseURL(opts.BaseURL, opts.AllowInsecureHTTP)
	if err != nil {
		return nil, "", err
	}
	c := &core{secrets: NewRedactor(), timeout: opts.Timeout, maxBody: opts.MaxBodyBytes, idPrefix: randomHex(4)}
	if c.timeout < 0 {
		return nil, "", fmt.Errorf("agent: Timeout %v is negative: want a positive duration, or 0 for %v", opts.Timeout, DefaultTimeout)
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if c.maxBody < 0 {
		return nil, "", fmt.Errorf("agent: MaxBodyBytes %d is negative: want a positive size, or 0 for %d", opts.MaxBodyBytes, DefaultMaxBodyBytes)
	}
	if c.maxBody == 0 {
		c.maxBody = DefaultMaxBodyBytes
	}
	maxConns := opts.MaxConns
	if maxConns < 0 {
		return nil, "", fmt.Errorf("agent: MaxConns %d is negative: want a positive pool size, or 0 for %d", opts.MaxConns, DefaultMaxConns)
	}
	if maxConns == 0 {
		maxConns = DefaultMaxConns
	}
	if opts.APIKey != "" && !validHeaderValue(opts.APIKey) {
		return nil, "", errors.New("agent: APIKey contains white space, a control or a non-ASCII character, which cannot be sent in an HTTP header")
	}
	if err := c.setAuth(opts); err != nil {
		return nil, "", err
	}
	ua := opts.UserAgent
	if ua == "" {
		ua = DefaultUserAgent
	}
	if !validHeaderValue(strings.ReplaceAll(ua, " ", "-")) {
		return nil, "", fmt.Errorf("agent: UserAgent %q contains a control or non-ASCII character", ua)
	}
	c.ua = []string{ua}
	tlsConf, err := tlsConfig(opts)
	if err != nil {
		return nil, "", err
	}
	if opts.Debug != nil {
		c.debug = &debugLog{w: opts.Debug}
	}

	c.transport = &http.Transport{
		// HTTPS_PROXY, HTTP_PROXY and NO_PROXY are honoured; Go never
		// proxies requests to loopback hosts, whatever they say.
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   c.timeout,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		TLSClientConfig:     tlsConf,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        max(maxConns, DefaultMaxConns),
		MaxIdleConnsPerHost: maxConns,
		// Without a cap, net/http dials a new connection whenever a call
		// starts before the previous call's connection is back in the
		// pool: a closed-model run then opens more connections than it
		// has conversations in flight.
		MaxConnsPerHost:       maxConns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
	}
	c.hdrBody, c.hdrNoBody = c.headerTemplate(true), c.headerTemplate(false)
	c.client = &http.Client{
		Transport: c.transport,
		// Redirects are answered, not followed: following one would resend
		// the key to wherever it points.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c, base, nil
}

// setAuth decides where the key goes (Options.Auth, Header, QueryParam).
func (c *core) setAuth(opts Options) error {
	mode := strings.ToLower(opts.Auth)
	if mode == "" {
		mode = "bearer"
		switch {
		case opts.Header == "" || strings.EqualFold(opts.Header, "Authorization"):
		case strings.EqualFold(opts.Header, "X-API-Key"):
			mode = "header"
		default:
			return fmt.Errorf("agent: Header %q: want \"\" or \"Authorization\" (Bearer) or \"X-API-Key\", or set Auth to \"header\" to send the key in another header", opts.Header)
		}
	}
	switch mode {
	case "none":
		if opts.APIKey != "" {
			return errors.New(`agent: Auth "none" sends no credentials, but an APIKey is set: leave it empty, or choose bearer, header or query`)
		}
	case "bearer":
		if opts.Header != "" && !strings.EqualFold(opts.Header, "Authorization") {
			return fmt.Errorf("agent: Auth %q with Header %q: bearer auth uses the Authorization header; set Auth to \"header\" to use another", opts.Auth, opts.Header)
		}
		c.authName, c.authVal = "Authorization", []string{"Bearer " + opts.APIKey}
	case "header":
		name := opts.Header
		if name == "" {
			name = "X-API-Key"
		}
		if !validHeaderName(name) {
			return fmt.Errorf("agent: Header %q is not a valid HTTP header name", name)
		}
		c.authName, c.authVal = http.CanonicalHeaderKey(name), []string{opts.APIKey}
	case "query":
		if opts.Header != "" {
			return fmt.Errorf("agent: Header %q is set but Auth is \"query\": the key goes in the query parameter %q, not a header", opts.Header, cmpOr(opts.QueryParam, DefaultQueryParam))
		}
		c.queryName = cmpOr(opts.QueryParam, DefaultQueryParam)
		if !validHeaderValue(c.queryName) || strings.ContainsAny(c.queryName, "&=?#") {
			return fmt.Errorf("agent: QueryParam %q: want a plain parameter name such as %q", c.queryName, DefaultQueryParam)
		}
		c.queryVal = url.QueryEscape(opts.APIKey)
	default:
		return fmt.Errorf("agent: Auth %q: want \"bearer\" (the default), \"header\", \"query\" or \"none\" (no credentials)", opts.Auth)
	}
	if opts.QueryParam != "" && mode != "query" {
		return fmt.Errorf("agent: QueryParam %q is set but Auth is %q: set Auth to \"query\" to send the key in the query", opts.QueryParam, mode)
	}
	if opts.APIKey == "" {
		c.authName, c.authVal, c.queryName, c.queryVal = "", nil, "", ""
		return nil
	}
	c.secrets.Add(opts.APIKey) // and its query-escaped form
	return nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// tlsConfig builds the TLS settings: Options.TLSConfig (cloned) or the
// defaults, TLS 1.2 at least, and the CA certificates of CACertFile added to
// the system roots.
func tlsConfig(opts Options) (*tls.Config, error) {
	var conf *tls.Config
	if opts.TLSConfig != nil {
		conf = opts.TLSConfig.Clone()
	} else {
		conf = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if opts.CACertFile == "" {
		return conf, nil
	}
	pem, err := os.ReadFile(opts.CACertFile)
	if err != nil {
		return nil, fmt.Errorf("agent: CACertFile: %w", err)
	}
	pool := conf.RootCAs
	if pool != nil {
		pool = pool.Clone()
	} else if pool, err = x509.SystemCertPool(); err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("agent: CACertFile %q holds no PEM certificate (want -----BEGIN CERTIFICATE----- blocks)", opts.CACertFile)
	}
	conf.RootCAs = pool
	return conf, nil
}

// checkBaseURL validates a base URL and returns it without a trailing slash.
func checkBaseURL(raw string, allowInsecure bool) (string, error) {
	if raw == "" {
		return "", errors.New("agent: BaseURL is empty: want an http(s) URL such as https://api.optimly.io")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("agent: BaseURL: %w", err)
	}
	shown := u.Redacted()
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("agent: BaseURL %q: scheme must be http or https", shown)
	case u.Host == "" || u.Hostname() == "":
		return "", fmt.Errorf("agent: BaseURL %q has no host", shown)
	case u.User != nil:
		return "", fmt.Errorf("agent: BaseURL %q carries credentials: pass the key as APIKey instead", shown)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", fmt.Errorf("agent: BaseURL %q: a query or fragment is not allowed (a path prefix is)", RedactURL(raw))
	case u.Scheme == "http" && !allowInsecure && !netaddr.IsLoopbackHost(u.Hostname()):
		return "", fmt.Errorf("agent: BaseURL %q: plain http:// to a non-loopback host would send the key unencrypted; use https:// or allow insecure HTTP explicitly", shown)
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"), nil
}

// validHeaderValue reports whether s is printable ASCII without spaces.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// validHeaderName reports whether s is an HTTP token (RFC 9110 §5.6.2).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// Close releases the pool's idle connections. Calls in flight finish
// normally; the transport stays usable (new calls open new connections).
func (c *core) Close() {
	c.transport.CloseIdleConnections()
}

// redact hides every secret of the transport in s.
func (c *core) redact(s string) string { return c.secrets.String(s) }

// request is one HTTP call a transport wants made.
type request struct {
	op, method, url string
	body            []byte
	limit           int64       // body cap of a 2xx answer
	traceID         string      // the chat's trace id; "" or malformed starts a new trace
	header          http.Header // extra headers, may be nil
	accept          string      // default application/json
	// parsed is url with the query key, parsed once by target (optional:
	// nil parses url for this call). It is shared by concurrent calls and
	// never modified.
	parsed *url.URL
}

// target parses a fixed request URL once, with the key of query auth,
// for request.parsed. It returns nil when raw does not parse as a request
// URL; the call then parses it itself and reports the error.
func (c *core) target(raw string) *url.URL {
	u, err := url.Parse(c.withQueryKey(raw))
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil
	}
	return u
}

// withQueryKey adds the key's query parameter to target under query auth.
func (c *core) withQueryKey(target string) string {
	if c.queryName == "" {
		return target
	}
	sep := "?"
	if strings.Contains(target, "?") {
		sep = "&"
	}
	return target + sep + c.queryName + "=" + c.queryVal
}

// meta identifies an attempt for the server's logs.
type meta struct {
	requestID, traceID string
}

// ids returns the attempt's meta and its traceparent header value
// ("00-" trace id "-" a new span id "-01"). Both strings share one
// allocation.
func (c *core) ids(req *request) (meta, string) {
	m := meta{traceID: req.traceID}
	if !validTraceID(m.traceID) {
		m.traceID = newTraceID()
	}
	var buf [128]byte // prefix (8) + '-' + counter (≤ 20) + traceparent (55)
	b := append(buf[:0], c.idPrefix...)
	b = append(b, '-')
	b = strconv.AppendUint(b, c.seq.Add(1), 10)
	n := len(b)
	b = append(b, "00-"...)
	b = append(b, m.traceID...)
	b = append(b, '-')
	b = appendSpanID(b)
	b = append(b, "-01"...)
	all := string(b)
	m.requestID = all[:n]
	return m, all[n:]
}

// appendSpanID appends a W3C parent id: 16 hex digits of a random, non-zero
// 64-bit number. The span ids come from math/rand/v2's generator (ChaCha8,
// seeded by the runtime from the operating system): they only need to be
// unique within a trace, and unlike crypto/rand it costs no allocation.
func appendSpanID(b []byte) []byte {
	v := rand.Uint64()
	for v == 0 {
		v = rand.Uint64()
	}
	var raw [8]byte
	binary.BigEndian.PutUint64(raw[:], v)
	return hex.AppendEncode(b, raw[:])
}

// headerTemplate is the header map of a request without extra headers and
// with the default Accept, cloned for each call (maps.Clone copies a small
// map in one piece instead of hashing every key again).
func (c *core) headerTemplate(withBody bool) http.Header {
	return c.baseHeader(nil, "", withBody)
}

// baseHeader builds the headers of a request but its per-attempt ids: the
// extra headers, Accept (default application/json), User-Agent,
// Content-Type for a body (unless an extra header sets it) and the key,
// later ones winning. X-Request-ID and traceparent are present with nil
// values, so that setting them does not grow the map.
func (c *core) baseHeader(extra http.Header, accept string, withBody bool) http.Header {
	h := make(http.Header, 8+len(extra))
	for k, v := range extra {
		h[k] = v
	}
	if accept != "" {
		h["Accept"] = []string{accept}
	} else {
		h["Accept"] = jsonType
	}
	h["User-Agent"] = c.ua
	if withBody && h["Content-Type"] == nil {
		h["Content-Type"] = jsonType
	}
	if c.authVal != nil {
		h[c.authName] = c.authVal
	}
	h["X-Request-Id"] = nil
	h["Traceparent"] = nil
	return h
}

// header builds the headers of one attempt (see baseHeader), with its
// X-Request-ID and traceparent.
func (c *core) header(req *request, requestID, traceparent string) http.Header {
	var h http.Header
	switch {
	case req.header != nil || req.accept != "":
		h = c.baseHeader(req.header, req.accept, req.body != nil)
	case req.body != nil:
		h = maps.Clone(c.hdrBody)
	default:
		h = maps.Clone(c.hdrNoBody)
	}
	vals := []string{requestID, traceparent}
	h["X-Request-Id"] = vals[0:1:1]
	h["Traceparent"] = vals[1:2:2]
	return h
}

// open sends req and returns the response of a 2xx answer, its body still
// to read within the returned context (cancel releases it). Anything else
// comes back as a classified *Error, its body read and closed.
//
// The request goes to the Transport's RoundTrip directly, not through an
// http.Client: the client would only clone the headers for redirects that
// are never followed (a 3xx is answered, not followed: following one would
// resend the key to wherever it points) and wrap errors in *url.Error,
// which clientError does here the same way.
func (c *core) open(ctx context.Context, req *request) (*http.Response, context.Context, context.CancelFunc, meta, *Error) {
	m, traceparent := c.ids(req)
	cctx, cancel := context.WithTimeoutCause(ctx, c.timeout, errCallTimeout)
	st := getSendTrace(ctx)
	tctx := httptrace.WithClientTrace(cctx, &st.trace)
	var hreq *http.Request
	if u := req.parsed; u != nil && validMethod(req.method) {
		// What http.NewRequestWithContext builds, without parsing the URL
		// again for every call.
		hreq = (&http.Request{Method: req.method, URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Host: u.Host}).WithContext(tctx)
	} else {
		var err error
		hreq, err = http.NewRequestWithContext(tctx, req.method, c.withQueryKey(req.url), nil)
		if err != nil {
			st.release()
			cancel()
			return nil, nil, nil, m, &Error{Op: req.op, Kind: KindTransport, Err: c.safeErr(err), RequestID: m.requestID}
		}
	}
	if req.body != nil {
		// As http.NewRequest does for a *bytes.Reader: a known length, and
		// GetBody, so that net/http may send it again on a fresh connection
		// when not a byte of it reached a reused one (and only then).
		body := req.body
		hreq.ContentLength = int64(len(body))
		hreq.Body = io.NopCloser(bytes.NewReader(body))
		hreq.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		if len(body) == 0 {
			hreq.Body, hreq.GetBody = http.NoBody, func() (io.ReadCloser, error) { return http.NoBody, nil }
		}
	} else {
		// net/http silently resends a bodiless GET when a reused
		// connection closes before the answer: a second agent call that
		// the budget never charged. It never replays a request whose body
		// it cannot rewind (http.Transport's documented rule), so an empty
		// body without GetBody makes each attempt go out once; the runner
		// retries, charged. Nothing is sent on the wire for it.
		hreq.Body = io.NopCloser(strings.NewReader(""))
	}
	hreq.Header = c.header(req, m.requestID, traceparent)
	var start time.Time
	if c.debug != nil {
		start = time.Now()
		c.debug.request(c, hreq, req.body)
	}

	resp, err := c.transport.RoundTrip(hreq)
	if err != nil {
		e := c.callError(ctx, cctx, req.op, 0, "", clientError(hreq, err))
		e.RequestID = m.requestID
		e.Unsent = !st.wrote.Load()
		// st is not put back: a write still under way may yet report to it.
		c.debug.failure(c, m.requestID, e)
		cancel()
		return nil, nil, nil, m, e
	}
	if st.wrote.Load() {
		// The request was written and answered: no hook of this attempt
		// can fire again, so its trace may serve the next one.
		st.release()
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if c.debug != nil {
			c.debug.response(c, m.requestID, resp, time.Since(start), nil)
		}
		return resp, cctx, cancel, m, nil
	}
	defer cancel()
	defer resp.Body.Close()
	data, rerr := readBody(resp.Body, resp.ContentLength, maxErrorBody)
	if rerr != nil && rerr != errTooLarge {
		e := c.callError(ctx, cctx, req.op, resp.StatusCode, "reading the response body", rerr)
		e.RequestID = m.requestID
		return nil, nil, nil, m, e
	}
	if c.debug != nil {
		c.debug.response(c, m.requestID, resp, time.Since(start), data)
	}
	e := c.statusError(req.op, resp.StatusCode, resp.Header, data)
	e.RequestID = m.requestID
	return nil, nil, nil, m, e
}

// validMethod reports whether m is one of the methods the transports use
// (anything else takes http.NewRequestWithContext's own check).
func validMethod(m string) bool {
	return m == http.MethodPost || m == http.MethodGet
}

// clientError gives a Transport error the form http.Client.Do gives it — a
// *url.Error naming the method and URL, and http.ErrSchemeMismatch for an
// HTTP answer to a TLS handshake — so that messages and classification are
// the same as through a Client.
func clientError(req *http.Request, err error) error {
	if tlsErr, ok := err.(tls.RecordHeaderError); ok && string(tlsErr.RecordHeader[:]) == "HTTP/" {
		err = http.ErrSchemeMismatch
	}
	op := req.Method
	if op == "" {
		op = http.MethodGet
	}
	return &url.Error{Op: op[:1] + strings.ToLower(op[1:]), URL: req.URL.String(), Err: err}
}

// sendTrace tells whether a request went out: its WroteHeaders hook runs
// once net/http has written the request's headers (on HTTP/1 into the
// connection's buffer, so a request it reports as written may still have
// failed before a byte left: the error is then on the safe side). net/http
// itself re-sends a request on a fresh connection only when nothing of it
// was written to a reused one; those attempts never reached the server.
//
// sendTraces keeps them for reuse: the trace's fields never change after
// newSendTrace, and one goes back to the pool only once its request was
// written and answered, when none of its hooks can fire any more. A call
// whose context already carries a ClientTrace (a library user's own) gets a
// fresh one instead: httptrace.WithClientTrace composes the user's hooks
// into it, which must not outlive that call.
type sendTrace struct {
	wrote  atomic.Bool
	pooled bool
	trace  httptrace.ClientTrace
}

var sendTraces = sync.Pool{New: func() any { s := newSendTrace(); s.pooled = true; return s }}

// getSendTrace returns a trace for one attempt under ctx, not yet written.
func getSendTrace(ctx context.Context) *sendTrace {
	if httptrace.ContextClientTrace(ctx) != nil {
		return newSendTrace()
	}
	s := sendTraces.Get().(*sendTrace)
	s.wrote.Store(false)
	return s
}

// release gives a pooled trace back; call it only when none of its hooks
// can fire any more.
func (s *sendTrace) release() {
	if s.pooled {
		sendTraces.Put(s)
	}
}

func newSendTrace() *sendTrace {
	s := &sendTrace{}
	s.trace.WroteHeaders = func() { s.wrote.Store(true) }
	return s
}

// roundTrip sends req and returns the body (read up to req.limit bytes),
// status and headers of a 2xx answer. Anything else comes back as a
// classified *Error. The whole call, body included, is bounded by the
// per-call timeout.
func (c *core) roundTrip(ctx context.Context, req *request) ([]byte, int, http.Header, meta, *Error) {
	resp, cctx, cancel, m, e := c.open(ctx, req)
	if e != nil {
		return nil, 0, nil, m, e
	}
	defer cancel()
	defer resp.Body.Close()
	limit := req.limit
	if limit <= 0 {
		limit = c.maxBody
	}
	data, err := readBody(resp.Body, resp.ContentLength, limit)
	if err == errTooLarge {
		return nil, 0, nil, m, &Error{Op: req.op, Kind: KindProtocol, Status: resp.StatusCode,
			Detail: fmt.Sprintf("response body exceeds %d bytes", limit), RequestID: m.requestID}
	}
	if err != nil {
		e := c.callError(ctx, cctx, req.op, resp.StatusCode, "reading the response body", err)
		e.RequestID = m.requestID
		return nil, 0, nil, m, e
	}
	c.debug.body(c, m.requestID, data)
	return data, resp.StatusCode, resp.Header, m, nil
}

// callError classifies a failure to get a complete answer: the caller's
// context ending (KindCanceled), the per-call timeout (KindTimeout), or a
// transport failure (KindTransport).
func (c *core) callError(ctx, cctx context.Context, op string, status int, detail string, err error) *Error {
	return c.failure(ctx, ctx.Err(), cctx.Err() != nil, op, status, detail, err)
}

// failure builds the Error of a failed exchange: canceled when the
// caller's context ended (ctxErr, with ctx's cause), a timeout when the
// per-call timeout passed (timedOut) or the network said so, a transport
// failure otherwise.
func (c *core) failure(ctx context.Context, ctxErr error, timedOut bool, op string, status int, detail string, err error) *Error {
	e := &Error{Op: op, Status: status, Detail: detail}
	switch {
	case ctxErr != nil:
		e.Kind = KindCanceled
		if cause := context.Cause(ctx); cause != nil && cause != ctxErr {
			e.Err = fmt.Errorf("%w: %w", ctxErr, cause)
		} else {
			e.Err = ctxErr
		}
	case timedOut:
		e.Kind = KindTimeout
		e.Err = fmt.Errorf("no complete response within %v: %w", c.timeout, context.DeadlineExceeded)
	default:
		e.Kind = KindTransport
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			e.Kind = KindTimeout
		}
		e.Err = c.safeErr(err)
	}
	return e
}

// protocolError reports a 2xx body that is not what the API documents. An
// envelope with "success": false is classified by its message instead (a
// quota message means KindQuotaExhausted).
func (c *core) protocolError(op string, status int, body []byte, err error) *Error {
	e := &Error{Op: op, Kind: KindProtocol, Status: status}
	var fb *failureBody
	if errors.As(err, &fb) {
		if mentionsQuota(fb.msg) {
			e.Kind = KindQuotaExhausted
		}
		e.Detail = c.detail("server reported failure: " + fb.msg)
		return e
	}
	d := err.Error()
	if snip := shorten(c.redact(string(body)), 80); snip != "" {
		d += "; body starts: " + snip
	}
	e.Detail = c.detail(d)
	return e
}

// safeErr hides the secrets should an underlying error ever mention them
// (net/http errors quote the URL, which carries a query key).
func (c *core) safeErr(err error) error {
	msg := err.Error()
	if red := redactQueryParams(c.redact(msg)); red != msg {
		return &redactedError{msg: red, err: err}
	}
	return err
}

// redactedError shows a redacted message but keeps the chain for errors.Is.
type redactedError struct {
	msg string
	err error
}

func (r *redactedError) Error() string { return r.msg }
func (r *redactedError) Unwrap() error { return r.err }

// readBody reads r to the end, at most limit bytes. A body longer than
// limit (by Content-Length, or as read) gives errTooLarge. The buffer is
// sized from Content-Length when known, so a typical reply is one
// allocation.
func readBody(r io.Reader, contentLength, limit int64) ([]byte, error) {
	if contentLength > limit {
		return nil, errTooLarge
	}
	size := int64(512)
	if contentLength >= 0 {
		size = contentLength + 1 // room to see EOF without growing
	}
	buf := make([]byte, 0, min(size, limit+1))
	lr := io.LimitedReader{R: r, N: limit + 1}
	for {
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return buf, err
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
	}
	if int64(len(buf)) > limit {
		return buf[:limit], errTooLarge
	}
	return buf, nil
}
