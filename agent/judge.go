package agent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/evalrun/evalrun/internal/backoff"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evalrun/evalrun/scenarios"
)

// JudgeOptions configure a Judge. Options carries the endpoint and its
// transport settings (BaseURL, APIKey, Timeout, TLS, ...) as for agent
// transports; the rest is the judge's own.
type JudgeOptions struct {
	Options
	// Model is the chat model that grades, e.g. gpt-4o-mini. Required.
	Model string
	// MaxAttempts is the most attempts of one grading, the first included
	// (default 4). Retries follow the agent calls' policy: throttling,
	// timeouts, transport failures and 502/503/504 are retried with full
	// jitter backoff from BaseDelay (default 250ms) doubling up to MaxDelay
	// (default 10s), honouring Retry-After up to MaxRetryAfter (default 60s).
	MaxAttempts   int
	BaseDelay     time.Duration
	MaxDelay      time.Duration
	MaxRetryAfter time.Duration
	// Limiter, when set, paces every judge request (retries included); it
	// is the judge's own, separate from the agent's limits and quota. A
	// *rate.Limiter fits.
	Limiter interface {
		Wait(ctx context.Context) error
	}
	// MaxCalls caps the judge requests of this Judge (retries included);
	// past it, Grade fails with KindQuotaExhausted. Zero means no cap.
	MaxCalls int64
	// CacheDir holds graded answers, one file per (model, rubric, user
	// message, reply) or (model, rubric, transcript),
	// so that a re-run does not pay twice. "" means
	// $XDG_CACHE_HOME/evalrun/judge (os.UserCacheDir). NoCache turns the
	// disk cache off.
	CacheDir string
	NoCache  bool
}

// JudgeStats counts a Judge's work, for reports.
type JudgeStats struct {
	Grades    int64 // Grade calls
	CacheHits int64 // grades answered from the disk cache (or a concurrent identical grading)
	Calls     int64 // HTTP requests sent to the judge, retries included
	Failures  int64 // grades that ended in an error
}

// Judge grades replies with an OpenAI-compatible chat completions model:
// POST {BaseURL}/v1/chat/completions (a BaseURL already ending in /v1 is
// not doubled) with a system prompt asking for {"score": 0..1, "reason"},
// temperature 0. A request with a Transcript is graded as a whole
// conversation (its own prompt, the messages between <transcript> and
// </transcript>). Answers are parsed robustly (JSON alone, in prose, or in
// a code fence), cached on disk by sha256 of (model, rubric, message and
// reply, or transcript), and identical gradings in flight are made once. Failures are *Error values
// with Op "judge", classified like agent calls; the API key never appears
// in them. A Judge implements scenarios.Judge and is safe for concurrent
// use.
type Judge struct {
	*modelClient
	cacheDir string // "" when the cache is off

	judgeCounts // every grading's, views' included

	mu       sync.Mutex
	inflight map[string]*judgeFlight
}

type judgeFlight struct {
	done  chan struct{}
	grade scenarios.Grade
	err   error
}

var _ scenarios.Judge = (*Judge)(nil)

// judgeSystemPrompt asks for a grade as one JSON object.
const judgeSystemPrompt = `You grade one reply of a customer-facing chat agent against a rubric.
Read the rubric between <rubric> and </rubric>, the user's message between <user> and </user>,
and the agent's reply to it between <reply> and </reply>.
Answer with one JSON object and nothing else: {"score": S, "reason": "R"}
where S is a number from 0 (the reply fails the rubric entirely) to 1 (it meets the rubric fully)
and R is one short sentence saying why.`

// judgeConversationPrompt asks for a grade of a whole conversation
// (scenarios.GradeRequest.Transcript) as one JSON object.
const judgeConversationPrompt = `You grade a whole conversation between a user and a customer-facing chat agent against a rubric.
Read the rubric between <rubric> and </rubric> and the conversation between <transcript> and </transcript>,
oldest first: "user:" starts a message of the user, "agent:" the agent's reply to it, "[tools: ...]" names
the tools the agent ran for that reply and "[handed off to a human]" marks a handoff.
Answer with one JSON object and nothing else: {"score": S, "reason": "R"}
where S is a number from 0 (the conversation fails the rubric entirely) to 1 (it meets the rubric fully)
and R is one short sentence saying why.`

