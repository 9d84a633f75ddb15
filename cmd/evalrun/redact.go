package main

import (
	"context"
	"encoding/json"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/runner"
	"github.com/evalrun/evalrun/scenarios"
)

// defaultKeyEnv is the default of --api-key-env.
const defaultKeyEnv = "OPTIMLY_API_KEY"

// secret returns the value of the environment variable name, which holds a
// secret (an API key, a value an http target's template sends), and adds it
// to the secrets hidden from everything evalrun writes or prints: stdout,
// stderr, results, transcripts, reports and the judge's cache. Hiding
// covers parts of a secret too (agent.Redactor). Values shorter than
// minSecret are not hidden.
func (a *app) secret(name string) string {
	v := a.getenv(name)
	if len(v) >= minSecret {
		a.redactor().Add(v)
	}
	return v
}

// minSecret is the shortest value hidden as a secret: no real key is
// shorter, and hiding a value of a few letters (a test key such as "k")
// would hide that word everywhere in the output.
const minSecret = 6

// redactor returns the app's redactor, made on first use.
func (a *app) redactor() *agent.Redactor {
	if a.redact == nil {
		a.redact = agent.NewRedactor()
	}
	return a.redact
}

// redactingObserver hides the secrets in every text of a conversation (what
// was sent, the replies, tool data, errors, reasons) before the reports see
// it: the boundary where text from the agent and the judge enters evalrun's
// records. A conversation with nothing to hide is passed on as it is.
type redactingObserver struct {
	runner.Observer
	r *agent.Redactor
}

// ConversationStarted passes the start on when the wrapped Observer wants
// it (the aggregator counts conversations in flight for the progress line).
// A start carries no text from outside, so there is nothing to redact.
func (o redactingObserver) ConversationStarted(c *runner.Conversation) {
	if so, ok := o.Observer.(runner.StartObserver); ok {
		so.ConversationStarted(c)
	}
}

func (o redactingObserver) ConversationDone(c *runner.Conversation) {
	if c == nil || o.r.Empty() {
		o.Observer.ConversationDone(c)
		return
	}
	cp := *c
	cp.Reason = o.r.String(c.Reason)
	cp.Turns = make([]runner.TurnResult, len(c.Turns))
	for i, t := range c.Turns {
		t.Sent, t.Reply, t.Error = o.r.String(t.Sent), o.r.String(t.Reply), o.r.String(t.Error)
		if len(t.Raw) > 0 {
			t.Raw = json.RawMessage(o.r.String(string(t.Raw)))
		}
		if len(t.Tools) > 0 {
			tools := make([]agent.ToolExecution, len(t.Tools))
			for k, tool := range t.Tools {
				tool.Tool, tool.Status = o.r.String(tool.Tool), o.r.String(tool.Status)
				if tool.Data != nil {
					tool.Data, _ = redactValue(o.r, tool.Data).(map[string]any)
				}
				tools[k] = tool
			}
			t.Tools = tools
		}
		if len(t.Verdicts) > 0 {
			vs := make([]scenarios.Verdict, len(t.Verdicts))
			for k, v := range t.Verdicts {
				v.Reason, v.Expectation = o.r.String(v.Reason), o.r.String(v.Expectation)
				vs[k] = v
			}
			t.Verdicts = vs
		}
		cp.Turns[i] = t
	}
	if len(c.Verdicts) > 0 {
		cp.Verdicts = make([]scenarios.Verdict, len(c.Verdicts))
		for k, v := range c.Verdicts {
			v.Reason, v.Expectation = o.r.String(v.Reason), o.r.String(v.Expectation)
			cp.Verdicts[k] = v
		}
	}
	o.Observer.ConversationDone(&cp)
}

// redactValue returns a decoded JSON value with its strings (keys
// included) redacted: v itself when it holds no secret (tool data rarely
// does, so it is not copied), a copy otherwise.
func redactValue(r *agent.Redactor, v any) any {
	if !holdsSecret(r, v) {
		return v
	}
	return redactCopy(r, v)
}

// holdsSecret reports whether redacting a decoded JSON value would change
// any of its strings (keys included).
func holdsSecret(r *agent.Redactor, v any) bool {
	switch x := v.(type) {
	case string:
		return r.String(x) != x
	case map[string]any:
		for k, e := range x {
			if r.String(k) != k || holdsSecret(r, e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if holdsSecret(r, e) {
				return true
			}
		}
	}
	return false
}

// redactCopy returns a copy of a decoded JSON value with its strings (keys
// included) redacted.
func redactCopy(r *agent.Redactor, v any) any {
	switch x := v.(type) {
	case string:
		return r.String(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[r.String(k)] = redactCopy(r, e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = redactCopy(r, e)
		}
		return out
	}
	return v
}

// redactingJudge keeps the secrets from the LLM judge and from what it
// answers: a reply that echoes a key is graded with the key hidden (so it
// reaches neither the judge nor its cache), a transcript's messages too,
// and the judge's reason is redacted too.
type redactingJudge struct {
	scenarios.Judge
	r *agent.Redactor
}

// Grade grades q with every secret hidden from the judge, and hides them in
// the judge's reason.
func (j redactingJudge) Grade(ctx context.Context, q scenarios.GradeRequest) (scenarios.Grade, error) {
	q.Rubric, q.User, q.Reply = j.r.String(q.Rubric), j.r.String(q.User), j.r.String(q.Reply)
	if len(q.Transcript) > 0 {
		ts := make([]scenarios.SimTurn, len(q.Transcript))
		for i, t := range q.Transcript {
			ts[i] = scenarios.SimTurn{User: j.r.String(t.User), Agent: j.r.String(t.Agent), Handoff: t.Handoff}
			for _, tool := range t.Tools { // their data is not the judge's
				ts[i].Tools = append(ts[i].Tools, scenarios.Tool{Name: j.r.String(tool.Name), Status: j.r.String(tool.Status)})
			}
		}
		q.Transcript = ts
	}
	g, err := j.Judge.Grade(ctx, q)
	g.Reason = j.r.String(g.Reason)
	return g, err
}
