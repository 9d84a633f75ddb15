package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Optimly is a Conn to an agent on the Optimly external API (DESIGN §1):
// new chats via POST /external/message/new-chat, messages via
// POST /external/agent/v2 (or the legacy /external/agent with APIVersion 1),
// health via GET /health. It accepts both documented response shapes (fields
// at the top level, or a {"success": true, "data": {...}} envelope) and
// returns every failure as an *Error classified by Kind.
//
// An Optimly keeps a pool of keep-alive connections sized by
// Options.MaxConns and is safe for concurrent use. Call Close when done to
// release idle connections.
type Optimly struct {
	client     *http.Client
	transport  *http.Transport
	key        string // for redaction only
	apiVersion int
	timeout    time.Duration
	maxBody    int64

	newChatURL, sendURL, healthURL string

	// Header values, built once and shared read-only by every request.
	authName string
	authVal  []string
	ua       []string
}

var _ Conn = (*Optimly)(nil)

// Defaults for zero Options fields.
const (
	DefaultTimeout      = 30 * time.Second
	DefaultMaxConns     = 100
	DefaultMaxBodyBytes = 4 << 20
	DefaultUserAgent    = "evalrun"
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

// NewOptimly checks opts and returns a transport for the Optimly API at
// opts.BaseURL, which may carry a path prefix (https://host/prefix). It
// makes no connection. It refuses a BaseURL that is not http(s), carries
// credentials, a query or a fragment, and plain http:// to a host that is not
// loopback unless opts.AllowInsecureHTTP is set.
func NewOptimly(opts Options) (*Optimly, error) {
	base, err := checkBaseURL(opts.BaseURL, opts.AllowInsecureHTTP)
	if err != nil {
		return nil, err
	}
	o := &Optimly{
		key:        opts.APIKey,
		apiVersion: opts.APIVersion,
		timeout:    opts.Timeout,
		maxBody:    opts.MaxBodyBytes,
		newChatURL: base + "/external/message/new-chat",
		sendURL:    base + "/external/agent/v2",
		healthURL:  base + "/health",
	}
	switch opts.APIVersion {
	case 0:
		o.apiVersion = 2
	case 1:
		o.sendURL = base + "/external/agent"
	case 2:
	default:
		return nil, fmt.Errorf("agent: APIVersion %d: want 1 (legacy /external/agent) or 2 (/external/agent/v2, the default)", opts.APIVersion)
	}
	if o.timeout < 0 {
		return nil, fmt.Errorf("agent: Timeout %v is negative: want a positive duration, or 0 for %v", opts.Timeout, DefaultTimeout)
	}
	if o.timeout == 0 {
		o.timeout = DefaultTimeout
	}
	if o.maxBody < 0 {
		return nil, fmt.Errorf("agent: MaxBodyBytes %d is negative: want a positive size, or 0 for %d", opts.MaxBodyBytes, DefaultMaxBodyBytes)
	}
	if o.maxBody == 0 {
		o.maxBody = DefaultMaxBodyBytes
	}
	maxConns := opts.MaxConns
	if maxConns < 0 {
		return nil, fmt.Errorf("agent: MaxConns %d is negative: want a positive pool size, or 0 for %d", opts.MaxConns, DefaultMaxConns)
	}
	if maxConns == 0 {
		maxConns = DefaultMaxConns
	}
	if opts.APIKey != "" && !validHeaderValue(opts.APIKey) {
		return nil, errors.New("agent: APIKey contains white space, a control or a non-ASCII character, which cannot be sent in an HTTP header")
	}
	switch {
	case opts.Header == "" || strings.EqualFold(opts.Header, "Authorization"):
		o.authName, o.authVal = "Authorization", []string{"Bearer " + opts.APIKey}
	case strings.EqualFold(opts.Header, "X-API-Key"):
		o.authName, o.authVal = "X-Api-Key", []string{opts.APIKey}
	default:
		return nil, fmt.Errorf("agent: Header %q: want \"\" or \"Authorization\" (Bearer) or \"X-API-Key\"", opts.Header)
	}
	if opts.APIKey == "" {
		o.authVal = nil
	}
	ua := opts.UserAgent
	if ua == "" {
		ua = DefaultUserAgent
	}
	if !validHeaderValue(strings.ReplaceAll(ua, " ", "-")) {
		return nil, fmt.Errorf("agent: UserAgent %q contains a control or non-ASCII character", ua)
	}
	o.ua = []string{ua}

	o.transport = &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   o.timeout,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          max(maxConns, DefaultMaxConns),
		MaxIdleConnsPerHost:   maxConns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
	}
	if opts.TLSConfig != nil {
		o.transport.TLSClientConfig = opts.TLSConfig.Clone()
	}
	o.client = &http.Client{
		Transport: o.transport,
		// Redirects are answered, not followed: following one would resend
		// the key to wherever it points.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return o, nil
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
		return "", fmt.Errorf("agent: BaseURL %q: a query or fragment is not allowed (a path prefix is)", shown)
	case u.Scheme == "http" && !allowInsecure && !isLoopback(u.Hostname()):
		return "", fmt.Errorf("agent: BaseURL %q: plain http:// to a non-loopback host would send the key unencrypted; use https:// or allow insecure HTTP explicitly", shown)
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"), nil
}

// isLoopback reports whether host names this machine: localhost, a
// *.localhost name, or a loopback IP address.
func isLoopback(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
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

// Close releases the pool's idle connections. Calls in flight finish
// normally; the Optimly stays usable (new calls open new connections).
func (o *Optimly) Close() { o.transport.CloseIdleConnections() }

// NewChat opens a chat with POST /external/message/new-chat. The answer must
// carry a non-empty chat_id; otherwise the error is KindProtocol.
func (o *Optimly) NewChat(ctx context.Context, req NewChatRequest) (Chat, error) {
	const op = "new-chat"
	body, err := newChatBody(req)
	if err != nil {
		return Chat{}, &Error{Op: op, Kind: KindClient, Detail: "metadata cannot be encoded as JSON", Err: err}
	}
	data, status, e := o.roundTrip(ctx, op, http.MethodPost, o.newChatURL, body, o.maxBody)
	if e != nil {
		return Chat{}, e
	}
	chat, err := decodeChat(data)
	if err != nil {
		return Chat{}, o.protocolError(op, status, data, err)
	}
	return chat, nil
}

// Send posts one message to /external/agent/v2 (with metadata client_id,
// session_id and source) or, with APIVersion 1, to /external/agent (chat_id
// and content only). The answer must carry a string "response"; otherwise
// the error is KindProtocol.
func (o *Optimly) Send(ctx context.Context, chat Chat, msg Message) (Reply, error) {
	const op = "send"
	if chat.ID == "" {
		return Reply{}, &Error{Op: op, Kind: KindClient, Detail: "chat has no ID (open it with NewChat first)"}
	}
	data, status, e := o.roundTrip(ctx, op, http.MethodPost, o.sendURL, sendBody(chat.ID, msg, o.apiVersion), o.maxBody)
	if e != nil {
		return Reply{}, e
	}
	r, err := decodeReply(data)
	if err != nil {
		return Reply{}, o.protocolError(op, status, data, err)
	}
	return r, nil
}

// Health checks GET /health: any 2xx means up. It is not an agent call.
func (o *Optimly) Health(ctx context.Context) error {
	_, _, e := o.roundTrip(ctx, "health", http.MethodGet, o.healthURL, nil, maxErrorBody)
	if e != nil {
		return e
	}
	return nil
}

// protocolError reports a 2xx body that is not what the API documents. An
// envelope with "success": false is classified by its message instead (a
// quota message means KindQuotaExhausted).
func (o *Optimly) protocolError(op string, status int, body []byte, err error) *Error {
	e := &Error{Op: op, Kind: KindProtocol, Status: status}
	var fb *failureBody
	if errors.As(err, &fb) {
		if mentionsQuota(fb.msg) {
			e.Kind = KindQuotaExhausted
		}
		e.Detail = o.detail("server reported failure: " + fb.msg)
		return e
	}
	d := err.Error()
	if snip := shorten(Redact(string(body), o.key), 80); snip != "" {
		d += "; body starts: " + snip
	}
	e.Detail = o.detail(d)
	return e
}

// roundTrip sends one request and returns the body and status of a 2xx
// answer (the body read up to limit bytes). Anything else comes back as a classified *Error. The
// whole call, body included, is bounded by the per-call timeout.
func (o *Optimly) roundTrip(ctx context.Context, op, method, target string, body []byte, limit int64) ([]byte, int, *Error) {
	cctx, cancel := context.WithTimeoutCause(ctx, o.timeout, errCallTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(cctx, method, target, rd)
	if err != nil {
		return nil, 0, &Error{Op: op, Kind: KindTransport, Err: o.safeErr(err)}
	}
	h := make(http.Header, 5)
	h["Accept"] = jsonType
	h["User-Agent"] = o.ua
	if body != nil {
		h["Content-Type"] = jsonType
	}
	if o.authVal != nil {
		h[o.authName] = o.authVal
	}
	req.Header = h

	resp, err := o.client.Do(req)
	if err != nil {
		return nil, 0, o.callError(ctx, cctx, op, 0, "", err)
	}
	defer resp.Body.Close()
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	if !ok {
		limit = min(limit, maxErrorBody)
	}
	data, err := readBody(resp.Body, resp.ContentLength, limit)
	if err == errTooLarge {
		if ok {
			return nil, 0, &Error{Op: op, Kind: KindProtocol, Status: resp.StatusCode,
				Detail: fmt.Sprintf("response body exceeds %d bytes", limit)}
		}
		err = nil // an error page is classified by its first bytes
	}
	if err != nil {
		return nil, 0, o.callError(ctx, cctx, op, resp.StatusCode, "reading the response body", err)
	}
	if ok {
		return data, resp.StatusCode, nil
	}
	return nil, 0, o.statusError(op, resp.StatusCode, resp.Header, data)
}

// callError classifies a failure to get a complete answer: the caller's
// context ending (KindCanceled), the per-call timeout (KindTimeout), or a
// transport failure (KindTransport).
func (o *Optimly) callError(ctx, cctx context.Context, op string, status int, detail string, err error) *Error {
	e := &Error{Op: op, Status: status, Detail: detail}
	switch {
	case ctx.Err() != nil:
		e.Kind = KindCanceled
		if cause := context.Cause(ctx); cause != nil && cause != ctx.Err() {
			e.Err = fmt.Errorf("%w: %w", ctx.Err(), cause)
		} else {
			e.Err = ctx.Err()
		}
	case cctx.Err() != nil:
		e.Kind = KindTimeout
		e.Err = fmt.Errorf("no complete response within %v: %w", o.timeout, context.DeadlineExceeded)
	default:
		e.Kind = KindTransport
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			e.Kind = KindTimeout
		}
		e.Err = o.safeErr(err)
	}
	return e
}

// safeErr hides the key should an underlying error ever mention it.
func (o *Optimly) safeErr(err error) error {
	if o.key != "" && strings.Contains(err.Error(), o.key) {
		return &redactedError{msg: Redact(err.Error(), o.key), err: err}
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
