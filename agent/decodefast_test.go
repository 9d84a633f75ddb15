package agent

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// fastSeeds are bodies the fast decoders take and bodies they must leave
// to encoding/json.
var fastSeeds = []string{
	`{"agent_id":"a","chat_id":"c","response":"The Growth plan costs $99/mo.","message_id":"m1","timestamp":"2026-01-01T00:00:00Z","tools_executed":[],"handoff_data":null,"metadata":{"processing_time":0.25,"tokens_used":8,"knowledge_chunks_used":1}}`,
	` { "response" : "hi" } `,
	`{"response":"hi","message_id":12,"metadata":{"tokens_used":"7"}}`,
	`{"response":"hi","metadata":null,"tools_executed":null}`,
	`{"response":"hi","extra":{"x":1}}`,
	`{"response":"line\nbreak"}`,
	`{"response":"a","response":"b"}`,
	`{"Response":"a"}`,
	`{"response":"a","metadata":{"Tokens_Used":3}}`,
	`{"response":"a","metadata":{"tokens_used":1e400}}`,
	`{"response":"a","tools_executed":[{"tool":"t","status":"executed"}]}`,
	`{"response":"a","handoff_data":{"to":"x"}}`,
	`{"success":true,"data":{"response":"x"}}`,
	`{"response":"\xff"}`,
	`{"response":"a"} x`,
	`{"response":"a",}`,
	`{"response":01}`,
	`{"chat_id":"chat_1","agent_id":"a","client_id":"c","created_at":"t","status":"active"}`,
	`{"chat_id":""}`,
	`{"chat_id":7}`,
	`{"chat_id":null,"data":{"chat_id":"x"}}`,
	`[]`,
	``,
}

// TestDecodeFastTakesCommonShapes: the bodies of the simulated agent and the
// documented top-level shape go the fast way.
func TestDecodeFastTakesCommonShapes(t *testing.T) {
	for _, tc := range []struct {
		body string
		want bool
	}{
		{fastSeeds[0], true},
		{fastSeeds[1], true},
		{fastSeeds[2], true},
		{fastSeeds[3], true},
		{fastSeeds[5], false}, // escapes
		{fastSeeds[6], false}, // duplicate key
		{fastSeeds[7], false}, // case-folded key
		{fastSeeds[10], false},
		{fastSeeds[12], false}, // envelope
	} {
		if _, ok := decodeReplyFast([]byte(tc.body)); ok != tc.want {
			t.Errorf("decodeReplyFast(%s) took it: %v, want %v", tc.body, ok, tc.want)
		}
	}
	if _, ok := decodeChatFast([]byte(fastSeeds[17])); !ok {
		t.Errorf("decodeChatFast did not take %s", fastSeeds[17])
	}
}

// FuzzDecodeFast: whatever the fast decoders take, encoding/json decodes to
// exactly the same value.
func FuzzDecodeFast(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "replies", "*.json"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if fast, ok := decodeReplyFast(body); ok {
			slow, err := decodeReplySlow(body)
			if err != nil {
				t.Fatalf("fast took %q, encoding/json fails: %v", body, err)
			}
			if !reflect.DeepEqual(fast, slow) {
				t.Fatalf("reply of %q:\nfast %+v\nslow %+v", body, fast, slow)
			}
		}
		if fast, ok := decodeChatFast(body); ok {
			slow, err := decodeChatSlow(body)
			if err != nil {
				t.Fatalf("fast took %q, encoding/json fails: %v", body, err)
			}
			if !reflect.DeepEqual(fast, slow) {
				t.Fatalf("chat of %q:\nfast %+v\nslow %+v", body, fast, slow)
			}
		}
	})
}
