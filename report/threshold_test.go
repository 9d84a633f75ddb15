package report

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evalrun/evalrun/runner"
)

func TestParseThresholdValid(t *testing.T) {
	tests := []struct {
		expr   string
		scope  Scope
		metric string
		op     string
		value  float64
	}{
		{"p95<2s", Scope{}, "p95", "<", 2e6},
		{"p99.9<=5s", Scope{}, "p99.9", "<=", 5e6},
		{"P95 < 800ms", Scope{}, "p95", "<", 800e3},
		{"p50<250", Scope{}, "p50", "<", 250e3}, // plain number: milliseconds
		{"max<1m30s", Scope{}, "max", "<", 90e6},
		{"mean>=1.5s", Scope{}, "mean", ">=", 1.5e6},
		{"new_chat.p95<500ms", Scope{}, "new_chat.p95", "<", 500e3},
		{"pass_rate>=0.95", Scope{}, "pass_rate", ">=", 0.95},
		{"pass_rate>=95%", Scope{}, "pass_rate", ">=", 0.95},
		{"error_rate<1%", Scope{}, "error_rate", "<", 0.01},
		{"throttle_rate==0", Scope{}, "throttle_rate", "==", 0},
		{"fail_rate!=1", Scope{}, "fail_rate", "!=", 1},
		{"calls>=100", Scope{}, "calls", ">=", 100},
		{"conversations==12", Scope{}, "conversations", "==", 12},
		{"scenario:lead-capture p95<2s", Scope{Kind: "scenario", Name: "lead-capture"}, "p95", "<", 2e6},
		{`scenario:"lead capture" p95<2s`, Scope{Kind: "scenario", Name: "lead capture"}, "p95", "<", 2e6},
		{"tag:smoke pass_rate>=0.95", Scope{Kind: "tag", Name: "smoke"}, "pass_rate", ">=", 0.95},
		{"turn:2 p95<3s", Scope{Kind: "turn", Name: "2"}, "p95", "<", 3e6},
		{"target:prod scenario:x max<10s", Scope{Target: "prod", Kind: "scenario", Name: "x"}, "max", "<", 10e6},
		{"  target:prod   new_chat.calls > 3  ", Scope{Target: "prod"}, "new_chat.calls", ">", 3},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			th, err := ParseThreshold(tt.expr)
			if err != nil {
				t.Fatalf("ParseThreshold: %v", err)
			}
			if th.Scope != tt.scope || th.Metric != tt.metric || th.Op != tt.op || th.Value != tt.value || th.Expr != tt.expr {
				t.Errorf("got %+v, want scope %+v metric %s op %s value %v", th, tt.scope, tt.metric, tt.op, tt.value)
			}
		})
	}
}

// TestParseThresholdErrors checks the error of each malformed expression
// against testdata/report/threshold_errors.golden (-update rewrites it).
func TestParseThresholdErrors(t *testing.T) {
	bad := []string{
		"",
		"p95<<2s",
		"p95",
		"p95=2s",
		"p95 2s",
		"p95<2x",
		"p95<-1s",
		"p95<2s extra",
		"p101<2s",
		"latency<2s",
		"<2s",
		"pass_rate>=95",
		"pass_rate>=150%",
		"pass_rate>=abc",
		"calls>1.5",
		"scope:x p95<2s",
		"scenario: p95<2s",
		"scenario:x",
		`scenario:"x p95<2s`,
		"turn:0 p95<2s",
		"turn:abc p95<2s",
		"turn:1 pass_rate>0.9",
		"scenario:a tag:b p95<2s",
		"scenario:a new_chat.p95<1s",
		"target:a target:b p95<1s",
		"new_chat.pass_rate>0.5",
	}
	var b strings.Builder
	for _, e := range bad {
		_, err := ParseThreshold(e)
		if err == nil {
			t.Errorf("ParseThreshold(%q): no error", e)
			continue
		}
		var te *ThresholdError
		if !errors.As(err, &te) {
			t.Errorf("ParseThreshold(%q): error %T, want *ThresholdError", e, err)
		}
		b.WriteString(err.Error() + "\n")
	}
	golden := filepath.Join(goldenDir, "threshold_errors.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("errors differ from %s:\n got:\n%s\nwant:\n%s", golden, got, want)
	}
}

