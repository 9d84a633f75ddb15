package agent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// MaxRetryAfter caps the wait a server's Retry-After can ask for. A longer
// wait (an hourly window, a date next month) is reported as MaxRetryAfter;
// the caller decides whether to wait that long or give up.
const MaxRetryAfter = 10 * time.Minute

// maxDetail is the length, in runes, that Error.Detail is cut to.
const maxDetail = 200

// ParseRetryAfter interprets a Retry-After header value as a wait from now:
// either delay-seconds ("120"; fractional seconds are accepted) or an
// HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT", also the RFC 850 and asctime
// forms). It returns 0 for an empty, malformed, negative or past value, and
// caps the result at MaxRetryAfter.
func ParseRetryAfter(value string, now time.Time) time.Duration {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0
	}
	var d time.Duration
	if c := value[0]; c >= '0' && c <= '9' {
		secs, err := strconv.ParseFloat(value, 64)
		if err != nil || secs != secs { // NaN
			return 0
		}
		if secs >= MaxRetryAfter.Seconds() {
			return MaxRetryAfter
		}
		d = time.Duration(secs * float64(time.Second))
	} else {
		t, err := http.ParseTime(value)
		if err != nil {
			return 0
		}
		d = t.Sub(now)
	}
	if d <= 0 {
		return 0
	}
	return min(d, MaxRetryAfter)
}

// statusError classifies a non-2xx answer by its status and the message in
// its body: 402 and quota messages on 429/403 are quota exhausted, other
// 429s throttled, other 4xx client, 5xx server, anything else protocol.
func (o *core) statusError(op string, status int, header http.Header, body []byte) *Error {
	e := &Error{
		Op:         op,
		Status:     status,
		RetryAfter: ParseRetryAfter(header.Get("Retry-After"), time.Now()),
	}
	msg := errorMessage(body)
	quota := mentionsQuota(msg)
	switch {
	case status == http.StatusPaymentRequired:
		e.Kind = KindQuotaExhausted
	case status == http.StatusTooManyRequests:
		e.Kind = KindThrottled
		if quota {
			e.Kind = KindQuotaExhausted
		}
	case status == http.StatusForbidden && quota:
		e.Kind = KindQuotaExhausted
	case status >= 400 && status < 500:
		e.Kind = KindClient
	case status >= 500 && status < 600:
		e.Kind = KindServer
	default:
		e.Kind = KindProtocol
		if loc := header.Get("Location"); loc != "" && status >= 300 && status < 400 {
			msg = "redirect to " + loc + " (not followed; set the target URL to it)"
		} else if msg == "" {
			msg = "unexpected HTTP status"
		}
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	e.Detail = o.detail(msg)
	return e
}

// detail makes a server message safe and short for Error.Detail: the key is
// redacted first (so truncation cannot leave part of it), then the text is
// cut to maxDetail runes.
func (o *core) detail(msg string) string {
	return shorten(o.redact(msg), maxDetail)
}

// mentionsQuota reports whether a server message says a quota or plan limit
// (rather than a short-term rate limit) was reached.
func mentionsQuota(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "quota") || strings.Contains(m, "plan limit") ||
		strings.Contains(m, "monthly")
}

// shorten makes server text safe to print (Printable), collapses runs of
// white space and cuts s to at most n runes, marking a cut with "…".
func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(Printable(s)), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for k := 0; k < n-1; k++ {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i] + "…"
}

