package session_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/runner"
	"github.com/evalrun/evalrun/scenarios"
	"github.com/evalrun/evalrun/session"
)

// A Go program that replays a suite against an agent with the quota
// guarantee: the run's worst case is checked against the plan's quota and
// what the usage ledger says is used, reserved in the ledger before the
// first call, every call is recorded as it is sent, and the budget stops
// the run before the quota is passed.
func Example() {
	// An Optimly-shaped agent on loopback stands in for the real one.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/new-chat") {
			fmt.Fprint(w, `{"chat_id":"c1"}`)
			return
		}
		fmt.Fprint(w, `{"response":"Hello from Brightdesk"}`)
	}))
	defer srv.Close()

	scs, err := scenarios.Parse("hello.yaml", []byte(`name: hello
repeat: 4
turns:
  - user: "Hello"
    expect:
      - icontains: brightdesk
`))
	if err != nil {
		log.Fatal(err)
	}
	suite := &scenarios.Suite{Scenarios: scs}

	// The key comes from the environment in a real program
	// (os.Getenv("OPTIMLY_API_KEY")); the ledger from session.LedgerPath.
	key := "example-key"
	dir, err := os.MkdirTemp("", "evalrun-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	account, err := session.OpenAccount(filepath.Join(dir, "ledger.json"), key, "OPTIMLY_API_KEY", 1, time.Now())
	if err != nil {
		log.Fatal(err)
	}
	conn, err := agent.NewOptimly(agent.Options{BaseURL: srv.URL, APIKey: key})
	if err != nil {
		log.Fatal(err)
	}

	calls, _ := session.PlanCalls("starter")
	quota := session.Quota{Limit: calls, Label: "plan starter", Retries: 0.1}
	outs, err := session.Run(context.Background(), suite, []session.Target{{
		URL:           srv.URL,
		ReservationID: "example-run",
		Quota:         quota,
		Cost:          session.SuiteCost(suite, quota.Retries),
		Account:       account,
		Options: func(p *session.Plan, _ *runner.Budget, _ int64) (runner.Options, error) {
			fmt.Printf("worst case %d of %d calls left\n", p.Est.WorstCase, p.Headroom)
			return runner.Options{Conn: conn, Concurrency: 2, RunID: "example-run"}, nil
		},
	}}, nil)
	var refused *session.RefusedError
	if errors.As(err, &refused) {
		log.Fatalf("not run: %v", refused)
	} else if err != nil {
		log.Fatal(err)
	}

	out := outs[0]
	used, err := account.Ledger.Usage(account.Fingerprint, account.Cycle, "")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d conversations, %d passed; the ledger holds %d calls, %d reserved\n",
		out.Summary.Completed, out.Summary.Outcomes[runner.Passed], used.Calls, used.Reserved)
	// Output:
	// worst case 9 of 1000 calls left
	// 4 conversations, 4 passed; the ledger holds 8 calls, 0 reserved
}
