package runner

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/scenarios"
)

// fakeConn is an in-memory agent.Conn with injectable faults. It counts every
// call attempt it receives (as a server would) and the most in flight.
type fakeConn struct {
	// fault, if set, decides the answer to attempt n (1-based, run-wide) of
	// op ("new-chat" or "send") as it arrives; nil means success.
	fault func(n int64, op string) *agent.Error
	// delay is how long each call takes (interrupted by its context).
	delay time.Duration
	// hold, if set, makes every call wait until it is closed (or its context
	// is done); started receives one value per call that began waiting.
	hold    chan struct{}
	started chan struct{}
	// reply builds the reply to a message; nil echoes it.
	reply func(content string) agent.Reply

	attempts    atomic.Int64
	inflight    atomic.Int64
	maxInflight atomic.Int64
	chats       atomic.Int64
}

func (f *fakeConn) enter(ctx context.Context, op string) (*agent.Error, error) {
	n := f.attempts.Add(1)
	var fe *agent.Error // decided when the call arrives, answered after the delay
	if f.fault != nil {
		fe = f.fault(n, op)
	}
	cur := f.inflight.Add(1)
	defer f.inflight.Add(-1)
	for {
		m := f.maxInflight.Load()
		if cur <= m || f.maxInflight.CompareAndSwap(m, cur) {
			break
		}
	}
	if f.hold != nil {
		if f.started != nil {
			f.started <- struct{}{}
		}
		select {
		case <-f.hold:
		case <-ctx.Done():
			return nil, &agent.Error{Kind: agent.KindTimeout, Op: op, Err: ctx.Err()}
		}
	}
	if f.delay > 0 {
		t := time.NewTimer(f.delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, &agent.Error{Kind: agent.KindTimeout, Op: op, Err: ctx.Err()}
		}
	}
	return fe, nil
}

func (f *fakeConn) NewChat(ctx context.Context, req agent.NewChatRequest) (agent.Chat, error) {
	if fe, err := f.enter(ctx, "new-chat"); fe != nil {
		return agent.Chat{}, fe
	} else if err != nil {
		return agent.Chat{}, err
	}
	return agent.Chat{ID: fmt.Sprintf("chat-%d", f.chats.Add(1)), ClientID: req.ClientID}, nil
}

func (f *fakeConn) Send(ctx context.Context, chat agent.Chat, msg agent.Message) (agent.Reply, error) {
	if fe, err := f.enter(ctx, "send"); fe != nil {
		return agent.Reply{}, fe
	} else if err != nil {
		return agent.Reply{}, err
	}
	if f.reply != nil {
		return f.reply(msg.Content), nil
	}
	return agent.Reply{Text: "echo: " + msg.Content}, nil
}

func (f *fakeConn) Health(context.Context) error { return nil }

// recorder is an Observer that keeps everything it is told.
type recorder struct {
	mu    sync.Mutex
	calls []*Call
	convs []*Conversation
}

func (r *recorder) CallDone(c *Call) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, c)
}

func (r *recorder) ConversationDone(c *Conversation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.convs = append(r.convs, c)
}

// byID returns the conversations by ID, failing the test on a duplicate.
func (r *recorder) byID(t *testing.T) map[int]*Conversation {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	m := map[int]*Conversation{}
	for _, c := range r.convs {
		if _, dup := m[c.ID]; dup {
			t.Fatalf("conversation %d reported twice", c.ID)
		}
		m[c.ID] = c
	}
	return m
}

// checkAccounted asserts that conversations 1..n were each reported exactly
// once and nothing else was.
func (r *recorder) checkAccounted(t *testing.T, n int) map[int]*Conversation {
	t.Helper()
	m := r.byID(t)
	if len(m) != n {
		t.Fatalf("reported %d conversations, want %d", len(m), n)
	}
	for id := 1; id <= n; id++ {
		if m[id] == nil {
			t.Fatalf("conversation %d not reported", id)
		}
	}
	return m
}

// scenario builds a scenario with the given number of turns.
func scenario(t testing.TB, name string, turns, repeat int) *scenarios.Scenario {
	t.Helper()
	sc := &scenarios.Scenario{Name: name, Repeat: repeat, MinPassRate: 1, OnFail: scenarios.OnFailStop}
	for i := range turns {
		tpl, err := scenarios.ParseTemplate(fmt.Sprintf("%s turn %d", name, i+1))
		if err != nil {
			t.Fatal(err)
		}
		sc.Turns = append(sc.Turns, &scenarios.Turn{Index: i, User: tpl})
	}
	return sc
}

func suiteOf(scs ...*scenarios.Scenario) *scenarios.Suite {
	return &scenarios.Suite{Scenarios: scs}
}

// fastRetry retries quickly.
var fastRetry = RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: 4 * time.Millisecond, MaxRetryAfter: 20 * time.Millisecond}

// failOn returns an evaluate hook failing every turn whose sent text (the
// echoed reply) contains marker.
func failOn(marker string) func(*scenarios.Turn, *scenarios.Observation, map[string]string) []scenarios.Verdict {
	return func(_ *scenarios.Turn, obs *scenarios.Observation, _ map[string]string) []scenarios.Verdict {
		if strings.Contains(obs.Text, marker) {
			return []scenarios.Verdict{{Expectation: "not_contains " + marker, Reason: "reply contained it"}}
		}
		return []scenarios.Verdict{{Expectation: "anything", Passed: true}}
	}
}

// randomFaults returns a fault injector answering about frac of attempts
// with one of the given errors, from a seeded source.
func randomFaults(seed uint64, frac float64, errs ...*agent.Error) func(int64, string) *agent.Error {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, 7))
	return func(_ int64, op string) *agent.Error {
		mu.Lock()
		defer mu.Unlock()
		if rng.Float64() >= frac {
			return nil
		}
		e := *errs[rng.IntN(len(errs))]
		e.Op = op
		return &e
	}
}

var (
	err429 = &agent.Error{Kind: agent.KindThrottled, Status: 429}
	err500 = &agent.Error{Kind: agent.KindServer, Status: 500}
	err503 = &agent.Error{Kind: agent.KindServer, Status: 503}
	errNet = &agent.Error{Kind: agent.KindTransport, Unsent: true} // e.g. connection refused
	// errSent is a connection broken after the request was written.
	errSent = &agent.Error{Kind: agent.KindTransport}
	err404  = &agent.Error{Kind: agent.KindClient, Status: 404}
)

type atomicCounter struct{ v atomic.Int64 }

func (c *atomicCounter) add()       { c.v.Add(1) }
func (c *atomicCounter) get() int64 { return c.v.Load() }
