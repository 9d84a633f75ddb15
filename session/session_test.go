package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/ledger"
	"github.com/evalrun/evalrun/runner"
	"github.com/evalrun/evalrun/scenarios"
)

// countingAgent is an Optimly-shaped agent (a plain net/http server, not
// agentsim) that counts every request it receives: the calls a quota
// counts.
type countingAgent struct {
	*httptest.Server
	calls atomic.Int64
	chats atomic.Int64
}

func newCountingAgent(t *testing.T) *countingAgent {
	t.Helper()
	a := &countingAgent{}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/new-chat") {
			fmt.Fprintf(w, `{"chat_id":"c%d"}`, a.chats.Add(1))
			return
		}
		fmt.Fprint(w, `{"response":"Hello from Brightdesk"}`)
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *countingAgent) conn(t *testing.T) agent.Conn {
	t.Helper()
	c, err := agent.NewOptimly(agent.Options{BaseURL: a.URL, APIKey: "test-key"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// suite is repeat conversations of two turns each: 3 calls a conversation
// (a new chat and two turns).
func suite(t *testing.T, repeat int) *scenarios.Suite {
	t.Helper()
	src := fmt.Sprintf(`name: hello
repeat: %d
turns:
  - user: "Hello"
    expect:
      - icontains: brightdesk
  - user: "Still there?"
`, repeat)
	scs, err := scenarios.Parse("hello.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return &scenarios.Suite{Scenarios: scs}
}

func openAccount(t *testing.T, path string) *Account {
	t.Helper()
	ac, err := OpenAccount(path, "test-key", "TEST_KEY", 1, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return ac
}

func TestPlanQuota(t *testing.T) {
	s := suite(t, 10) // 30 calls expected
	full := runner.EstimateCost(s, 1, 0.1)
	fitsTen, _ := runner.FitConversations(s, 10, 1, 0.1)
	exhausted := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		q       Quota
		share   func(int64) int64
		u       ledger.Usage
		refused string // a part of the refusal; "" when the run may start
		exhaust bool
		maxConv int64
		head    int64
	}{
		{name: "unlimited", q: Quota{Limit: -1}, head: -1},
		{name: "fits", q: Quota{Limit: 1000}, head: 1000},
		{name: "used and reserved count", q: Quota{Limit: 1000, Used: 100}, u: ledger.Usage{Calls: 200, Reserved: 50}, head: 650},
		{name: "does not fit", q: Quota{Limit: full.WorstCase - 1}, refused: "--partial runs the", head: full.WorstCase - 1},
		{name: "not one conversation", q: Quota{Limit: 2}, refused: "not even one conversation fits", head: 2},
		{name: "partial", q: Quota{Limit: 10, Partial: true}, maxConv: int64(fitsTen), head: 10},
		{name: "messages cost 2 a call", q: Quota{Limit: full.WorstCase, CostPerCall: 2, Unit: "messages"}, refused: "messages", head: full.WorstCase},
		{name: "shard's share", q: Quota{Limit: 1000}, share: func(h int64) int64 { return h / 4 }, head: 250},
		{name: "exhausted", q: Quota{Limit: 1000}, u: ledger.Usage{Calls: 1000, Exhausted: exhausted}, refused: "2026-12-01 10:00 UTC", exhaust: true, head: 0},
		{name: "exhausted but upgraded", q: Quota{Limit: 5000}, u: ledger.Usage{Calls: 1000, Exhausted: exhausted}, head: 4000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.q.Retries = 0.1
			p, err := PlanQuota(tt.q, SuiteCost(s, 0.1), tt.share, tt.u)
			if err != nil {
				t.Fatal(err)
			}
			if p.Headroom != tt.head {
				t.Errorf("headroom %d, want %d", p.Headroom, tt.head)
			}
			if p.MaxConv != tt.maxConv {
				t.Errorf("MaxConv %d, want %d", p.MaxConv, tt.maxConv)
			}
			err = p.Err()
			if tt.refused == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if p.Limit >= 0 && p.Est.WorstCase > p.Headroom {
					t.Errorf("worst case %d passes the headroom %d", p.Est.WorstCase, p.Headroom)
				}
				return
			}
			var re *RefusedError
			if !errors.As(err, &re) {
				t.Fatalf("err %v, want a *RefusedError", err)
			}
			if re.Exhausted != tt.exhaust {
				t.Errorf("Exhausted %v, want %v", re.Exhausted, tt.exhaust)
			}
			if !strings.Contains(err.Error(), tt.refused) {
				t.Errorf("refusal %q does not say %q", err, tt.refused)
			}
			if p.ReserveCalls() != 0 {
				t.Errorf("a refused run reserves %d calls", p.ReserveCalls())
			}
		})
	}
}

func TestQuotaValidate(t *testing.T) {
	for _, tt := range []struct {
		q     Quota
		field string
	}{
		{Quota{Retries: 1.5}, "Quota.Retries"},
		{Quota{Retries: -0.1}, "Quota.Retries"},
		{Quota{Used: -1}, "Quota.Used"},
		{Quota{CostPerCall: -2}, "Quota.CostPerCall"},
	} {
		_, err := PlanQuota(tt.q, SuiteCost(&scenarios.Suite{}, 0), nil, ledger.Usage{})
		if err == nil || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("%+v: err %v, want one naming %s", tt.q, err, tt.field)
		}
	}
}

// TestReserveTwoRuns: two runs on one key never spend the same headroom;
// the second is refused while the first holds its reservation, and fits
// once it is released.
func TestReserveTwoRuns(t *testing.T) {
	s := suite(t, 10)
	path := filepath.Join(t.TempDir(), "ledger.json")
	q := Quota{Limit: 50, Retries: 0.1}
	cf := SuiteCost(s, q.Retries)
	one, two := openAccount(t, path), openAccount(t, path)

	p1, err := Check(q, cf, nil, one)
	if err != nil || p1.Err() != nil {
		t.Fatalf("check: %v %v", err, p1.Err())
	}
	p2, err := Check(q, cf, nil, two)
	if err != nil || p2.Err() != nil {
		t.Fatalf("check: %v %v", err, p2.Err())
	}
	if _, err := Reserve(q, p1, one, cf, nil, "run-1", "http://127.0.0.1"); err != nil {
		t.Fatalf("first reservation: %v", err)
	}
	_, err = Reserve(q, p2, two, cf, nil, "run-2", "http://127.0.0.1")
	var re *RefusedError
	if !errors.As(err, &re) || re.Exhausted {
		t.Fatalf("second reservation: %v, want a refusal (not exhausted)", err)
	}
	for _, want := range []string{"reserved by other runs in progress", "fingerprint", path} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}
	if err := Release(one, "run-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := Reserve(q, p2, two, cf, nil, "run-2", "http://127.0.0.1"); err != nil {
		t.Fatalf("after the first is released: %v", err)
	}
}