// judgeConversationVersion keys the cache of conversation grades, apart
// from reply grades.
const judgeConversationVersion = "evalrun-judge-conversation-v1"

// judgeCacheVersion changes when the prompt or the cached format does, so
// that old grades are not reused.
const judgeCacheVersion = "evalrun-judge-v2"

// NewJudge checks opts and returns a Judge. It makes no connection; the
// cache directory is created on the first write.
func NewJudge(opts JudgeOptions) (*Judge, error) {
	if strings.TrimSpace(opts.Model) == "" {
		return nil, errors.New("agent: judge: Model is empty: name the chat model that grades, e.g. gpt-4o-mini")
	}
	if opts.MaxAttempts < 0 || opts.BaseDelay < 0 || opts.MaxDelay < 0 || opts.MaxRetryAfter < 0 || opts.MaxCalls < 0 {
		return nil, fmt.Errorf("agent: judge: retry settings and MaxCalls must not be negative (MaxAttempts %d, BaseDelay %v, MaxDelay %v, MaxRetryAfter %v, MaxCalls %d)",
			opts.MaxAttempts, opts.BaseDelay, opts.MaxDelay, opts.MaxRetryAfter, opts.MaxCalls)
	}
	m, err := newModelClient("judge", opts.Options, opts.Model,
		backoff.Policy{MaxAttempts: opts.MaxAttempts, BaseDelay: opts.BaseDelay, MaxDelay: opts.MaxDelay, MaxRetryAfter: opts.MaxRetryAfter},
		opts.Limiter, opts.MaxCalls)
	if err != nil {
		return nil, err
	}
	j := &Judge{modelClient: m, inflight: map[string]*judgeFlight{}}
	if !opts.NoCache {
		j.cacheDir = opts.CacheDir
		if j.cacheDir == "" {
			dir, err := os.UserCacheDir()
			if err != nil {
				return nil, fmt.Errorf("agent: judge: no cache directory (%v); set CacheDir or NoCache", err)
			}
			j.cacheDir = filepath.Join(dir, "evalrun", "judge")
		}
	}
	return j, nil
}

// judgeCounts are the counters behind JudgeStats.
type judgeCounts struct {
	grades, hits, calls, failures atomic.Int64
}

func (c *judgeCounts) stats() JudgeStats {
	return JudgeStats{Grades: c.grades.Load(), CacheHits: c.hits.Load(), Calls: c.calls.Load(), Failures: c.failures.Load()}
}

// add adds n to the counter picked by f on the Judge and on the view v
// (when not nil).
func (j *Judge) add(v *JudgeView, f func(*judgeCounts) *atomic.Int64, n int64) int64 {
	if v != nil {
		f(&v.judgeCounts).Add(n)
	}
	return f(&j.judgeCounts).Add(n)
}

func cGrades(c *judgeCounts) *atomic.Int64   { return &c.grades }
func cHits(c *judgeCounts) *atomic.Int64     { return &c.hits }
func cCalls(c *judgeCounts) *atomic.Int64    { return &c.calls }
func cFailures(c *judgeCounts) *atomic.Int64 { return &c.failures }

// Stats returns the Judge's counts so far, its views' included.
func (j *Judge) Stats() JudgeStats { return j.stats() }

// JudgeView grades with its Judge (same cache, limiter and call cap) and
// counts its own gradings too: one per target of a run that compares
// several, so that each target's report says what grading it cost.
type JudgeView struct {
	j *Judge
	judgeCounts
}

var _ scenarios.Judge = (*JudgeView)(nil)

// View returns a new JudgeView of j with its counts at zero.
func (j *Judge) View() *JudgeView { return &JudgeView{j: j} }

// Grade grades as the Judge does, counting in the view and the Judge.
func (v *JudgeView) Grade(ctx context.Context, q scenarios.GradeRequest) (scenarios.Grade, error) {
	return v.j.gradeCounted(ctx, q, v)
}

