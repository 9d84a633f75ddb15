package agent

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// h1Client is the transports' own HTTP/1.1 client for plain http:// agents
// that no proxy applies to (an agent on loopback or the local network, the
// simulated agent): the load-test hot path. It sends exactly what net/http
// would for the same request, minus Accept-Encoding (net/http asks for gzip
// and decompresses it; on a plain-http link compression costs more than it
// saves), and reads the answer with the same limits and error classes.
//
// It differs from http.Transport in how, not what: the calling goroutine
// writes the request (one write) and reads the answer itself on a
// connection it takes from an idle pool, so there is no hand-off to a
// connection's read and write goroutines (net/http keeps two per
// connection, parked even while the connection idles), no per-call
// context.WithTimeout and its timer (a connection deadline does the job),
// and an idle connection costs only its 4 KB read buffer. Like net/http for
// a POST, it never sends an attempt twice: a request is resent only when not
// a byte of it was written (a pooled connection the server had closed).
//
// https targets, proxied targets and debug logging use net/http.
type h1Client struct {
	origin  string // "http://host[:port]", the prefix of every URL it serves
	addr    string // host:port to dial
	host    string // the Host header
	dialer  net.Dialer
	maxIdle int

	mu   sync.Mutex
	idle []*h1Conn // most recently used last
}

// h1Conn is one keep-alive connection.
type h1Conn struct {
	nc    net.Conn
	br    *bufio.Reader
	lr    io.LimitedReader // the body being read
	buf   []byte           // the request being written, reused
	head  []byte           // the head of the answer being read, reused
	since time.Time        // when it went idle

	// The context whose end poisons the connection's deadline (so that a
	// blocked read or write returns): registered once and kept while calls
	// come with the same context (the runner passes one to all its calls),
	// instead of an AfterFunc per call.
	watched <-chan struct{}
	unwatch func() bool
}

// watch makes the end of ctx interrupt the connection's I/O. It reports
// false when the connection may still be interrupted by an earlier
// context whose end is being handled: the caller must not use it.
func (pc *h1Conn) watch(ctx context.Context) bool {
	done := ctx.Done()
	if done == pc.watched && done != nil {
		return true
	}
	if !pc.stopWatching() {
		return false
	}
	if done != nil {
		pc.watched = done
		pc.unwatch = context.AfterFunc(ctx, func() { _ = pc.nc.SetDeadline(aLongTimeAgo) })
	}
	return true
}

// stopWatching unregisters the context; false when its end already set off
// the interruption.
func (pc *h1Conn) stopWatching() bool {
	ok := true
	if pc.unwatch != nil {
		ok = pc.unwatch()
	}
	pc.watched, pc.unwatch = nil, nil
	return ok
}

// close closes the connection.
func (pc *h1Conn) close() {
	pc.stopWatching()
	_ = pc.nc.Close()
}

const (
	// h1IdleTimeout closes connections idle longer (http.Transport's
	// IdleConnTimeout in newCore).
	h1IdleTimeout = 90 * time.Second
	// h1ProbeAfter: a connection idle longer is checked for a close by the
	// server (one non-blocking read) before it is used again.
	h1ProbeAfter = 100 * time.Millisecond
)

// newH1Client returns the client for base (already checked by
// checkBaseURL), or nil when net/http must serve it: https, or a proxy from
// the environment applies to it.
func newH1Client(base string, timeout time.Duration, maxIdle int) *h1Client {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil
	}
	if p, err := http.ProxyFromEnvironment(&http.Request{URL: u}); err != nil || p != nil {
		return nil
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	return &h1Client{
		origin:  "http://" + u.Host,
		addr:    net.JoinHostPort(u.Hostname(), port),
		host:    u.Host,
		dialer:  net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second},
		maxIdle: maxIdle,
	}
}