// TestRunRecordsEveryCall: a run through the package's steps charges the
// ledger exactly the calls the agent received, and releases its
// reservation.
func TestRunRecordsEveryCall(t *testing.T) {
	for _, tt := range []struct {
		name    string
		limit   int64
		partial bool
		convs   int64 // conversations the agent must see (partial: the plan's)
	}{
		{"fits", 1000, false, 5},
		{"partial", 8, true, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := suite(t, 5)
			ag := newCountingAgent(t)
			path := filepath.Join(t.TempDir(), "ledger.json")
			ac := openAccount(t, path)
			q := Quota{Limit: tt.limit, Retries: 0.1, Partial: tt.partial}
			cf := SuiteCost(s, q.Retries)
			p, err := Check(q, cf, nil, ac)
			if err != nil {
				t.Fatal(err)
			}
			if p, err = Reserve(q, p, ac, cf, nil, "run-1", ag.URL); err != nil {
				t.Fatal(err)
			}
			u, err := ac.Ledger.Usage(ac.Fingerprint, ac.Cycle, "")
			if err != nil {
				t.Fatal(err)
			}
			if u.Reserved != p.ReserveCalls() || u.Reserved == 0 {
				t.Fatalf("reserved %d, want %d", u.Reserved, p.ReserveCalls())
			}
			opts := runner.Options{Conn: ag.conn(t), Concurrency: 2, Budget: p.Budget(q.Retries),
				MaxConversations: int(p.MaxConv), RunID: "run-1"}
			lr := StartLedger(ac, "run-1", &opts)
			sum, runErr := runner.Run(context.Background(), s, opts)
			if runErr != nil {
				t.Fatal(runErr)
			}
			if err := lr.Finish(sum, runErr, p); err != nil {
				t.Fatal(err)
			}
			if tt.partial && p.MaxConv <= 0 {
				t.Fatalf("--partial ran the whole suite under quota %d", tt.limit)
			}
			if tt.partial {
				tt.convs = p.MaxConv
			}
			if got := ag.chats.Load(); got != tt.convs {
				t.Errorf("agent saw %d conversations, want %d", got, tt.convs)
			}
			u, err = ac.Ledger.Usage(ac.Fingerprint, ac.Cycle, "")
			if err != nil {
				t.Fatal(err)
			}
			if u.Calls != ag.calls.Load() || u.Reserved != 0 {
				t.Errorf("ledger: %d calls, %d reserved; the agent received %d calls", u.Calls, u.Reserved, ag.calls.Load())
			}
			if tt.limit >= 0 && u.Calls > tt.limit {
				t.Errorf("%d calls passed the quota %d", u.Calls, tt.limit)
			}
		})
	}
}

