package agent

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func TestErrorClassification(t *testing.T) {
	long := strings.Repeat("overloaded ", 60)
	tests := []struct {
		name      string
		op        string // "send" (default) or "new-chat"
		status    int
		body      string
		hdr       []string
		kind      ErrorKind
		retryable bool
		retry     time.Duration
		detail    string // substring of Detail
	}{
		{name: "400 fastapi string", status: 400, body: `{"detail":"content must not be empty"}`, kind: KindClient, detail: "content must not be empty"},
		{name: "401 bad key", status: 401, body: `{"detail":"Invalid API key"}`, kind: KindClient, detail: "Invalid API key"},
		{name: "403 forbidden", status: 403, body: `{"success":false,"error":"Forbidden","detail":"agent is disabled"}`, kind: KindClient, detail: "Forbidden: agent is disabled"},
		{name: "403 quota", status: 403, body: `{"success":false,"error":"Monthly API call quota exceeded for your plan"}`, kind: KindQuotaExhausted, detail: "Monthly API call quota"},
		{name: "402 always quota", status: 402, body: `{"detail":"Payment required"}`, kind: KindQuotaExhausted, detail: "Payment required"},
		{name: "402 empty body", status: 402, body: ``, kind: KindQuotaExhausted, detail: "Payment Required"},
		{name: "404 envelope", status: 404, body: fixture(t, "error_envelope.json"), kind: KindClient, detail: "Chat not found: No chat with id chat_missing"},
		{name: "422 fastapi list", status: 422, body: fixture(t, "error_fastapi.json"), kind: KindClient, detail: "body.content: field required; body.chat_id: str type expected"},
		{name: "429 seconds", status: 429, body: `{"detail":"Rate limit exceeded: 100 per 1 minute"}`, hdr: []string{"Retry-After", "7"}, kind: KindThrottled, retryable: true, retry: 7 * time.Second, detail: "Rate limit exceeded"},
		{name: "429 no header", status: 429, body: `{"error":{"message":"slow down","type":"rate_limit"}}`, kind: KindThrottled, retryable: true, detail: "slow down"},
		{name: "429 huge capped", status: 429, body: `{}`, hdr: []string{"Retry-After", "86400"}, kind: KindThrottled, retryable: true, retry: MaxRetryAfter, detail: "Too Many Requests"},
		{name: "429 quota", status: 429, body: `{"detail":"Plan limit reached: 1000 API calls this month"}`, hdr: []string{"Retry-After", "3600"}, kind: KindQuotaExhausted, retry: MaxRetryAfter, detail: "Plan limit reached"},
		{name: "429 quota word", status: 429, body: `{"message":"quota exhausted"}`, kind: KindQuotaExhausted, detail: "quota exhausted"},
		{name: "500", status: 500, body: `{"detail":"Internal Server Error"}`, kind: KindServer, detail: "Internal Server Error"},
		{name: "502 html", status: 502, body: "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>", hdr: []string{"Content-Type", "text/html"}, kind: KindServer, retryable: true, detail: "502 Bad Gateway"},
		{name: "503 retry after", status: 503, body: "upstream\nunavailable", hdr: []string{"Content-Type", "text/plain", "Retry-After", "2"}, kind: KindServer, retryable: true, retry: 2 * time.Second, detail: "upstream unavailable"},
		{name: "504", status: 504, body: ``, kind: KindServer, retryable: true, detail: "Gateway Timeout"},
		{name: "500 long detail", status: 500, body: `{"detail":"` + long + `"}`, kind: KindServer, detail: "overloaded overloaded"},
		{name: "302 redirect", status: 302, body: ``, hdr: []string{"Location", "https://elsewhere.example/x"}, kind: KindProtocol, detail: "redirect to https://elsewhere.example/x"},
		{name: "200 malformed", status: 200, body: `{"response": "cut`, kind: KindProtocol, detail: "malformed JSON"},
		{name: "200 missing response", status: 200, body: `{"answer":"hi"}`, kind: KindProtocol, detail: `no "response" field`},
		{name: "200 response not string", status: 200, body: `{"response":42}`, kind: KindProtocol, detail: `field "response" is a JSON number`},
		{name: "200 array", status: 200, body: `[{"response":"x"}]`, kind: KindProtocol, detail: "not a JSON object"},
		{name: "200 empty", status: 200, body: ``, kind: KindProtocol, detail: "empty body"},
		{name: "200 html", status: 200, body: `<html>login</html>`, kind: KindProtocol, detail: "body starts: <html>login</html>"},
		{name: "200 envelope no data", status: 200, body: `{"success":true}`, kind: KindProtocol, detail: `no "response" field`},
		{name: "200 envelope data lacks response", status: 200, body: `{"success":true,"data":{"text":"x"}}`, kind: KindProtocol, detail: `envelope data has no "response"`},
		{name: "200 envelope failure", status: 200, body: `{"success":false,"error":"Agent offline"}`, kind: KindProtocol, detail: "server reported failure: Agent offline"},
		{name: "200 envelope quota failure", status: 200, body: `{"success":false,"error":"Monthly quota used up"}`, kind: KindQuotaExhausted, detail: "Monthly quota used up"},
		{name: "new-chat missing chat_id", op: "new-chat", status: 200, body: `{"status":"active"}`, kind: KindProtocol, detail: `no "chat_id" field`},
		{name: "new-chat empty chat_id", op: "new-chat", status: 200, body: `{"success":true,"data":{"chat_id":""}}`, kind: KindProtocol, detail: `"chat_id" is empty`},
		{name: "new-chat 201 without id", op: "new-chat", status: 201, body: `{"success":true,"data":null}`, kind: KindProtocol, detail: `no "chat_id" field`},
		{name: "new-chat 429", op: "new-chat", status: 429, body: `{"detail":"30 new chats per minute"}`, hdr: []string{"Retry-After", "1"}, kind: KindThrottled, retryable: true, retry: time.Second, detail: "30 new chats"},
	}
	var golden bytes.Buffer
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newRecorder(t, answer(tt.status, tt.body, tt.hdr...))
			o := newConn(t, srv.URL, nil)
			var err error
			op := tt.op
			if op == "" {
				op = "send"
			}
			if op == "new-chat" {
				_, err = o.NewChat(context.Background(), NewChatRequest{ClientID: "c"})
			} else {
				_, err = o.Send(context.Background(), Chat{ID: "c"}, Message{Content: "x"})
			}
			e := asError(t, err)
			if e.Kind != tt.kind {
				t.Errorf("kind %v, want %v (%v)", e.Kind, tt.kind, e)
			}
			if e.Op != op || e.Status != tt.status {
				t.Errorf("op/status %s/%d, want %s/%d", e.Op, e.Status, op, tt.status)
			}
			if e.Retryable() != tt.retryable {
				t.Errorf("Retryable() = %v, want %v", e.Retryable(), tt.retryable)
			}
			if e.RetryAfter != tt.retry {
				t.Errorf("RetryAfter %v, want %v", e.RetryAfter, tt.retry)
			}
			if !strings.Contains(e.Detail, tt.detail) {
				t.Errorf("Detail %q does not contain %q", e.Detail, tt.detail)
			}
			if n := utf8.RuneCountInString(e.Detail); n > maxDetail {
				t.Errorf("Detail has %d runes, want at most %d", n, maxDetail)
			}
			fmt.Fprintf(&golden, "%-34s %s\n", tt.name, e)
		})
	}
	checkGolden(t, "errors.golden", golden.Bytes())
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (run go test -update and review the diff):\n%s", path, got)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"7", 7 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"1.5", 1500 * time.Millisecond},
		{"599", 599 * time.Second},
		{"600", MaxRetryAfter},
		{"99999999999999999999", MaxRetryAfter},
		{"-5", 0},
		{"abc", 0},
		{"7s", 0},
		{"NaN", 0},
		{"Sun, 01 Jun 2025 12:00:30 GMT", 30 * time.Second}, // IMF-fixdate
		{"Sunday, 01-Jun-25 12:01:00 GMT", time.Minute},     // RFC 850
		{"Sun Jun  1 12:00:05 2025", 5 * time.Second},       // asctime
		{"Sun, 01 Jun 2025 11:59:00 GMT", 0},                // past
		{"Mon, 02 Jun 2025 12:00:00 GMT", MaxRetryAfter},    // far future
		{"Sun, 01 Jun 2025 12:00:30 +0000", 0},              // not an HTTP-date
	}
	for _, tt := range tests {
		if got := ParseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "7", "1.5", "1e3", "-1", "Sun, 01 Jun 2025 12:00:30 GMT", "Sun Jun  1 12:00:05 2025", "NaN", "+Inf"} {
		f.Add(s)
	}
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		if d := ParseRetryAfter(s, now); d < 0 || d > MaxRetryAfter {
			t.Fatalf("ParseRetryAfter(%q) = %v, outside [0, %v]", s, d, MaxRetryAfter)
		}
	})
}

