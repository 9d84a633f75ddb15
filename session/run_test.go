package session

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/evalrun/evalrun/runner"
)

// TestRunTargets: session.Run over one and two targets (two sharing a
// key, so one ledger entry): every call each agent received is charged,
// no reservation is left, and with Partial every target runs the fewest
// conversations that fit any of them.
func TestRunTargets(t *testing.T) {
	tests := []struct {
		name    string
		limits  []int64 // per target; one target each
		partial bool
	}{
		{"one target", []int64{1000}, false},
		{"two targets", []int64{1000, 1000}, false},
		{"one partial", []int64{8}, true},
		{"two partial, the fewest", []int64{1000, 8}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := suite(t, 5)
			path := filepath.Join(t.TempDir(), "ledger.json")
			var agents []*countingAgent
			var targets []Target
			for i, limit := range tt.limits {
				ag := newCountingAgent(t)
				agents = append(agents, ag)
				q := Quota{Limit: limit, Retries: 0.1, Partial: tt.partial}
				// Each target its own account (its own ledger file), so
				// that each quota is its own.
				ac := openAccount(t, filepath.Join(filepath.Dir(path), string(rune('a'+i))+".json"))
				conn := ag.conn(t)
				targets = append(targets, Target{Name: string(rune('a' + i)), URL: ag.URL, ReservationID: "run-1/" + string(rune('a'+i)),
					Quota: q, Cost: SuiteCost(s, q.Retries), Account: ac,
					Options: func(p *Plan, b *runner.Budget, maxConv int64) (runner.Options, error) {
						return runner.Options{Conn: conn, Concurrency: 2, RunID: "run-1"}, nil
					}})
			}
			started := 0
			outs, err := Run(context.Background(), s, targets, func() { started++ })
			if err != nil {
				t.Fatal(err)
			}
			if started != 1 {
				t.Errorf("started called %d times", started)
			}
			convs := int64(-1)
			for i, o := range outs {
				if o.Err != nil || o.LedgerErr != nil {
					t.Fatalf("target %d: %v %v", i, o.Err, o.LedgerErr)
				}
				ac := targets[i].Account
				u, err := ac.Ledger.Usage(ac.Fingerprint, ac.Cycle, "")
				if err != nil {
					t.Fatal(err)
				}
				got := agents[i].calls.Load()
				if u.Calls != got || u.Reserved != 0 {
					t.Errorf("target %d: ledger %d calls, %d reserved; the agent received %d", i, u.Calls, u.Reserved, got)
				}
				if got > tt.limits[i] {
					t.Errorf("target %d: %d calls passed the quota %d", i, got, tt.limits[i])
				}
				c := agents[i].chats.Load()
				if convs >= 0 && c != convs {
					t.Errorf("target %d ran %d conversations, the first %d: not the same conversations", i, c, convs)
				}
				convs = c
			}
			if want := int64(5); !tt.partial && convs != want {
				t.Errorf("%d conversations, want %d", convs, want)
			}
			if tt.partial && (convs <= 0 || convs >= 5) {
				t.Errorf("partial: %d conversations, want fewer than 5 and some", convs)
			}
		})
	}
}

// TestRunReleasesOnSetupError: when a target's options cannot be built
// (or its reservation is refused), nothing is sent and no reservation is
// left held: a kept one would be settled as spent once the process ends.
func TestRunReleasesOnSetupError(t *testing.T) {
	boom := errors.New("transcripts: permission denied")
	for _, tt := range []struct {
		name     string
		second   int64 // the second target's quota
		optErr   error
		refusal  bool
		wantCall bool
	}{
		{name: "options fail", second: 1000, optErr: boom},
		{name: "second refused", second: 2, refusal: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := suite(t, 5)
			dir := t.TempDir()
			ag := newCountingAgent(t)
			var targets []Target
			for i, limit := range []int64{1000, tt.second} {
				ac := openAccount(t, filepath.Join(dir, "ledger.json")) // one key, one entry
				q := Quota{Limit: limit, Retries: 0.1}
				conn := ag.conn(t)
				targets = append(targets, Target{Name: string(rune('a' + i)), URL: ag.URL, ReservationID: "run/" + string(rune('a'+i)),
					Quota: q, Cost: SuiteCost(s, q.Retries), Account: ac,
					Options: func(*Plan, *runner.Budget, int64) (runner.Options, error) {
						if i == 1 && tt.optErr != nil {
							return runner.Options{}, tt.optErr
						}
						return runner.Options{Conn: conn}, nil
					}})
			}
			_, err := Run(context.Background(), s, targets, nil)
			var te *TargetError
			var re *RefusedError
			switch {
			case tt.optErr != nil && !errors.Is(err, tt.optErr):
				t.Fatalf("err %v, want %v", err, tt.optErr)
			case tt.refusal && (!errors.As(err, &te) || te.Name != "b" || !errors.As(err, &re)):
				t.Fatalf("err %v, want a refusal of target b", err)
			}
			if n := ag.calls.Load(); n != 0 {
				t.Errorf("%d calls sent", n)
			}
			ac := targets[0].Account
			u, err := ac.Ledger.Usage(ac.Fingerprint, ac.Cycle, "")
			if err != nil {
				t.Fatal(err)
			}
			if u.Reserved != 0 || u.Calls != 0 {
				t.Errorf("ledger holds %d reserved, %d used after a run that never started", u.Reserved, u.Calls)
			}
		})
	}
}