// path returns the request target of url when the client serves it: the
// URL must be on its origin and hold only characters that net/http would
// send as they are.
func (h *h1Client) path(target string) (string, bool) {
	if h == nil || !strings.HasPrefix(target, h.origin) {
		return "", false
	}
	p := target[len(h.origin):]
	if p == "" {
		return "/", true
	}
	if p[0] != '/' {
		return "", false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~/%?&=+:@!$'()*,;", c) >= 0) {
			return "", false
		}
	}
	return p, true
}

// headersOK reports whether extra headers can go out as they are: valid
// names, values without CR, LF or NUL (net/http refuses those; it then
// handles the request and its error).
func headersOK(h http.Header) bool {
	for k, vs := range h {
		if !validHeaderName(k) {
			return false
		}
		for _, v := range vs {
			if strings.ContainsAny(v, "\r\n\x00") {
				return false
			}
		}
	}
	return true
}

// get returns an idle connection (true) or dials a new one (false).
func (h *h1Client) get(ctx context.Context, now time.Time) (*h1Conn, bool, error) {
	for {
		h.mu.Lock()
		n := len(h.idle)
		if n == 0 {
			h.mu.Unlock()
			break
		}
		pc := h.idle[n-1]
		h.idle[n-1] = nil
		h.idle = h.idle[:n-1]
		h.mu.Unlock()
		idle := now.Sub(pc.since)
		if idle > h1IdleTimeout || (idle > h1ProbeAfter && !pc.alive()) {
			pc.close()
			continue
		}
		return pc, true, nil
	}
	nc, err := h.dialer.DialContext(ctx, "tcp", h.addr)
	if err != nil {
		return nil, false, err
	}
	pc := &h1Conn{nc: nc, br: bufio.NewReaderSize(nc, 4096), buf: make([]byte, 0, 512)}
	return pc, false, nil
}

// put keeps a connection for reuse, or closes it when the pool is full.
// now is about the present (the call's start will do: it only decides
// when an idle connection is probed or dropped).
func (h *h1Client) put(pc *h1Conn, now time.Time) {
	pc.since = now
	h.mu.Lock()
	if len(h.idle) < h.maxIdle {
		h.idle = append(h.idle, pc)
		h.mu.Unlock()
		return
	}
	h.mu.Unlock()
	pc.close()
}

// closeIdle closes the idle connections; the client stays usable.
func (h *h1Client) closeIdle() {
	if h == nil {
		return
	}
	h.mu.Lock()
	idle := h.idle
	h.idle = nil
	h.mu.Unlock()
	for _, pc := range idle {
		pc.close()
	}
}

// alive reports whether an idle connection is still open and has nothing
// unread: a non-blocking peek that finds neither data nor end of stream.
func (pc *h1Conn) alive() bool {
	if pc.br.Buffered() > 0 {
		return false
	}
	sc, ok := pc.nc.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	ok = false
	var b [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		ok = n < 0 && (err == syscall.EAGAIN || err == syscall.EWOULDBLOCK)
		return true
	})
	return err == nil && ok
}

// aLongTimeAgo is a deadline in the past: setting it makes blocked reads
// and writes return at once.
var aLongTimeAgo = time.Unix(1, 0)

// h1Answer is what roundTrip returns.
type h1Answer struct {
	data   []byte
	status int
	header http.Header
}

// roundTripH1 makes the call of core.roundTrip on the h1 client; path is
// the request target (h1Client.path), m the call's ids.
func (c *core) roundTripH1(ctx context.Context, req *request, path string, m meta) (h1Answer, *Error) {
	start := time.Now()
	deadline := start.Add(c.timeout)
	if err := ctx.Err(); err != nil {
		return h1Answer{}, c.h1Error(ctx, deadline, req.op, 0, "", err)
	}
	limit := req.limit
	if limit <= 0 {
		limit = c.maxBody
	}
	for attempt := 0; ; attempt++ {
		pc, reused, err := c.h1.get(ctx, start)
		if err != nil {
			return h1Answer{}, c.h1Error(ctx, deadline, req.op, 0, "", err)
		}
		if !pc.watch(ctx) {
			pc.close()
			attempt-- // not an attempt: nothing was sent
			continue
		}
		dl := deadline
		if d, ok := ctx.Deadline(); ok && d.Before(dl) {
			dl = d
		}
		_ = pc.nc.SetDeadline(dl)
		if err := ctx.Err(); err != nil {
			// Ended before the deadline was set: the watch may have been
			// overridden.
			pc.close()
			return h1Answer{}, c.h1Error(ctx, deadline, req.op, 0, "", err)
		}
		ans, keep, written, e := c.exchange(ctx, pc, req, path, m, limit, deadline)
		canceled := ctx.Err() != nil
		if e == nil && keep && !canceled {
			c.h1.put(pc, start)
		} else {
			pc.close()
		}
		if e != nil && reused && written == 0 && attempt == 0 && !canceled && ctx.Err() == nil {
			// The server had closed the pooled connection: nothing was
			// sent, so sending on a new connection is no replay.
			continue
		}
		return ans, e
	}
}