// TestExhaustedRefusesNextRun: a run the server stopped with "quota used
// up" marks the cycle, and the next run on the key is refused as one that
// cannot finish.
func TestExhaustedRefusesNextRun(t *testing.T) {
	s := suite(t, 1)
	path := filepath.Join(t.TempDir(), "ledger.json")
	ac := openAccount(t, path)
	q := Quota{Limit: 100, Retries: 0.1}
	cf := SuiteCost(s, q.Retries)
	p, err := Check(q, cf, nil, ac)
	if err != nil {
		t.Fatal(err)
	}
	if p, err = Reserve(q, p, ac, cf, nil, "run-1", "http://127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	opts := runner.Options{}
	lr := StartLedger(ac, "run-1", &opts)
	opts.Observer.CallDone(&runner.Call{Attempts: 3})
	if err := lr.Finish(nil, fmt.Errorf("turn 2: %w", runner.ErrQuotaExhausted), p); err != nil {
		t.Fatal(err)
	}
	p, err = Check(q, cf, nil, ac)
	if err != nil {
		t.Fatal(err)
	}
	var re *RefusedError
	if err := p.Err(); !errors.As(err, &re) || !re.Exhausted {
		t.Fatalf("next run: %v, want a refusal with Exhausted", err)
	}
	u, _ := ac.Ledger.Usage(ac.Fingerprint, ac.Cycle, "")
	if u.Calls != 100 {
		t.Errorf("used %d calls after the server said exhausted, want the quota (100)", u.Calls)
	}
}

// TestLedgerErrorTyped: a ledger that cannot be opened is a *LedgerError.
func TestLedgerErrorTyped(t *testing.T) {
	dir := t.TempDir()
	_, err := OpenAccount(dir, "k", "K", 1, time.Now()) // a directory, not a file
	var le *LedgerError
	if err != nil && !errors.As(err, &le) {
		t.Fatalf("err %v (%T), want a *LedgerError", err, err)
	}
	if _, err := OpenAccount(filepath.Join(dir, "l.json"), "k", "K", 29, time.Now()); err == nil {
		t.Error("cycle start day 29 accepted")
	}
}

// recorder is a runner.Observer that counts what it hears.
type recorder struct{ calls, dones int }

func (r *recorder) CallDone(*runner.Call)                 { r.calls++ }
func (r *recorder) ConversationDone(*runner.Conversation) { r.dones++ }

// startRecorder is a recorder that also hears conversation starts.
type startRecorder struct {
	recorder
	starts int
}

func (r *startRecorder) ConversationStarted(*runner.Conversation) { r.starts++ }

// TestStartLedgerObserver: the observer StartLedger puts in front of the
// run's counts every attempt and passes calls, ends and (to an observer
// that wants them) starts on; with none, it discards them.
func TestStartLedgerObserver(t *testing.T) {
	plain, starts := &recorder{}, &startRecorder{}
	tests := []struct {
		name  string
		inner runner.Observer
		// what the inner observer heard; nil for none
		heard      func() (calls, dones, starts int)
		wantStarts int
	}{
		{"none", nil, nil, 0},
		{"plain", plain, func() (int, int, int) { return plain.calls, plain.dones, 0 }, 0},
		{"start observer", starts, func() (int, int, int) { return starts.calls, starts.dones, starts.starts }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ac := openAccount(t, filepath.Join(t.TempDir(), "ledger.json"))
			opts := runner.Options{Observer: tt.inner}
			lr := StartLedger(ac, "run-1", &opts)
			defer lr.Finish(nil, nil, nil)
			so, ok := opts.Observer.(runner.StartObserver)
			if !ok {
				t.Fatal("the ledger's observer is no runner.StartObserver")
			}
			so.ConversationStarted(&runner.Conversation{})
			opts.Observer.CallDone(&runner.Call{Attempts: 3})
			opts.Observer.CallDone(&runner.Call{Attempts: 1})
			opts.Observer.ConversationDone(&runner.Conversation{})
			if n := lr.calls.Load(); n != 4 {
				t.Errorf("counted %d attempts, want 4", n)
			}
			if tt.heard == nil {
				return
			}
			if c, d, s := tt.heard(); c != 2 || d != 1 || s != tt.wantStarts {
				t.Errorf("inner heard %d calls, %d ends, %d starts; want 2, 1, %d", c, d, s, tt.wantStarts)
			}
		})
	}
}