// Stats returns the view's counts so far.
func (v *JudgeView) Stats() JudgeStats { return v.stats() }

// CacheDir returns the directory of the disk cache, "" when it is off.
func (j *Judge) CacheDir() string { return j.cacheDir }

// Grade scores q.Reply against q.Rubric, given the user's message q.User
// (see Judge). A cached grade is returned without a call.
func (j *Judge) Grade(ctx context.Context, q scenarios.GradeRequest) (scenarios.Grade, error) {
	return j.gradeCounted(ctx, q, nil)
}

// gradeCounted is Grade, counting also in the view v when not nil.
func (j *Judge) gradeCounted(ctx context.Context, q scenarios.GradeRequest, v *JudgeView) (scenarios.Grade, error) {
	j.add(v, cGrades, 1)
	key := judgeKey(j.model, q.Rubric, q.User, q.Reply)
	if len(q.Transcript) > 0 {
		key = hashParts(judgeConversationVersion, j.model, q.Rubric, formatTranscript(q.Transcript))
	}
	if g, ok := j.readCache(key); ok {
		j.add(v, cHits, 1)
		return g, nil
	}
	j.mu.Lock()
	if f, ok := j.inflight[key]; ok {
		j.mu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			j.add(v, cFailures, 1)
			return scenarios.Grade{}, &Error{Op: "judge", Kind: KindCanceled, Err: ctx.Err()}
		}
		if f.err != nil {
			j.add(v, cFailures, 1)
			return scenarios.Grade{}, f.err
		}
		j.add(v, cHits, 1)
		return f.grade, nil
	}
	f := &judgeFlight{done: make(chan struct{})}
	j.inflight[key] = f
	j.mu.Unlock()

	f.grade, f.err = j.grade(ctx, q, v)
	if f.err == nil {
		j.writeCache(key, f.grade) // a cache that cannot be written only costs a re-grade
	} else {
		j.add(v, cFailures, 1)
	}
	j.mu.Lock()
	delete(j.inflight, key)
	j.mu.Unlock()
	close(f.done)
	return f.grade, f.err
}

// grade asks the model, retrying retryable failures.
func (j *Judge) grade(ctx context.Context, q scenarios.GradeRequest, v *JudgeView) (scenarios.Grade, error) {
	system, content := judgeSystemPrompt, "<rubric>\n"+q.Rubric+"\n</rubric>\n\n<user>\n"+q.User+"\n</user>\n\n<reply>\n"+q.Reply+"\n</reply>"
	if len(q.Transcript) > 0 {
		system, content = judgeConversationPrompt, "<rubric>\n"+q.Rubric+"\n</rubric>\n\n<transcript>\n"+formatTranscript(q.Transcript)+"</transcript>"
	}
	body, err := json.Marshal(map[string]any{
		"model":       j.model,
		"temperature": 0,
		"messages": []map[string]string{
			{"role": "system", "content": system},
			{"role": "user", "content": content},
		},
	})
	if err != nil {
		return scenarios.Grade{}, &Error{Op: "judge", Kind: KindClient, Detail: "request cannot be encoded as JSON", Err: err}
	}
	var g scenarios.Grade
	if e := j.retry(ctx, func() (e *Error) { g, e = j.attempt(ctx, body, v); return e }); e != nil {
		return scenarios.Grade{}, e
	}
	return g, nil
}

// attempt sends one request.
func (j *Judge) attempt(ctx context.Context, body []byte, v *JudgeView) (scenarios.Grade, *Error) {
	data, status, e := j.post(ctx, body, func(n int64) int64 { return j.add(v, cCalls, n) })
	if e != nil {
		return scenarios.Grade{}, e
	}
	g, err := parseJudgeAnswer(data)
	if err != nil {
		return scenarios.Grade{}, j.badAnswer(err.Error(), data, status)
	}
	return g, nil
}

