package agent

import (
	"bufio"
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
	tp    textproto.Reader
	buf   []byte    // the request being written, reused
	since time.Time // when it went idle
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
func (h *h1Client) get(ctx context.Context) (*h1Conn, bool, error) {
	now := time.Now()
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
			_ = pc.nc.Close()
			continue
		}
		return pc, true, nil
	}
	nc, err := h.dialer.DialContext(ctx, "tcp", h.addr)
	if err != nil {
		return nil, false, err
	}
	pc := &h1Conn{nc: nc, br: bufio.NewReaderSize(nc, 4096), buf: make([]byte, 0, 512)}
	pc.tp.R = pc.br
	return pc, false, nil
}

// put keeps a connection for reuse, or closes it when the pool is full.
func (h *h1Client) put(pc *h1Conn) {
	pc.since = time.Now()
	h.mu.Lock()
	if len(h.idle) < h.maxIdle {
		h.idle = append(h.idle, pc)
		h.mu.Unlock()
		return
	}
	h.mu.Unlock()
	_ = pc.nc.Close()
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
		_ = pc.nc.Close()
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
		pc, reused, err := c.h1.get(ctx)
		if err != nil {
			return h1Answer{}, c.h1Error(ctx, deadline, req.op, 0, "", err)
		}
		dl := deadline
		if d, ok := ctx.Deadline(); ok && d.Before(dl) {
			dl = d
		}
		_ = pc.nc.SetDeadline(dl)
		stop := func() bool { return true }
		if ctx.Done() != nil {
			stop = context.AfterFunc(ctx, func() { _ = pc.nc.SetDeadline(aLongTimeAgo) })
		}
		ans, keep, written, e := c.exchange(ctx, pc, req, path, m, limit, deadline)
		canceled := !stop()
		if e == nil && keep && !canceled {
			c.h1.put(pc)
		} else {
			_ = pc.nc.Close()
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
	b = append(b, newSpanID()...)
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
	var status int
	var hdr textproto.MIMEHeader
	for {
		line, err := pc.tp.ReadLine()
		if err != nil {
			return ans, false, written, c.h1Error(ctx, deadline, req.op, 0, "", err)
		}
		proto, rest, ok1 := strings.Cut(line, " ")
		code, _, _ := strings.Cut(rest, " ")
		status, err = strconv.Atoi(code)
		if !ok1 || !strings.HasPrefix(proto, "HTTP/1.") || len(code) != 3 || err != nil || status < 100 {
			return ans, false, written, c.h1Error(ctx, deadline, req.op, 0, "", fmt.Errorf("malformed HTTP response %q", line))
		}
		if hdr, err = pc.tp.ReadMIMEHeader(); err != nil {
			return ans, false, written, c.h1Error(ctx, deadline, req.op, 0, "", err)
		}
		if status >= 200 || status == 101 {
			keep = proto == "HTTP/1.1" && !tokenIn(hdr["Connection"], "close")
			break
		}
	}
	ans.status, ans.header = status, http.Header(hdr)

	// The body, as net/http would frame it.
	var body io.Reader
	length := int64(-1)
	chunked := false
	switch {
	case status == 204 || status == 304 || req.method == http.MethodHead:
		length = 0
	case len(hdr["Transfer-Encoding"]) > 0:
		if te := hdr["Transfer-Encoding"]; len(te) != 1 || !strings.EqualFold(strings.TrimSpace(te[0]), "chunked") {
			return ans, false, written, c.h1Error(ctx, deadline, req.op, 0, "", fmt.Errorf("unsupported transfer encoding %q", te))
		}
		chunked = true
		body = httputil.NewChunkedReader(pc.br)
	case len(hdr["Content-Length"]) > 0:
		cl := hdr["Content-Length"]
		n, err := strconv.ParseInt(strings.TrimSpace(cl[0]), 10, 64)
		for _, v := range cl[1:] {
			if strings.TrimSpace(v) != strings.TrimSpace(cl[0]) {
				err = errors.New("conflicting values")
			}
		}
		if err != nil || n < 0 {
			return ans, false, written, c.h1Error(ctx, deadline, req.op, 0, "", fmt.Errorf("bad Content-Length %q", cl))
		}
		length = n
	default:
		keep = false // the body ends when the server closes
		body = pc.br
	}
	if length >= 0 {
		body = io.LimitReader(pc.br, length)
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
		if _, err := pc.tp.ReadMIMEHeader(); err != nil {
			keep = false
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
	e := &Error{Op: op, Status: status, Detail: detail}
	switch {
	case ctxErr != nil:
		e.Kind = KindCanceled
		if cause := context.Cause(ctx); cause != nil && cause != ctxErr {
			e.Err = fmt.Errorf("%w: %w", ctxErr, cause)
		} else {
			e.Err = ctxErr
		}
	case !now.Before(deadline):
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
