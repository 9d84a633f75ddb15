package agentsim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestGradeReply(t *testing.T) {
	tests := []struct {
		rubric, reply string
		score         float64
		reason        string
	}{
		{`Must mention "Growth" and "$49".`, "growth costs $49", 1, "mentions all 2 required terms"},
		{`Must mention "Growth" and "$49".`, "Growth is great", 0.5, `mentions 1 of 2 required terms; missing "$49"`},
		{`"a" "b" "c"`, "b", 0.333, `mentions 1 of 3 required terms; missing "a", "c"`},
		{"polite and helpful", "I am helpful", 0.5, `mentions 1 of 2 required terms; missing "polite"`},
		{"ok", "anything", 1, "the rubric names nothing to check"},
	}
	for _, tt := range tests {
		s, r := GradeReply(tt.rubric, tt.reply)
		if s != tt.score || r != tt.reason {
			t.Errorf("GradeReply(%q, %q) = %v, %q; want %v, %q", tt.rubric, tt.reply, s, r, tt.score, tt.reason)
		}
	}
}

func TestJudgeServerHTTP(t *testing.T) {
	js := NewJudgeServer()
	js.Key = "k1"
	srv := httptest.NewServer(js)
	defer srv.Close()
	post := func(path, key, body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		json.NewDecoder(resp.Body).Decode(&v)
		b, _ := json.Marshal(v)
		return resp.StatusCode, string(b)
	}
	good := `{"model":"m","temperature":0,"messages":[{"role":"system","content":"x"},{"role":"user","content":"<rubric>\n\"hi\"\n</rubric>\n<reply>\nHi there\n</reply>"}]}`
	if code, body := post("/v1/chat/completions", "k1", good); code != 200 || !strings.Contains(body, `{\"reason\":\"mentions all 1 required terms\",\"score\":1}`) {
		t.Errorf("good: %d %s", code, body)
	}
	// A whole conversation: every line of the transcript counts.
	conv := `{"model":"m","temperature":0,"messages":[{"role":"user","content":"<rubric>\n\"email\" \"lead_capture\" \"Scale\"\n</rubric>\n\n<transcript>\nuser: my email is a@b.c\nagent: Saved.\n[tools: lead_capture (executed)]\n</transcript>"}]}`
	if code, body := post("/v1/chat/completions", "k1", conv); code != 200 || !strings.Contains(body, `{\"reason\":\"mentions 2 of 3 required terms; missing \\\"Scale\\\"\",\"score\":0.667}`) {
		t.Errorf("transcript: %d %s", code, body)
	}
	for _, tt := range []struct {
		path, key, body string
		code            int
	}{
		{"/v1/other", "k1", good, 404},
		{"/v1/chat/completions", "bad", good, 401},
		{"/v1/chat/completions", "k1", strings.Replace(good, `"temperature":0`, `"temperature":0.7`, 1), 400},
		{"/v1/chat/completions", "k1", strings.Replace(good, "<reply>", "", 1), 400},
		{"/v1/chat/completions", "k1", "{", 400},
	} {
		if code, body := post(tt.path, tt.key, tt.body); code != tt.code {
			t.Errorf("%s %s: %d %s, want %d", tt.path, tt.key, code, body, tt.code)
		}
	}
	js.FailNext(429)
	if code, _ := post("/v1/chat/completions", "k1", good); code != 429 {
		t.Errorf("FailNext: %d", code)
	}
	if js.Calls() != 7 {
		t.Errorf("Calls = %d, want 7 (404 is not counted)", js.Calls())
	}
}
