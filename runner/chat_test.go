package runner

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/scenarios"
)

// localChatConn is a fakeConn whose chats are kept client-side, as the
// openai transport keeps them: NewChat makes no call and costs nothing.
type localChatConn struct {
	*fakeConn
	opened atomic.Int64
}

func (l *localChatConn) NewChat(_ context.Context, req agent.NewChatRequest) (agent.Chat, error) {
	return agent.Chat{ID: fmt.Sprintf("local-%d", l.opened.Add(1)), ClientID: req.ClientID}, nil
}

func (l *localChatConn) NewChatCalls() int { return 0 }

// TestEstimateNewChatCalls checks the estimates with chats that cost no
// call: every estimate counts turns only, and they agree with each other.
func TestEstimateNewChatCalls(t *testing.T) {
	// Run order: a0 (2 turns), b0 (4), a1 (2), a2 (2), a3 (2), a4 (2).
	suite := suiteOf(scenario(t, "a", 2, 5), scenario(t, "b", 4, 1))
	free := NewChatCalls(0)
	tests := []struct {
		name string
		got  Estimate
		want Estimate
	}{
		{"default: a new chat is a call", EstimateCost(suite, 1, 0),
			Estimate{Conversations: 6, Calls: 20, NewChats: 6, CostPerCall: 1, Cost: 20, WorstCase: 20}},
		{"explicit 1", EstimateCost(suite, 1, 0, NewChatCalls(1)),
			Estimate{Conversations: 6, Calls: 20, NewChats: 6, CostPerCall: 1, Cost: 20, WorstCase: 20}},
		{"free chats", EstimateCost(suite, 1, 0, free),
			Estimate{Conversations: 6, Calls: 14, CostPerCall: 1, Cost: 14, WorstCase: 14}},
		{"negative counts as 0", EstimateCost(suite, 1, 0, NewChatCalls(-3)),
			Estimate{Conversations: 6, Calls: 14, CostPerCall: 1, Cost: 14, WorstCase: 14}},
		{"free chats, messages, allowance", EstimateCost(suite, 2, 0.25, free),
			Estimate{Conversations: 6, Calls: 14, CostPerCall: 2, Cost: 28, RetryAllowance: 7, WorstCase: 35}},
		{"zero shard", Shard{}.EstimateCost(suite, 6, 1, 0, free),
			Estimate{Conversations: 6, Calls: 14, CostPerCall: 1, Cost: 14, WorstCase: 14}},
		{"shard 1 of 2: a0 a1 a3", Shard{1, 2}.EstimateCost(suite, 6, 1, 0, free),
			Estimate{Conversations: 3, Calls: 6, CostPerCall: 1, Cost: 6, WorstCase: 6}},
		{"two passes", mustSchedule(t, suite, Load{Repeat: 2}, free),
			Estimate{Conversations: 12, Calls: 28, CostPerCall: 1, Cost: 28, WorstCase: 28}},
		{"two passes, chats cost", mustSchedule(t, suite, Load{Repeat: 2}),
			Estimate{Conversations: 12, Calls: 40, NewChats: 12, CostPerCall: 1, Cost: 40, WorstCase: 40}},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, tt.got, tt.want)
		}
	}

	fits := []struct {
		name     string
		headroom int64
		opts     []CostOption
		wantN    int64
		wantWC   int64
	}{
		// Prefix costs with free chats 2, 6, 8, 10, 12, 14; with paid 3, 8, 11, ...
		{"free: all fit exactly", 14, []CostOption{free}, 6, 14},
		{"free: one short", 13, []CostOption{free}, 5, 12},
		{"paid: the same headroom fits fewer", 14, nil, 4, 14},
		{"free: stops at the big one", 5, []CostOption{free}, 1, 2},
	}
	for _, tt := range fits {
		n, e := FitConversations(suite, tt.headroom, 1, 0, tt.opts...)
		if int64(n) != tt.wantN || e.WorstCase != tt.wantWC {
			t.Errorf("FitConversations %s: %d (%+v), want %d with worst case %d", tt.name, n, e, tt.wantN, tt.wantWC)
		}
		m, se := Shard{}.Fit(suite, 6, tt.headroom, 1, 0, tt.opts...)
		if m != tt.wantN || se != e {
			t.Errorf("Shard.Fit %s: %d (%+v), want %d (%+v)", tt.name, m, se, tt.wantN, e)
		}
		l, le := FitSchedule(suite, Load{}, tt.headroom, 1, 0, tt.opts...)
		if l != tt.wantN || le != e {
			t.Errorf("FitSchedule %s: %d (%+v), want %d (%+v)", tt.name, l, le, tt.wantN, e)
		}
	}
}

func mustSchedule(t *testing.T, suite *scenarios.Suite, l Load, opts ...CostOption) Estimate {
	t.Helper()
	e, ok := ScheduleEstimate(suite, l, 1, 0, opts...)
	if !ok {
		t.Fatalf("load %+v: not bounded", l)
	}
	return e
}

// TestRunFreeNewChats runs a suite against a budget of exactly its turns:
// with chats kept client-side every conversation runs and the budget is
// spent to the last unit on turns; with chats that cost a call the same
// budget leaves conversations not run. A free chat is no call: it is not
// reported to the Observer.
func TestRunFreeNewChats(t *testing.T) {
	suite := suiteOf(scenario(t, "a", 2, 3), scenario(t, "b", 3, 1)) // 4 conversations, 9 turns
	const turns = 9
	tests := []struct {
		name          string
		conn          func() agent.Conn
		wantPassed    int
		wantNewChats  int
		wantServerHit int64
	}{
		{"chats kept client-side", func() agent.Conn { return &localChatConn{fakeConn: &fakeConn{}} }, 4, 0, turns},
		// Run order a0 (3), b0 (4): 7 of 9 units, then a1 (3) does not fit.
		{"chats cost a call", func() agent.Conn { return &fakeConn{} }, 2, 2, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := tt.conn()
			if want := EstimateCost(suite, 1, 0, NewChatCalls(agent.NewChatCost(conn))); tt.wantNewChats == 0 && want.WorstCase != turns {
				t.Fatalf("estimate %+v, want a worst case of %d", want, turns)
			}
			rec := &recorder{}
			budget := NewBudget(turns, 1, 0)
			sum, err := Run(context.Background(), suite, Options{Conn: conn, Budget: budget, Observer: rec,
				Retry: fastRetry, CallTimeout: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if sum.Outcomes[Passed] != tt.wantPassed || sum.Outcomes[NotRun] != 4-tt.wantPassed {
				t.Errorf("outcomes %v, want %d passed and the rest not run", sum.Outcomes, tt.wantPassed)
			}
			var newChats int
			for _, c := range rec.calls {
				if c.Kind == CallNewChat {
					newChats++
				}
			}
			if newChats != tt.wantNewChats {
				t.Errorf("%d new-chat calls reported, want %d", newChats, tt.wantNewChats)
			}
			var hits int64
			switch c := conn.(type) {
			case *localChatConn:
				hits = c.attempts.Load()
			case *fakeConn:
				hits = c.attempts.Load()
			}
			if hits != tt.wantServerHit || budget.Spent() != hits || sum.Attempts != hits {
				t.Errorf("server saw %d calls, budget spent %d, summary %d attempts; want %d", hits, budget.Spent(), sum.Attempts, tt.wantServerHit)
			}
			for _, c := range rec.byID(t) {
				if c.Outcome == Passed && c.ChatID == "" {
					t.Errorf("conversation %d has no chat id", c.ID)
				}
			}
		})
	}
}
