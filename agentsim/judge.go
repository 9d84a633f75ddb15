package agentsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
)

// JudgeServer is a deterministic grader speaking the OpenAI chat
// completions API (POST /v1/chat/completions), the target of evalrun's
// judge in tests and demos. It grades the reply found between <reply> and
// </reply> in the last user message (or, for a whole conversation, the
// transcript between <transcript> and </transcript>: every user message,
// reply and tool named in it) against the rubric found between <rubric>
// and </rubric>:
//
//   - the terms of the rubric in double quotes ("Growth", "$49") must be
//     mentioned; the score is the fraction of them that the reply contains,
//     ignoring case;
//   - a rubric without quoted terms is graded by its words of four letters
//     or more, the same way.
//
// The answer's content is the JSON object {"score": S, "reason": "..."},
// where the reason lists the missing terms. A rubric containing [fenced]
// gets the JSON inside a ```json code fence after a sentence of prose, to
// exercise clients that parse answers robustly.
//
// A JudgeServer is safe for concurrent use.
type JudgeServer struct {
	// Key, when set, is the API key every request must carry as
	// "Authorization: Bearer KEY"; others get 401.
	Key string

	calls atomic.Int64
	mu    sync.Mutex
	fails []int // statuses to answer the next requests with
}

// NewJudgeServer returns a grader with no key and no planned failures.
func NewJudgeServer() *JudgeServer { return &JudgeServer{} }

// Calls returns how many requests reached the grader (failed ones too).
func (j *JudgeServer) Calls() int64 { return j.calls.Load() }

// FailNext makes the next requests fail with these HTTP statuses, one each,
// in order (429 answers carry Retry-After: 0).
func (j *JudgeServer) FailNext(statuses ...int) {
	j.mu.Lock()
	j.fails = append(j.fails, statuses...)
	j.mu.Unlock()
}

type judgeRequest struct {
	Model       string   `json:"model"`
	Temperature *float64 `json:"temperature"`
	Messages    []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
}

// ServeHTTP serves POST /v1/chat/completions.
func (j *JudgeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/chat/completions" {
		judgeError(w, http.StatusNotFound, "not found: the grader serves POST /v1/chat/completions")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		judgeError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	j.calls.Add(1)
	j.mu.Lock()
	fail := 0
	if len(j.fails) > 0 {
		fail, j.fails = j.fails[0], j.fails[1:]
	}
	j.mu.Unlock()
	if fail != 0 {
		if fail == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "0")
		}
		judgeError(w, fail, "planned failure")
		return
	}
	if j.Key != "" && r.Header.Get("Authorization") != "Bearer "+j.Key {
		judgeError(w, http.StatusUnauthorized, "invalid API key")
		return
	}
	var req judgeRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		judgeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return
	}
	var user string
	for _, m := range req.Messages {
		if m.Role == "user" {
			user = m.Content
		}
	}
	rubric, ok1 := between(user, "<rubric>", "</rubric>")
	reply, ok2 := between(user, "<transcript>", "</transcript>")
	if !ok2 {
		reply, ok2 = between(user, "<reply>", "</reply>")
	}
	switch {
	case req.Model == "":
		judgeError(w, http.StatusBadRequest, "model is required")
		return
	case req.Temperature == nil || *req.Temperature != 0:
		judgeError(w, http.StatusBadRequest, "the grader is deterministic: send temperature 0")
		return
	case !ok1 || !ok2:
		judgeError(w, http.StatusBadRequest, "the last user message must hold <rubric>...</rubric> and <reply>...</reply> (or <transcript>...</transcript>)")
		return
	}
	score, reason := GradeReply(rubric, reply)
	ans, _ := json.Marshal(map[string]any{"score": score, "reason": reason})
	content := string(ans)
	if strings.Contains(rubric, "[fenced]") {
		content = "Here is my grade.\n```json\n" + content + "\n```\n"
	}
	resp := map[string]any{
		"id":      "chatcmpl-sim-" + strconv.FormatInt(j.calls.Load(), 10),
		"object":  "chat.completion",
		"model":   req.Model,
		"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": content}, "finish_reason": "stop"}},
		"usage":   map[string]any{"prompt_tokens": len(strings.Fields(user)), "completion_tokens": len(strings.Fields(content)), "total_tokens": len(strings.Fields(user)) + len(strings.Fields(content))},
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

func judgeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": "invalid_request_error"}})
}

// between returns the text between the last open marker and the close
// marker after it, trimmed.
func between(s, open, close string) (string, bool) {
	i := strings.LastIndex(s, open)
	if i < 0 {
		return "", false
	}
	rest := s[i+len(open):]
	k := strings.Index(rest, close)
	if k < 0 {
		return "", false
	}
	return strings.TrimSpace(rest[:k]), true
}

var quotedTerm = regexp.MustCompile(`"([^"]+)"`)

// GradeReply is the JudgeServer's rule: the fraction of the rubric's
// double-quoted terms (or, without any, of its words of four letters or
// more) that the reply contains, ignoring case, with a reason naming the
// missing ones. A rubric with no term at all scores 1.
func GradeReply(rubric, reply string) (float64, string) {
	var terms []string
	for _, m := range quotedTerm.FindAllStringSubmatch(rubric, -1) {
		terms = append(terms, m[1])
	}
	if len(terms) == 0 {
		for _, w := range strings.FieldsFunc(rubric, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			if len([]rune(w)) >= 4 {
				terms = append(terms, w)
			}
		}
	}
	if len(terms) == 0 {
		return 1, "the rubric names nothing to check"
	}
	lower := strings.ToLower(reply)
	var missing []string
	for _, t := range terms {
		if !strings.Contains(lower, strings.ToLower(t)) {
			missing = append(missing, strconv.Quote(t))
		}
	}
	score := float64(len(terms)-len(missing)) / float64(len(terms))
	score = float64(int(score*1000+0.5)) / 1000
	if len(missing) == 0 {
		return score, fmt.Sprintf("mentions all %d required terms", len(terms))
	}
	return score, fmt.Sprintf("mentions %d of %d required terms; missing %s", len(terms)-len(missing), len(terms), strings.Join(missing, ", "))
}