func TestShorten(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"a  b\n\tc", 10, "a b c"},
		{"abcdef", 4, "abc…"},
		{"ééééé", 3, "éé…"},
	}
	for _, tt := range tests {
		if got := shorten(tt.in, tt.n); got != tt.want {
			t.Errorf("shorten(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

// TestErrorsNeverRevealKey has the server echo the request's credentials
// back in every place a message is taken from, and checks that no error
// string, detail or wrapped error shows the key.
func TestErrorsNeverRevealKey(t *testing.T) {
	bodies := []struct {
		status int
		body   string
		ctype  string
	}{
		{401, `{"detail":"Invalid API key: KEY"}`, "application/json"},
		{403, `{"success":false,"error":"key KEY is disabled","detail":"KEY"}`, "application/json"},
		{422, `{"detail":[{"loc":["header","KEY"],"msg":"bad KEY"}]}`, "application/json"},
		{429, `{"error":{"message":"KEY over quota"}}`, "application/json"},
		{500, `KEY`, "text/plain"},
		{502, `<html><title>bad gateway for KEY</title></html>`, "text/html"},
		{200, `{"response": KEY`, "application/json"},
		{200, `{"nothing":"KEY"}`, "application/json"},
		{200, `{"success":false,"error":"KEY"}`, "application/json"},
		{302, ``, "text/plain"}, // Location echoes the key
		// The key cut in half by truncation must not survive either.
		{500, `{"detail":"` + strings.Repeat("x", maxDetail-5) + ` KEY"}`, "application/json"},
	}
	for _, header := range []string{"", "X-API-Key"} {
		for _, b := range bodies {
			srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
				key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
				if header != "" {
					key = r.Header.Get("X-API-Key")
				}
				w.Header().Set("Content-Type", b.ctype)
				w.Header().Set("Location", "https://x.example/?key="+key)
				w.WriteHeader(b.status)
				w.Write([]byte(strings.ReplaceAll(b.body, "KEY", key)))
			})
			o := newConn(t, srv.URL, func(op *Options) { op.Header = header })
			_, err1 := o.Send(context.Background(), Chat{ID: "c"}, Message{Content: "x"})
			_, err2 := o.NewChat(context.Background(), NewChatRequest{ClientID: "c"})
			err3 := o.Health(context.Background())
			for _, err := range []error{err1, err2, err3} {
				if err == nil {
					if b.status >= 200 && b.status < 300 {
						continue // health accepts any 2xx
					}
					t.Fatalf("status %d: no error", b.status)
				}
				for e := err; e != nil; e = unwrap(e) {
					if strings.Contains(e.Error(), testKey) {
						t.Fatalf("header %q, status %d: error reveals the key: %s", header, b.status, e)
					}
				}
				if d := asError(t, err).Detail; strings.Contains(d, testKey) || strings.Contains(d, testKey[:len(testKey)/2]) {
					t.Fatalf("Detail reveals the key: %s", d)
				}
			}
		}
	}
}

func unwrap(err error) error {
	type unwrapper interface{ Unwrap() error }
	if u, ok := err.(unwrapper); ok {
		return u.Unwrap()
	}
	return nil
}

// TestRetryableOnlyWhenNotProcessed: a call is re-sent only when the agent
// cannot have processed it.
func TestRetryableOnlyWhenNotProcessed(t *testing.T) {
	for _, tt := range []struct {
		e    Error
		want bool
	}{
		{Error{Kind: KindThrottled, Status: 429}, true},
		{Error{Kind: KindServer, Status: 502}, true},
		{Error{Kind: KindServer, Status: 503}, true},
		{Error{Kind: KindServer, Status: 504}, true},
		{Error{Kind: KindServer, Status: 500}, false},
		{Error{Kind: KindTransport, Unsent: true}, true},
		{Error{Kind: KindTimeout, Unsent: true}, true},
		{Error{Kind: KindTransport}, false},
		{Error{Kind: KindTimeout}, false},
		{Error{Kind: KindCanceled, Unsent: true}, false},
		{Error{Kind: KindProtocol, Status: 200}, false},
		{Error{Kind: KindClient, Status: 400}, false},
		{Error{Kind: KindQuotaExhausted, Status: 429}, false},
	} {
		if got := tt.e.Retryable(); got != tt.want {
			t.Errorf("%v (unsent %v): Retryable() = %v, want %v", &tt.e, tt.e.Unsent, got, tt.want)
		}
	}
}

// TestPrintable: terminal escapes and control characters in server text
// never reach the terminal.
func TestPrintable(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"plain text", "plain text"},
		{"\x1b[2J\x1b[31mred\x1b[0m", "red"},
		{"title\x1b]0;pwned\x07 after", "title after"},
		{"osc st\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "osc stlink"},
		{"bell\x07 nul\x00 del\x7f", "bell  nul  del "},
		{"c1 csi \u009b31mred", "c1 csi red"},
		{"two-byte \x1bcreset", "two-byte reset"},
		{"bidi \u202egnp.exe", "bidi  gnp.exe"},
		{"bad utf8 \xff", "bad utf8 \uFFFD"},
		{"tab\tnew\nline", "tab new line"},
		{"trailing esc \x1b", "trailing esc "},
		{"unterminated \x1b]0;title", "unterminated "},
	} {
		got := Printable(tt.in)
		if got != tt.want {
			t.Errorf("Printable(%q) = %q, want %q", tt.in, got, tt.want)
		}
		for _, r := range got {
			if unicode.IsControl(r) {
				t.Errorf("Printable(%q) keeps control %U", tt.in, r)
			}
		}
	}
}

// FuzzPrintable: whatever the server sends, the result has no control
// character, and cleaning twice changes nothing.
func FuzzPrintable(f *testing.F) {
	for _, s := range []string{"\x1b[31mx", "\x1b]0;t\x07", "\u009b1m", "ok", "\xff\x1b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Printable(s)
		for _, r := range got {
			if unicode.IsControl(r) || isBidiControl(r) {
				t.Fatalf("Printable(%q) = %q keeps %U", s, got, r)
			}
		}
		if again := Printable(got); again != got {
			t.Fatalf("Printable not idempotent: %q -> %q -> %q", s, got, again)
		}
	})
}
