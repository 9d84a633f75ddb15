package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/evalrun/evalrun/agentsim"
)

func TestQuotaRefusesRunOverHeadroom(t *testing.T) {
	srv := startSim(t, "k-quota-test")
	c := cli{env: map[string]string{"OPTIMLY_API_KEY": "k-quota-test"}}
	code := c.run(t, "run", "--quiet", "--target", srv.URL, "--quota", "50", "--retry-allowance", "0", repoPath("testdata/quota"))
	if code != exitUsage {
		t.Fatalf("exit %d, want %d\n%s", code, exitUsage, c.stderr.String())
	}
	msg := c.stderr.String()
	for _, want := range []string{"100", "50", "--partial"} {
		if !strings.Contains(msg, want) {
			t.Errorf("refusal does not mention %q:\n%s", want, msg)
		}
	}
	if n := srv.Server.Stats().AgentCalls; n != 0 {
		t.Errorf("a refused run made %d agent calls", n)
	}
}

func TestQuotaPartialNeverOvershoots(t *testing.T) {
	for _, tc := range []struct {
		name     string
		throttle float64
	}{
		{"no faults", 0},
		{"30% throttled", 0.3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startSim(t, "k-partial")
			srv.Server.SetFaults(agentsim.Faults{Throttle: tc.throttle, RetryAfter: 0})
			out := filepath.Join(t.TempDir(), "r.json")
			c := cli{env: map[string]string{"OPTIMLY_API_KEY": "k-partial"}}
			code := c.run(t, "run", "--quiet", "--target", srv.URL, "--quota", "50", "--partial",
				"--concurrency", "8", "--out", out, repoPath("testdata/quota"))
			if code == exitUsage || code == exitUnfinished {
				t.Fatalf("exit %d\n%s", code, c.stderr.String())
			}
			st := srv.Server.Stats()
			if st.AgentCalls > 50 {
				t.Fatalf("server counted %d agent calls, budget 50", st.AgentCalls)
			}
			res := readResult(t, out)
			// Only whole conversations run: each one that started has all its
			// turns, unless a call failed after its retries.
			var ran int64
			for _, s := range res.Scenarios {
				for _, cv := range s.Conversations {
					if cv.Outcome == "not_run" {
						continue
					}
					ran++
					if cv.Outcome == "passed" && len(cv.Turns) != 3 {
						t.Errorf("conversation %d passed with %d turns", cv.ID, len(cv.Turns))
					}
				}
			}
			if ran == 0 || ran >= 25 {
				t.Errorf("ran %d conversations; want some but not all 25", ran)
			}
			if tc.throttle == 0 && st.AgentCalls != ran*4 {
				t.Errorf("server counted %d calls for %d conversations of 4 calls", st.AgentCalls, ran)
			}
			if res.Budget.Spent > 50 || res.Budget.Spent < st.AgentCalls {
				t.Errorf("budget spent %d, server counted %d, limit 50", res.Budget.Spent, st.AgentCalls)
			}
		})
	}
}
