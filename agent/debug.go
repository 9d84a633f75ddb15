package agent

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// debugLog writes the request dump of Options.Debug: for each attempt a
// "> METHOD URL" line with its request id, its headers and a body excerpt,
// then a "< STATUS" line with the time taken and the answer's excerpt.
// Credentials are redacted: the Authorization, Proxy-Authorization,
// X-API-Key and Cookie headers entirely, and the transport's secrets (key,
// environment header values) and secret-looking query parameters wherever
// they appear. A nil *debugLog writes nothing.
type debugLog struct {
	mu sync.Mutex
	w  io.Writer
}

// debugBodyMax is the excerpt of a body the dump shows.
const debugBodyMax = 2 << 10

var secretHeaders = map[string]bool{
	"Authorization": true, "Proxy-Authorization": true, "X-Api-Key": true, "Cookie": true, "Set-Cookie": true,
}

func (d *debugLog) write(c *core, lines []string) {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(RedactURL(c.redact(l)))
		b.WriteByte('\n')
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	_, _ = io.WriteString(d.w, b.String())
}

func headerLines(prefix string, h http.Header, extraSecret func(string) bool) []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out []string
	for _, k := range keys {
		v := strings.Join(h[k], ", ")
		if secretHeaders[http.CanonicalHeaderKey(k)] || extraSecret(k) {
			v = Redacted
		}
		out = append(out, prefix+k+": "+v)
	}
	return out
}

func bodyLine(prefix string, body []byte) string {
	s := string(body)
	if len(s) > debugBodyMax {
		s = s[:debugBodyMax] + fmt.Sprintf("… (%d bytes)", len(body))
	}
	return prefix + "body: " + strings.Join(strings.Fields(s), " ")
}

func (d *debugLog) request(c *core, req *http.Request, body []byte) {
	if d == nil {
		return
	}
	lines := []string{fmt.Sprintf("> %s %s", req.Method, req.URL.String())}
	lines = append(lines, headerLines(">   ", req.Header, func(k string) bool {
		return c.authName != "" && strings.EqualFold(k, c.authName)
	})...)
	if body != nil {
		lines = append(lines, bodyLine(">   ", body))
	}
	d.write(c, lines)
}

func (d *debugLog) response(c *core, id string, resp *http.Response, took time.Duration, body []byte) {
	if d == nil {
		return
	}
	lines := []string{fmt.Sprintf("< %s %s in %v", id, resp.Status, took.Round(time.Microsecond))}
	lines = append(lines, headerLines("<   ", resp.Header, func(string) bool { return false })...)
	if body != nil {
		lines = append(lines, bodyLine("<   ", body))
	}
	d.write(c, lines)
}

func (d *debugLog) body(c *core, id string, body []byte) {
	if d == nil {
		return
	}
	d.write(c, []string{bodyLine("< "+id+" ", body)})
}

func (d *debugLog) failure(c *core, id string, e *Error) {
	if d == nil {
		return
	}
	d.write(c, []string{"< " + id + " " + e.Error()})
}