func TestThresholdErrorExample(t *testing.T) {
	// The example of the documentation, verbatim.
	_, err := ParseThreshold("p95<<2s")
	want := `threshold "p95<<2s": col 5: unexpected "<"; want a value such as 2s`
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

func TestThresholdEvaluate(t *testing.T) {
	smoke := gscen("pricing", "smoke")
	lead := gscen("lead-capture", "smoke", "leads")
	other := gscen("handoff")
	var convs []gconv
	// pricing: 10 conversations, turns 100..190ms, 1 fails.
	convs = append(convs, uniform(smoke, 1, 10, 2, 100*time.Millisecond, 10*time.Millisecond, map[int]bool{3: true})...)
	// lead-capture: 10 conversations, turns 1s..1.9s, all pass.
	convs = append(convs, uniform(lead, 11, 10, 1, time.Second, 100*time.Millisecond, nil)...)
	// handoff: 4 conversations: 2 pass, 1 errored, 1 throttled.
	convs = append(convs, uniform(other, 21, 2, 1, 3*time.Second, 0, nil)...)
	convs = append(convs, gconv{id: 23, iter: 2, scen: other, outcome: runner.Errored, failAt: -1},
		gconv{id: 24, iter: 3, scen: other, outcome: runner.Throttled, failAt: -1})
	res := gresult(Meta{RunID: "r", Target: Target{Name: "prod"}}, convs)

	tests := []struct {
		expr   string
		passed bool
		value  string
	}{
		{"conversations==24", true, "24"},
		{"calls==32", true, "32"}, // turn calls: 20 + 10 + 2
		{"new_chat.calls==24", true, "24"},
		{"new_chat.p95<=21ms", true, "20.02ms"},
		{"pass_rate>=0.9", false, "87.5% (21 of 24)"},
		{"pass_rate>=87.5%", true, "87.5% (21 of 24)"},
		{"fail_rate<=1/24", false, ""}, // never reached: malformed (see below)
		{"error_rate<5%", true, "4.2% (1 of 24)"},
		{"throttle_rate==0", false, "4.2% (1 of 24)"},
		{"scenario:pricing pass_rate>=0.9", true, "90.0% (9 of 10)"},
		{"scenario:pricing max<200ms", true, "191.1ms"},
		{"scenario:lead-capture p50<1s", false, "1.401s"},
		{"scenario:lead-capture min>=999ms", true, "999.9ms"},
		{"tag:smoke pass_rate>=0.95", true, "95.0% (19 of 20)"},
		{"tag:smoke max<2s", true, "1.901s"},
		{"tag:leads calls==10", true, "10"},
		{"turn:2 max<200ms", true, "191.1ms"},
		{"turn:2 calls==10", true, "10"},
		{"target:prod pass_rate>0.5", true, "87.5% (21 of 24)"},
		{"target:staging pass_rate>0.5", false, `n/a (the result has no target "staging" (its target is "prod"))`},
		{"scenario:nope p95<1s", false, `n/a (no scenario "nope" in the result)`},
		{"tag:nope pass_rate>0", false, `n/a (no scenario with tag "nope" in the result)`},
		{"turn:9 p95<1s", false, "n/a (no calls at turn 9 in the result)"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			th, err := ParseThreshold(tt.expr)
			if tt.value == "" {
				if err == nil {
					t.Fatalf("ParseThreshold(%q) accepted it", tt.expr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := th.Evaluate(res)
			if got.Passed != tt.passed || got.Value != tt.value || got.Expr != tt.expr {
				t.Errorf("got %+v, want passed %v value %q", got, tt.passed, tt.value)
			}
		})
	}
	ts, err := ParseThresholds([]string{"pass_rate>0.5", "scenario:pricing max<1ms"})
	if err != nil {
		t.Fatal(err)
	}
	if trs, ok := EvaluateThresholds(res, ts); ok || len(trs) != 2 || !trs[0].Passed || trs[1].Passed {
		t.Errorf("EvaluateThresholds = %+v, %v; want the second to fail", trs, ok)
	}
	if _, err := ParseThresholds([]string{"p95<", "ok<1"}); err == nil || !strings.Contains(err.Error(), `"p95<"`) || !strings.Contains(err.Error(), `"ok<1"`) {
		t.Errorf("ParseThresholds joins the errors of all malformed expressions; got %v", err)
	}
}

func FuzzParseThreshold(f *testing.F) {
	for _, s := range []string{"p95<2s", "scenario:\"a b\" p99.9<=5s", "tag:x pass_rate>=95%", "turn:3 max!=1m",
		"new_chat.p50>1", "target:t calls==0", "p95<<2s", "error_rate<1%", "", "scenario:", "\"", "p\xff<1",
		"output_tps p50>20", "target:t output_tps.run>=1.5", "ttft p95<800ms", "output_tps run"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		th, err := ParseThreshold(s)
		if err != nil {
			var te *ThresholdError
			if !errors.As(err, &te) || !strings.HasPrefix(err.Error(), "threshold ") {
				t.Fatalf("error %q is not a ThresholdError", err)
			}
			return
		}
		// A valid threshold evaluates on any result without panicking,
		// and its scope prints back to something that parses again.
		_ = th.Evaluate(&Result{})
		again := th.Scope.String()
		if again != "" {
			if _, err := ParseThreshold(again + " " + th.Metric + th.Op + "0"); err != nil && th.m.kind != mRate {
				t.Fatalf("scope %q of %q does not parse again: %v", again, s, err)
			}
		}
	})
}