// exchange writes the request on pc and reads the answer. keep reports
// whether pc can be reused; written how many request bytes went out.
func (c *core) exchange(ctx context.Context, pc *h1Conn, req *request, path string, m meta, limit int64, deadline time.Time) (ans h1Answer, keep bool, written int, e *Error) {
	b := pc.buf[:0]
	b = append(b, req.method...)
	b = append(b, ' ')
	b = append(b, path...)
	if c.queryName != "" {
		if strings.IndexByte(path, '?') >= 0 {
			b = append(b, '&')
		} else {
			b = append(b, '?')
		}
		b = append(b, c.queryName...)
		b = append(b, '=')
		b = append(b, c.queryVal...)
	}
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, c.h1.host...)
	b = append(b, "\r\nUser-Agent: "...)
	b = append(b, c.ua[0]...)
	b = append(b, "\r\nAccept: "...)
	if req.accept != "" {
		b = append(b, req.accept...)
	} else {
		b = append(b, jsonType[0]...)
	}
	if req.body != nil {
		b = append(b, "\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(req.body)), 10)
		if req.header["Content-Type"] == nil {
			b = append(b, "\r\nContent-Type: "...)
			b = append(b, jsonType[0]...)
		}
	}
	if c.authVal != nil {
		b = append(b, "\r\n"...)
		b = append(b, c.authName...)
		b = append(b, ": "...)
		b = append(b, c.authVal[0]...)
	}
	for k, vs := range req.header {
		if h1Skip(k) || k == c.authName && c.authVal != nil {
			continue // set above or below, as core.open's header map overrides them, or never sent by net/http
		}
		for _, v := range vs {
			b = append(b, "\r\n"...)
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
		}
	}
	b = append(b, "\r\nX-Request-Id: "...)
	b = append(b, m.requestID...)
	b = append(b, "\r\nTraceparent: 00-"...)
	b = append(b, m.traceID...)
	b = append(b, '-')
	b = appendSpanID(b)
	b = append(b, "-01\r\n\r\n"...)
	b = append(b, req.body...)
	pc.buf = b[:0]
	if cap(b) > 64<<10 {
		pc.buf = nil // do not keep a huge body's buffer
	}
	written, err := pc.nc.Write(b)
	if err != nil {
		return ans, false, written, c.h1Error(ctx, deadline, req.op, 0, "", err)
	}

	// The status line and headers; 1xx interim answers are skipped.
	var hd h1Head
	for {
		if err := pc.readHead(&hd, req.headers); err != nil {
			return ans, false, written, c.h1Error(ctx, deadline, req.op, 0, "", err)
		}
		if hd.status >= 200 || hd.status == 101 {
			break
		}
	}
	status := hd.status
	keep = hd.http11 && !hd.close
	ans.status, ans.header = status, hd.header

	// The body, as net/http would frame it.
	var body io.Reader
	length := int64(-1)
	chunked := false
	switch {
	case status == 204 || status == 304 || req.method == http.MethodHead:
		length = 0
	case hd.te != nil:
		if !bytes.EqualFold(hd.te, []byte("chunked")) {
			return ans, false, written, c.h1Error(ctx, deadline, req.op, 0, "", fmt.Errorf("unsupported transfer encoding %q", hd.te))
		}
		chunked = true
		body = httputil.NewChunkedReader(pc.br)
	case hd.cl != nil:
		n, err := parseLength(hd.cl)
		if err != nil || n < 0 {
			return ans, false, written, c.h1Error(ctx, deadline, req.op, 0, "", fmt.Errorf("bad Content-Length %q", hd.cl))
		}
		length = n
	default:
		keep = false // the body ends when the server closes
		body = pc.br
	}
	if length >= 0 {
		pc.lr = io.LimitedReader{R: pc.br, N: length}
		body = &pc.lr
	}
	ok := status >= 200 && status < 300
	capBytes := limit
	if !ok {
		capBytes = maxErrorBody
	}
	data, rerr := readBody(body, length, capBytes)
	switch {
	case rerr == errTooLarge:
		keep = false
		if ok {
			return ans, false, written, &Error{Op: req.op, Kind: KindProtocol, Status: status,
				Detail: fmt.Sprintf("response body exceeds %d bytes", limit), RequestID: m.requestID}
		}
	case rerr != nil:
		return ans, false, written, c.h1Error(ctx, deadline, req.op, status, "reading the response body", rerr)
	case length >= 0 && int64(len(data)) < length:
		return ans, false, written, c.h1Error(ctx, deadline, req.op, status, "reading the response body", io.ErrUnexpectedEOF)
	case chunked:
		// The trailer, up to the blank line that ends the message.
		for {
			l, err := pc.line(pc.head[:0])
			if err != nil {
				keep = false
				break
			}
			if len(l) == 0 {
				break
			}
		}
	}
	if !ok {
		e := c.statusError(req.op, status, ans.header, data)
		e.RequestID = m.requestID
		return h1Answer{}, keep, written, e
	}
	ans.data = data
	return ans, keep, written, nil
}

