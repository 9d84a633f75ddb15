package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/evalrun/evalrun/internal/backoff"
	"github.com/evalrun/evalrun/scenarios"
)

// UserModelOptions configure a UserModel: the endpoint and transport
// (Options), the model, and the retries, rate limit and call cap of the
// judge (see JudgeOptions), which are the user model's own.
type UserModelOptions struct {
	Options
	Model         string
	MaxAttempts   int
	BaseDelay     time.Duration
	MaxDelay      time.Duration
	MaxRetryAfter time.Duration
	Limiter       interface {
		Wait(ctx context.Context) error
	}
	MaxCalls int64
}

// UserModelStats counts a UserModel's work, for reports.
type UserModelStats struct {
	Turns    int64 // Next calls: messages and verdicts asked for
	Calls    int64 // HTTP requests, retries included
	Failures int64 // Next calls that ended in an error
}

// UserModel is a simulated user played by an OpenAI-compatible chat
// completions model (POST {BaseURL}/v1/chat/completions, temperature 0):
// a system prompt gives it the persona and the goal, the conversation so
// far is sent with the agent's replies as the "user" role and its own
// messages as "assistant", and a last instruction asks for one JSON object
// {"message": "...", "done": false} or {"done": true, "goal_met": B,
// "reason": "..."}. An answer that is not such an object is taken as the
// next message as written (a verdict must be JSON). Its calls are not the
// agent's: they have their own retries, rate limit and counters. It
// implements scenarios.UserSimulator and is safe for concurrent use.
type UserModel struct {
	*modelClient

	turns, calls, failures atomic.Int64
}

var _ scenarios.UserSimulator = (*UserModel)(nil)

// userModelSystemPrompt is the simulated user's instructions.
const userModelSystemPrompt = `You play a user who chats with a customer-facing chat agent, to test it.
You are: %s
Your goal: %s
Write as this user would, one short message at a time, never as the agent. Stay in character.
The agent's replies come as user messages; your own earlier messages as assistant messages.`

// userModelNext and userModelVerdict are the last instruction of a request.
const (
	userModelNext    = `Write your next message to the agent. Answer with one JSON object and nothing else: {"message": "..."} to go on, or {"done": true, "goal_met": true|false, "reason": "one short sentence"} when your goal is met or you give up.`
	userModelVerdict = `The conversation is over. Give your verdict on your goal as one JSON object and nothing else: {"done": true, "goal_met": true|false, "reason": "one short sentence"}.`
)

// NewUserModel checks opts and returns a UserModel. It makes no connection.
func NewUserModel(opts UserModelOptions) (*UserModel, error) {
	if strings.TrimSpace(opts.Model) == "" {
		return nil, errors.New("agent: user model: Model is empty: name the chat model that plays the user, e.g. gpt-4o-mini")
	}
	if opts.MaxAttempts < 0 || opts.BaseDelay < 0 || opts.MaxDelay < 0 || opts.MaxRetryAfter < 0 || opts.MaxCalls < 0 {
		return nil, errors.New("agent: user model: retry settings and MaxCalls must not be negative")
	}
	m, err := newModelClient("user model", opts.Options, opts.Model,
		backoff.Policy{MaxAttempts: opts.MaxAttempts, BaseDelay: opts.BaseDelay, MaxDelay: opts.MaxDelay, MaxRetryAfter: opts.MaxRetryAfter},
		opts.Limiter, opts.MaxCalls)
	if err != nil {
		return nil, err
	}
	return &UserModel{modelClient: m}, nil
}

// Stats returns the model's counters so far.
func (u *UserModel) Stats() UserModelStats {
	return UserModelStats{Turns: u.turns.Load(), Calls: u.calls.Load(), Failures: u.failures.Load()}
}