// parseJudgeAnswer reads a chat completion and the grade in its first
// choice's content.
func parseJudgeAnswer(body []byte) (scenarios.Grade, error) {
	var resp struct {
		Choices []struct {
			Message struct {
				Content json.RawMessage `json:"content"`
			} `json:"message"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return scenarios.Grade{}, fmt.Errorf("not a chat completion: %w", err)
	}
	if len(resp.Choices) == 0 {
		return scenarios.Grade{}, errors.New("chat completion has no choices")
	}
	var content string
	if err := json.Unmarshal(resp.Choices[0].Message.Content, &content); err != nil {
		return scenarios.Grade{}, errors.New("chat completion's message has no text content")
	}
	return parseGrade(content)
}

// parseGrade finds the grade {"score": S, "reason": R} in a model's
// answer: the whole text when it is one JSON object, else, among the JSON
// objects with a "score" in the text (in ``` code fences or in prose), the
// grade the judge gave: the last one the text announces as its grade
// ("My grade:", "Final answer:", "Verdict:"), else the last one not
// introduced as an example ("Example format:", "e.g."), else the last.
// A model that explains itself quotes the format before it answers
// ("Example format: {"score": 1} … My grade: {"score": 0.1}" is 0.1). S may
// be a number or a numeric string and must be within 0..1.
func parseGrade(text string) (scenarios.Grade, error) {
	whole := strings.TrimSpace(text)
	if g, err := gradeOf(whole); err != errNoScore {
		return g, err
	}
	objs := jsonObjects(text)
	if len(objs) == 0 {
		return scenarios.Grade{}, errors.New(`no JSON object {"score", "reason"} in the answer`)
	}
	pick, rank := -1, -1
	for i, o := range objs {
		if _, err := gradeOf(o.text); err == errNoScore {
			continue
		}
		r := 1 // plain
		switch {
		case gradeLead.MatchString(o.lead):
			r = 2
		case exampleLead.MatchString(o.lead):
			r = 0
		}
		if r >= rank {
			pick, rank = i, r
		}
	}
	if pick < 0 {
		return scenarios.Grade{}, errors.New(`the answer's JSON has no "score"`)
	}
	return gradeOf(objs[pick].text)
}

// gradeLead and exampleLead tell, from the words just before a JSON
// object, a grade announced as such from an example of the format.
var (
	gradeLead   = regexp.MustCompile(`(?i)\b(my|final|actual|overall)\s+(grade|score|answer|verdict|assessment|evaluation)\b[^{}]{0,20}$|\b(grade|verdict|final answer|result)\s*[:=]?\s*$`)
	exampleLead = regexp.MustCompile(`(?i)(\b(example|format|for instance|such as|like this|template|schema)\b|\be\.g\.)[^{}]{0,30}$`)
)

var errNoScore = errors.New("no score")

// gradeOf decodes one JSON object as a grade.
func gradeOf(c string) (scenarios.Grade, error) {
	var a struct {
		Score  json.RawMessage `json:"score"`
		Reason any             `json:"reason"`
	}
	dec := json.NewDecoder(strings.NewReader(c))
	if err := dec.Decode(&a); err != nil {
		return scenarios.Grade{}, errNoScore
	}
	if dec.More() {
		return scenarios.Grade{}, errNoScore // more than one value: not the whole answer
	}
	if len(a.Score) == 0 || string(a.Score) == "null" {
		return scenarios.Grade{}, errNoScore
	}
	s := strings.Trim(string(a.Score), `"`)
	score, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(score) {
		return scenarios.Grade{}, fmt.Errorf("score %s is not a number", shorten(string(a.Score), 20))
	}
	if score < 0 || score > 1 {
		return scenarios.Grade{}, fmt.Errorf("score %s is outside 0..1", strconv.FormatFloat(score, 'f', -1, 64))
	}
	reason := ""
	if a.Reason != nil {
		if r, ok := a.Reason.(string); ok {
			reason = r
		} else {
			b, _ := json.Marshal(a.Reason)
			reason = string(b)
		}
	}
	return scenarios.Grade{Score: score, Reason: shorten(reason, 300)}, nil
}

// jsonObject is one JSON object found in prose, with the words that lead
// up to it (at most 60 bytes, code fence marks dropped).
type jsonObject struct{ text, lead string }

// jsonObjects returns the outermost JSON objects in text, in order: at
// each '{' not inside an object already found, the longest prefix that
// decodes as one object.
func jsonObjects(text string) []jsonObject {
	var out []jsonObject
	prev := 0
	for i := 0; i < len(text); {
		k := strings.IndexByte(text[i:], '{')
		if k < 0 {
			break
		}
		i += k
		dec := json.NewDecoder(strings.NewReader(text[i:]))
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			i++
			continue
		}
		lead := strings.TrimRight(text[prev:i], " \t\r\n`")
		lead = strings.TrimSuffix(strings.TrimSuffix(lead, "json"), "JSON")
		lead = strings.TrimRight(lead, " \t\r\n`")
		if len(lead) > 60 {
			lead = lead[len(lead)-60:]
		}
		n := int(dec.InputOffset())
		out = append(out, jsonObject{text: text[i : i+n], lead: lead})
		i += n
		prev = i
	}
	return out
}

// formatTranscript writes a conversation for the judge, one line per
// message ("user: ...", "agent: ..."), lines after a message's first
// indented by two spaces, then the reply's tools and handoff in brackets.
func formatTranscript(ts []scenarios.SimTurn) string {
	var b strings.Builder
	line := func(who, text string) {
		b.WriteString(who)
		b.WriteString(": ")
		b.WriteString(strings.ReplaceAll(strings.TrimRight(text, "\n"), "\n", "\n  "))
		b.WriteByte('\n')
	}
	for _, t := range ts {
		line("user", t.User)
		line("agent", t.Agent)
		if len(t.Tools) > 0 {
			names := make([]string, len(t.Tools))
			for i, tool := range t.Tools {
				names[i] = tool.Name
				if tool.Status != "" {
					names[i] += " (" + tool.Status + ")"
				}
			}
			b.WriteString("[tools: " + strings.Join(names, ", ") + "]\n")
		}
		if t.Handoff {
			b.WriteString("[handed off to a human]\n")
		}
	}
	return b.String()
}

// judgeKey is the cache key of a grading of one reply.
func judgeKey(model, rubric, user, reply string) string {
	return hashParts(judgeCacheVersion, model, rubric, user, reply)
}

// hashParts is the hex sha256 of the parts, each prefixed by its length.
func hashParts(parts ...string) string {
	h := sha256.New()
	for _, s := range parts {
		h.Write([]byte(strconv.Itoa(len(s))))
		h.Write([]byte{0})
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil))
}