// h1Head is the head of an answer: its status and what frames its body.
type h1Head struct {
	status int
	http11 bool   // HTTP/1.1 (keep-alive by default)
	close  bool   // Connection: close
	te, cl []byte // Transfer-Encoding and Content-Length, trimmed; valid until the next read
	// header holds every header when the caller asked for them or the
	// answer is not a 2xx; nil otherwise.
	header http.Header
}

// readHead reads a status line and its headers. The framing headers are
// read off the raw lines; the whole header is parsed (with net/textproto,
// as net/http does) only when all is set, the answer is not a 2xx, or a
// line is out of the ordinary (folded, malformed): parsing every header of
// every answer is a good part of a call's cost otherwise.
func (pc *h1Conn) readHead(hd *h1Head, all bool) error {
	*hd = h1Head{}
	block, err := pc.line(pc.head[:0])
	if err != nil {
		return err
	}
	status := block
	proto, rest, ok1 := bytes.Cut(status, []byte(" "))
	code, _, _ := bytes.Cut(rest, []byte(" "))
	if !ok1 || !bytes.HasPrefix(proto, []byte("HTTP/1.")) || len(code) != 3 || code[0] < '1' || code[0] > '9' ||
		code[1] < '0' || code[1] > '9' || code[2] < '0' || code[2] > '9' {
		return fmt.Errorf("malformed HTTP response %q", status)
	}
	hd.status = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	hd.http11 = string(proto) == "HTTP/1.1"
	plain := true
	for {
		prev := len(block)
		if block, err = pc.line(block); err != nil {
			return err
		}
		l := block[prev+1:] // after the separator
		if len(l) == 0 {
			break
		}
		name, val, ok := bytes.Cut(l, []byte(":"))
		if !ok || !tokenBytes(name) || !cleanValue(val) {
			plain = false // folded or malformed: net/textproto decides
			continue
		}
		val = bytes.TrimSpace(val)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if hd.cl != nil && !bytes.Equal(val, hd.cl) {
				plain = false
			}
			hd.cl = val
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			if hd.te != nil {
				plain = false
			}
			hd.te = val
		case bytes.EqualFold(name, []byte("Connection")):
			for f := range bytes.SplitSeq(val, []byte(",")) {
				if bytes.EqualFold(bytes.TrimSpace(f), []byte("close")) {
					hd.close = true
				}
			}
		}
	}
	pc.head = block[:0]
	if plain && !all && hd.status >= 200 && hd.status < 300 {
		return nil
	}
	// Parse the header lines again with net/textproto, each ended by CRLF.
	var raw []byte
	for l := range bytes.SplitSeq(block[len(status)+1:], []byte{0}) {
		raw = append(raw, l...)
		raw = append(raw, '\r', '\n')
	}
	mh, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw))).ReadMIMEHeader()
	if err != nil {
		return err
	}
	hd.header = http.Header(mh)
	hd.te, hd.cl, hd.close = nil, nil, tokenIn(mh["Connection"], "close")
	if te := mh["Transfer-Encoding"]; len(te) > 0 {
		if len(te) != 1 {
			return fmt.Errorf("unsupported transfer encoding %q", te)
		}
		hd.te = []byte(strings.TrimSpace(te[0]))
	}
	if cl := mh["Content-Length"]; len(cl) > 0 {
		hd.cl = []byte(strings.TrimSpace(cl[0]))
		for _, v := range cl[1:] {
			if strings.TrimSpace(v) != string(hd.cl) {
				return fmt.Errorf("bad Content-Length %q", cl)
			}
		}
	}
	return nil
}