// Next implements scenarios.UserSimulator.
func (u *UserModel) Next(ctx context.Context, q scenarios.SimRequest) (scenarios.SimStep, error) {
	u.turns.Add(1)
	step, err := u.next(ctx, q)
	if err != nil {
		u.failures.Add(1)
	}
	return step, err
}

func (u *UserModel) next(ctx context.Context, q scenarios.SimRequest) (scenarios.SimStep, error) {
	msgs := []map[string]string{{"role": "system", "content": fmt.Sprintf(userModelSystemPrompt, q.Persona, q.Goal)}}
	for _, t := range q.Transcript {
		msgs = append(msgs, map[string]string{"role": "assistant", "content": t.User})
		reply := t.Agent
		for _, tool := range t.Tools {
			reply += fmt.Sprintf("\n[the agent ran the tool %s: %s]", tool.Name, tool.Status)
		}
		if t.Handoff {
			reply += "\n[the agent handed the conversation to a human]"
		}
		msgs = append(msgs, map[string]string{"role": "user", "content": reply})
	}
	instr := userModelNext
	if q.Last {
		instr = userModelVerdict
	}
	msgs = append(msgs, map[string]string{"role": "user", "content": instr})
	body, err := json.Marshal(map[string]any{"model": u.model, "temperature": 0, "messages": msgs})
	if err != nil {
		return scenarios.SimStep{}, &Error{Op: "user model", Kind: KindClient, Detail: "request cannot be encoded as JSON", Err: err}
	}
	var content string
	if e := u.retry(ctx, func() (e *Error) { content, e = u.attempt(ctx, body); return e }); e != nil {
		return scenarios.SimStep{}, e
	}
	return parseUserStep(content, q.Last)
}

// attempt sends one request and returns the first choice's content.
func (u *UserModel) attempt(ctx context.Context, body []byte) (string, *Error) {
	data, status, e := u.post(ctx, body, u.calls.Add)
	if e != nil {
		return "", e
	}
	var resp struct {
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(data, &resp); err != nil || len(resp.Choices) == 0 {
		return "", u.badAnswer("the answer is not a chat completion with a choice", data, status)
	}
	return resp.Choices[0].Message.Content, nil
}

// parseUserStep reads the user model's answer: one JSON object (also in
// a code fence), else the text as the next message. A verdict (last) must
// be JSON with done and goal_met.
func parseUserStep(content string, last bool) (scenarios.SimStep, error) {
	text := strings.TrimSpace(content)
	obj := text
	if i, j := strings.IndexByte(text, '{'), strings.LastIndexByte(text, '}'); i >= 0 && j > i {
		obj = text[i : j+1]
	}
	var a struct {
		Message *string `json:"message"`
		Done    bool    `json:"done"`
		GoalMet *bool   `json:"goal_met"`
		Reason  string  `json:"reason"`
	}
	isJSON := json.Unmarshal([]byte(obj), &a) == nil && (a.Message != nil || a.Done || a.GoalMet != nil)
	switch {
	case isJSON && (a.Done || last):
		if a.GoalMet == nil {
			return scenarios.SimStep{}, &Error{Op: "user model", Kind: KindProtocol, Detail: "its verdict has no goal_met: " + shorten(text, 80)}
		}
		return scenarios.SimStep{Done: true, GoalMet: *a.GoalMet, Reason: oneLine(a.Reason)}, nil
	case last:
		return scenarios.SimStep{}, &Error{Op: "user model", Kind: KindProtocol, Detail: "its verdict is not a JSON object with goal_met: " + shorten(text, 80)}
	case isJSON && a.Message != nil:
		text = *a.Message
	}
	if strings.TrimSpace(text) == "" {
		return scenarios.SimStep{}, &Error{Op: "user model", Kind: KindProtocol, Detail: "it wrote an empty message"}
	}
	return scenarios.SimStep{Message: text}, nil
}

// oneLine collapses white space and cuts s to 200 runes.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 200 {
		s = string(r[:199]) + "…"
	}
	return s
}