type judgeCached struct {
	Score  float64 `json:"score"`
	Reason string  `json:"reason"`
}

func (j *Judge) cachePath(key string) string {
	return filepath.Join(j.cacheDir, key[:2], key+".json")
}

func (j *Judge) readCache(key string) (scenarios.Grade, bool) {
	if j.cacheDir == "" {
		return scenarios.Grade{}, false
	}
	data, err := os.ReadFile(j.cachePath(key))
	if err != nil {
		return scenarios.Grade{}, false
	}
	var c judgeCached
	if json.Unmarshal(data, &c) != nil || !(c.Score >= 0 && c.Score <= 1) {
		return scenarios.Grade{}, false // a damaged entry is graded again
	}
	return scenarios.Grade{Score: c.Score, Reason: c.Reason}, true
}

// writeCache stores a grade atomically: a temporary file renamed into
// place, so a reader never sees half an entry.
func (j *Judge) writeCache(key string, g scenarios.Grade) error {
	if j.cacheDir == "" {
		return nil
	}
	path := j.cachePath(key)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	// A judge that echoes its key does not get it into the cache.
	data, _ := json.Marshal(judgeCached{Score: g.Score, Reason: j.redact(g.Reason)})
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	_, werr := writeAll(f, data)
	cerr := f.Close()
	if werr != nil || cerr != nil {
		os.Remove(f.Name())
		return errors.Join(werr, cerr)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

func writeAll(f *os.File, data []byte) (int64, error) {
	return bytes.NewReader(data).WriteTo(f)
}
