package agent

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzRawText: a string sent as JSON and decoded by rawText then joinText
// reads as encoding/json reads it; and the UTF-8 bytes of a valid string
// cut anywhere into two pieces join back to the string.
func FuzzRawText(f *testing.F) {
	for _, s := range []string{"", "hi", "é", "\U0001F600", "a\"b\\c\n", "\x00\x1f", "\xf0\x9f", "\xed\xa0\xbd"} {
		f.Add(s, 1)
	}
	f.Fuzz(func(t *testing.T, s string, cut int) {
		q, _ := json.Marshal(s)
		var want string
		if err := json.Unmarshal(q, &want); err != nil {
			t.Fatal(err)
		}
		var r rawText
		if err := r.UnmarshalJSON(q); err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		if got := joinText(r.b); got != want {
			t.Fatalf("%q: got %q, want %q", q, got, want)
		}
		if !utf8.ValidString(s) || len(s) == 0 {
			return
		}
		cut = ((cut % len(s)) + len(s)) % len(s)
		joined := append([]byte(s[:cut]), s[cut:]...)
		if got := joinText(joined); got != s {
			t.Fatalf("cut %d of %q: %q", cut, s, got)
		}
	})
}

// FuzzSniffSSE: the sniffer never fails on a body that ends, and calls a
// body a stream exactly when it starts, after blank lines and a BOM, with
// a comment or a field of the event-stream format.
func FuzzSniffSSE(f *testing.F) {
	for _, s := range []string{"data: x", ": ping", "\r\n\nevent: m", `{"a":1}`, "da", "", " data:", "\xef\xbb\xbfretry: 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := sniffSSE(bufio.NewReaderSize(strings.NewReader(s), 4096))
		if err != nil {
			t.Fatal(err)
		}
		rest := strings.TrimLeft(strings.TrimPrefix(s, "\xef\xbb\xbf"), "\r\n")
		if len(s)-len(rest)+len("retry:") > 512 {
			return // over 512 bytes before the first field: read as a whole
		}
		want := false
		for _, p := range []string{":", "data:", "event:", "id:", "retry:"} {
			want = want || strings.HasPrefix(rest, p)
		}
		if got != want {
			t.Fatalf("%q: %v, want %v", s, got, want)
		}
	})
}
