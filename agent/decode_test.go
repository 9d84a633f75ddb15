package agent

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		body, want string
	}{
		{``, ``},
		{`{"detail":"Not Found"}`, `Not Found`},
		{`{"success":false,"error":"Chat not found","detail":"Chat not found"}`, `Chat not found`},
		{`{"success":false,"error":"Bad","detail":{"message":"why"}}`, `Bad: why`},
		{`{"detail":[{"loc":["body",0,"content"],"msg":"field required"}]}`, `body.0.content: field required`},
		{`{"detail":["a","b"]}`, `a; b`},
		{`{"error":{"message":"rate limited","code":429}}`, `rate limited`},
		{`{"message":"hello","code":7}`, `hello`},
		{`{"code":7}`, `{"code":7}`},
		{`{"detail":null,"error":true}`, `{"detail":null,"error":true}`},
		{`{"detail":12}`, `12`},
		{"<!DOCTYPE html><HTML><Title> 503 Service Unavailable </TITLE></HTML>", `503 Service Unavailable`},
		{"plain\x00text\r\n", "plain text"},
		{"\xff\xfe", "\uFFFD"},
	}
	for _, tt := range tests {
		if got := strings.TrimSpace(errorMessage([]byte(tt.body))); got != tt.want {
			t.Errorf("errorMessage(%q) = %q, want %q", tt.body, got, tt.want)
		}
	}
}

func TestNonEmptyJSON(t *testing.T) {
	for in, want := range map[string]bool{
		``: false, `null`: false, `false`: false, `""`: false, `{}`: false, `{ }`: false, `[]`: false, "[\n]": false,
		`true`: true, `0`: true, `"x"`: true, `{"a":1}`: true, `[1]`: true,
	} {
		if got := nonEmptyJSON([]byte(in)); got != want {
			t.Errorf("nonEmptyJSON(%q) = %v, want %v", in, got, want)
		}
	}
}

// seedBodies returns real-shaped response bodies: the testdata fixtures and
// a few edge cases.
func seedBodies(f *testing.F) [][]byte {
	f.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "replies", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no fixtures: %v", err)
	}
	var out [][]byte
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	for _, s := range []string{
		`{"response":"x","handoff_data":{}}`,
		`{"response":"x","tools_executed":[{"tool":"email_handoff","status":"executed","data":[1]}]}`,
		`{"success":true,"data":{"response":"y","metadata":{"tokens_used":"12"}}}`,
		`{"success":false,"error":{"message":"quota"}}`,
		`{"success":true,"data":[]}`,
		`{"response":null,"data":{"response":"z"}}`,
		`{"chat_id":7}`,
		`{"detail":[{"loc":["body"],"msg":"x"}]}`,
		`<html><title>x</title></html>`,
		`{"response":"\u00e9\ud800"}`,
		``, `null`, `[]`, `{`,
	} {
		out = append(out, []byte(s))
	}
	return out
}

// FuzzDecodeReply feeds arbitrary bodies to the response parsers: they must
// never panic, and a reply they accept must be consistent (Raw is a JSON
// object; Handoff only with handoff data or an email_handoff tool).
func FuzzDecodeReply(f *testing.F) {
	for _, b := range seedBodies(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := string(body)
		r, err := decodeReply(body)
		if err == nil {
			if !json.Valid(r.Raw) || !isObject(r.Raw) {
				t.Fatalf("Raw %q is not a JSON object", r.Raw)
			}
			if r.Handoff && !nonEmptyJSON(r.HandoffData) && !hasTool(r.Tools, "email_handoff") {
				t.Fatalf("Handoff without handoff data or tool: %+v", r)
			}
		} else {
			var fb *failureBody
			if errors.As(err, &fb) && !json.Valid(body) {
				t.Fatalf("failure envelope reported for invalid JSON %q", body)
			}
		}
		if c, err := decodeChat(body); err == nil && c.ID == "" {
			t.Fatalf("chat accepted without an ID: %q", body)
		}
		msg := errorMessage(body)
		if d := shorten(msg, maxDetail); utf8.RuneCountInString(d) > maxDetail {
			t.Fatalf("shortened message too long: %q", d)
		}
		if string(body) != orig {
			t.Fatal("the decoders modified the body")
		}
	})
}

func hasTool(tools []ToolExecution, name string) bool {
	for _, tl := range tools {
		if tl.Tool == name {
			return true
		}
	}
	return false
}

func BenchmarkDecodeReply(b *testing.B) {
	body, err := os.ReadFile(filepath.Join("testdata", "replies", "v2_top_level.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeReply(body); err != nil {
			b.Fatal(err)
		}
	}
}