// parseLength parses a Content-Length: decimal digits only.
func parseLength(b []byte) (int64, error) {
	if len(b) == 0 || len(b) > 18 {
		return 0, errors.New("bad length")
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, errors.New("bad length")
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}

// tokenBytes reports whether b is an HTTP token (a valid header name).
func tokenBytes(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// line appends the next line of the answer, without its CRLF or LF, and a
// NUL separator before it (a header value cannot hold NUL).
func (pc *h1Conn) line(dst []byte) ([]byte, error) {
	if len(dst) > 0 {
		dst = append(dst, 0)
	}
	for {
		frag, err := pc.br.ReadSlice('\n')
		dst = append(dst, frag...)
		if len(dst) > maxHeadBytes {
			return dst, errors.New("response headers too large")
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF && len(dst) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return dst, err
		}
		break
	}
	dst = dst[:len(dst)-1]
	if n := len(dst); n > 0 && dst[n-1] == '\r' {
		dst = dst[:n-1]
	}
	return dst, nil
}

// maxHeadBytes caps the status line and headers of an answer (net/http's
// default is 10 MB, far more than any agent sends).
const maxHeadBytes = 1 << 20

// cleanValue reports whether a header value has no control characters
// but tab.
func cleanValue(v []byte) bool {
	for _, c := range v {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// h1Skip reports whether an extra header is not sent as given: core.open
// sets these itself, and net/http writes Host, Content-Length,
// Transfer-Encoding and Trailer from the request, not the header map.
func h1Skip(k string) bool {
	switch k {
	case "Accept", "User-Agent", "Host", "Content-Length", "Transfer-Encoding", "Trailer", "X-Request-Id", "Traceparent":
		return true
	}
	return false
}

// tokenIn reports whether a comma-separated header holds token.
func tokenIn(vs []string, token string) bool {
	for _, v := range vs {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), token) {
				return true
			}
		}
	}
	return false
}

// h1Error classifies a failed exchange as callError does: the caller's
// context ending (KindCanceled), the per-call timeout (KindTimeout), or a
// transport failure (KindTransport).
func (c *core) h1Error(ctx context.Context, deadline time.Time, op string, status int, detail string, err error) *Error {
	now := time.Now()
	ctxErr := ctx.Err()
	if d, ok := ctx.Deadline(); ok && ctxErr == nil && !now.Before(d) && !d.After(deadline) {
		// The caller's deadline passed; its context may not know yet.
		ctxErr = context.DeadlineExceeded
	}
	return c.failure(ctx, ctxErr, !now.Before(deadline), op, status, detail, err)
}