// errorMessage extracts the human-readable message from an error body:
// {"success": false, "error", "detail"}, FastAPI's {"detail": "..."} or
// {"detail": [{"loc", "msg"}, ...]}, {"error": {"message"}} or {"message"};
// otherwise the body as text (an HTML page's <title>). The result is neither
// redacted nor truncated.
func errorMessage(body []byte) string {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return ""
	}
	if isObject(body) {
		var w struct {
			Error   json.RawMessage `json:"error"`
			Detail  json.RawMessage `json:"detail"`
			Message json.RawMessage `json:"message"`
		}
		if json.Unmarshal(body, &w) == nil {
			var parts []string
			for _, raw := range []json.RawMessage{w.Error, w.Detail, w.Message} {
				if t := jsonText(raw, 0); t != "" && !containsString(parts, t) {
					parts = append(parts, t)
				}
			}
			if len(parts) > 0 {
				return strings.Join(parts, ": ")
			}
			if !nonEmptyJSON(body) {
				return "" // {}
			}
		}
	}
	s := string(body)
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if body[0] == '<' {
		if t := htmlTitle(s); t != "" {
			return t
		}
	}
	return Printable(s)
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// jsonText renders an error field as text: a string as is, an object by its
// message-like field, a FastAPI validation list as "loc.path: msg; ...".
func jsonText(raw json.RawMessage, depth int) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || depth > 3 {
		return ""
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	case '{':
		var o map[string]json.RawMessage
		if json.Unmarshal(raw, &o) != nil {
			return ""
		}
		if m := jsonText(o["msg"], depth+1); m != "" {
			if loc := locPath(o["loc"]); loc != "" {
				return loc + ": " + m
			}
			return m
		}
		for _, k := range []string{"message", "detail", "error", "description"} {
			if m := jsonText(o[k], depth+1); m != "" {
				return m
			}
		}
	case '[':
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return ""
		}
		var parts []string
		for _, it := range items {
			if t := jsonText(it, depth+1); t != "" {
				parts = append(parts, t)
			}
		}
		return strings.Join(parts, "; ")
	case 'n', 't', 'f':
		return ""
	default:
		return string(raw)
	}
	return ""
}

// locPath renders FastAPI's "loc": ["body", "content"] as "body.content".
func locPath(raw json.RawMessage) string {
	var loc []any
	if json.Unmarshal(raw, &loc) != nil {
		return ""
	}
	parts := make([]string, 0, len(loc))
	for _, p := range loc {
		parts = append(parts, fmt.Sprint(p))
	}
	return strings.Join(parts, ".")
}

// htmlTitle returns the text of an HTML page's <title>, if any.
func htmlTitle(s string) string {
	// Lower ASCII only, so byte offsets in l are offsets in s.
	l := []byte(s)
	for k, c := range l {
		if c >= 'A' && c <= 'Z' {
			l[k] = c + 'a' - 'A'
		}
	}
	i := bytes.Index(l, []byte("<title>"))
	if i < 0 {
		return ""
	}
	j := bytes.Index(l[i:], []byte("</title>"))
	if j < 0 {
		return ""
	}
	return strings.TrimSpace(s[i+len("<title>") : i+j])
}

// Printable returns server text made safe to show on a terminal: terminal
// escape sequences (ESC [ … CSI, ESC ] … OSC, other ESC sequences and the
// 8-bit CSI and OSC introducers) are removed, every other control character
// (but none of tab and newline's meaning as white space) becomes a space,
// and invalid UTF-8 becomes U+FFFD. Text that needs no change is returned
// as is.
func Printable(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || isBidiControl(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == 0x1b || r == 0x9b || r == 0x9d:
			i = skipEscape(s, i, r, size)
			continue
		case r == '\t' || r == '\n':
			b.WriteByte(' ')
		case unicode.IsControl(r) || isBidiControl(r):
			b.WriteByte(' ')
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// skipEscape returns the index after the escape sequence that starts at i
// with r (ESC, or the 8-bit CSI or OSC), size its encoded length.
func skipEscape(s string, i int, r rune, size int) int {
	j := i + size
	kind := r
	if r == 0x1b {
		if j >= len(s) {
			return j
		}
		switch s[j] {
		case '[':
			kind = 0x9b
		case ']', 'P', 'X', '^', '_':
			kind = 0x9d // OSC and the other string sequences end alike
		default:
			if s[j] >= 0x20 && s[j] <= 0x7e {
				return j + 1 // a two-byte sequence such as ESC c
			}
			return j // a lone ESC
		}
		j++
	}
	if kind == 0x9b {
		// CSI: parameter and intermediate bytes, then one final byte.
		for j < len(s) && s[j] >= 0x20 && s[j] <= 0x3f {
			j++
		}
		for j < len(s) && s[j] >= 0x20 && s[j] <= 0x2f {
			j++
		}
		if j < len(s) && s[j] >= 0x40 && s[j] <= 0x7e {
			j++
		}
		return j
	}
	// A string sequence ends with BEL or ESC \ (or the end of the text).
	for j < len(s) {
		switch {
		case s[j] == 0x07:
			return j + 1
		case s[j] == 0x1b && j+1 < len(s) && s[j+1] == '\\':
			return j + 2
		case s[j] == 0x1b:
			return j
		}
		j++
	}
	return j
}

// isBidiControl reports whether r reorders text on display (the Unicode
// bidirectional controls), which can make printed text lie about itself.
func isBidiControl(r rune) bool {
	return r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 || r == 0x200e || r == 0x200f || r == 0x061c
}
