package agent

import (
	"encoding/json"
	"testing"
)

// FuzzDecodeHistory feeds arbitrary bodies to the chat-history parser (the
// answer of GET /external/chat/{id}/messages): it must never panic, and
// every message it accepts comes from valid JSON.
func FuzzDecodeHistory(f *testing.F) {
	for _, s := range []string{
		`[{"message_id":"m1","sender":"user","content":"hi","timestamp":"2025-01-01T00:00:00Z"}]`,
		`{"success":true,"data":[{"id":1,"role":"assistant","content":"yo"}]}`,
		`{"messages":{"messages":{"messages":[]}}}`,
		`{"success":false,"error":"nope","detail":"gone"}`,
		`{"data":{"messages":[{"content":7}]}}`,
		`[`, `null`, `{}`, `[1,2]`, `"x"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		msgs, err := decodeHistory(body)
		if err == nil && !json.Valid(body) {
			t.Fatalf("history accepted from invalid JSON %q: %+v", body, msgs)
		}
	})
}

// FuzzParseJudgeAnswer feeds arbitrary chat completions to the judge's
// parser: no panic, and an accepted grade is within 0..1.
func FuzzParseJudgeAnswer(f *testing.F) {
	for _, s := range []string{
		`{"choices":[{"message":{"content":"{\"score\":0.9,\"reason\":\"ok\"}"}}]}`,
		`{"choices":[{"message":{"content":"` + "```json\\n{\\\"score\\\": 1}\\n```" + `"}}]}`,
		`{"choices":[]}`, `{"choices":[{"message":{"content":null}}]}`, `{"choices":[{"message":{"content":[{"type":"text"}]}}]}`, `[]`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		g, err := parseJudgeAnswer(body)
		if err == nil && !(g.Score >= 0 && g.Score <= 1) {
			t.Fatalf("parseJudgeAnswer(%q) = %+v", body, g)
		}
	})
}

// FuzzJSONPathLookup evaluates arbitrary reply paths (the generic HTTP
// transport's reply: setting) over arbitrary reply bodies: parsing and
// lookup must never panic, whatever the document's shape.
func FuzzJSONPathLookup(f *testing.F) {
	for _, c := range []struct{ path, body string }{
		{"choices[0].message.content", `{"choices":[{"message":{"content":"hi"}}]}`},
		{"$.data['reply']", `{"data":{"reply":"x"}}`},
		{"a[-1]", `{"a":[1,2,3]}`},
		{"a[99999999999999999999]", `{"a":[]}`},
		{"x.y", `[1,{"y":2}]`},
		{"$", `12345678901234567890123456789`},
		{"a", `{"a":`},
	} {
		f.Add(c.path, []byte(c.body))
	}
	f.Fuzz(func(t *testing.T, path string, body []byte) {
		p, err := ParseJSONPath(path)
		if err != nil {
			return
		}
		doc, err := decodeAny(body)
		if err != nil {
			return
		}
		p.Lookup(doc)
		lookupString(p, doc)
	})
}
