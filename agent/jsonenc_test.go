package agent

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAppendJSONString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `""`},
		{"plain", `"plain"`},
		{`q"b\`, `"q\"b\\"`},
		{"a\nb\tc\rd", `"a\nb\tc\rd"`},
		{"\x00\x1f\x7f", `"\u0000\u001f` + "\x7f" + `"`},
		{"é€😀", `"é€😀"`},
		{"<&>", `"<&>"`},
		{"\u2028\u2029", `"\u2028\u2029"`},
		{"bad\xffutf8", `"bad\ufffdutf8"`},
	}
	for _, tt := range tests {
		if got := string(appendJSONString(nil, tt.in)); got != tt.want {
			t.Errorf("appendJSONString(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// FuzzAppendJSONString checks the hand-written encoder against
// encoding/json: the output is valid JSON and decodes to the same string
// encoding/json would produce.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "hello", "q\"\\", "\x00\n\u2028", "é\xff😀", strings.Repeat("ab", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := appendJSONString([]byte("x"), s)[1:]
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("appendJSONString(%q) = %s: invalid JSON: %v", s, got, err)
		}
		ref, _ := json.Marshal(s)
		var want string
		json.Unmarshal(ref, &want)
		if back != want {
			t.Fatalf("round trip of %q = %q, encoding/json gives %q", s, back, want)
		}
		if utf8.ValidString(s) && back != s {
			t.Fatalf("valid UTF-8 %q came back as %q", s, back)
		}
	})
}

func TestSendBodyMatchesEncodingJSON(t *testing.T) {
	msgs := []Message{
		{Content: "hi"},
		{Content: "Line1\nLine2 \"q\"", ClientID: "c", SessionID: "s", Source: "src"},
		{Content: "x", SessionID: "only-session"},
	}
	for _, m := range msgs {
		for _, v := range []int{1, 2} {
			got := sendBody("chat-1", m, v)
			want := sendBodyReflect("chat-1", m, v)
			if string(got) != string(want) {
				t.Errorf("v%d %+v:\n got %s\nwant %s", v, m, got, want)
			}
		}
	}
}

// sendBodyReflect is the obvious encoding/json version of sendBody, the
// reference for tests and the baseline of BenchmarkSendBody.
func sendBodyReflect(chatID string, m Message, version int) []byte {
	type meta struct {
		ClientID  string `json:"client_id,omitempty"`
		SessionID string `json:"session_id,omitempty"`
		Source    string `json:"source"`
	}
	type body struct {
		ChatID   string `json:"chat_id"`
		Content  string `json:"content"`
		Metadata *meta  `json:"metadata,omitempty"`
	}
	b := body{ChatID: chatID, Content: m.Content}
	if version != 1 {
		src := m.Source
		if src == "" {
			src = "evalrun"
		}
		b.Metadata = &meta{m.ClientID, m.SessionID, src}
	}
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	enc.Encode(b)
	return []byte(strings.TrimSuffix(sb.String(), "\n"))
}

func BenchmarkSendBody(b *testing.B) {
	m := Message{Content: "Hi! What does the Growth plan cost for Acme? I'd like a \"quote\".", ClientID: "qa-1234", SessionID: "run-42-7"}
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sendBody("chat_01HZX5A9", m, 2)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sendBodyReflect("chat_01HZX5A9", m, 2)
		}
	})
}
