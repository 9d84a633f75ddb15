package report

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/evalrun/evalrun/runner"
	"github.com/evalrun/evalrun/scenarios"
)

// gatedResult is the mixed run with thresholds, one of them breached, as
// the thresholds code would record them.
func gatedResult() *Result {
	r := mixedResult()
	r.Thresholds = []ThresholdResult{
		{Expr: "p95<2s", Value: "2.50s", Passed: false},
		{Expr: "pass_rate>=0.5", Scope: "scenario:pricing", Value: "60.0%", Passed: true},
		{Expr: "error_rate<1%", Value: "11.1%", Passed: false},
	}
	r.Warnings = []string{"the run fell behind its schedule by up to 1.2s; latencies include the queueing"}
	return r
}

// hostileResult is a failed run whose names, expectations and replies hold
// markup, a URL and characters XML cannot carry.
func hostileResult() *Result {
	a := NewAggregator(Meta{RunID: "evil", Started: t0,
		Target: Target{Name: `<b>"sim"</b>`, Kind: "optimly", URL: "https://agent.example.com/"}})
	s := &scenarios.Scenario{Name: `x<script>alert("n")</script>`, File: `a&b/<c>.yaml`, Repeat: 1, MinPassRate: 1}
	reply := "Visit https://evil.example.com/x.png <script>alert('r')</script> & <img src=x onerror=alert(1)> | `tick` ]]> \x01\x1b[31m\xff end"
	feed(a, conv{id: 1, scen: s, iter: 0, outcome: runner.Failed, reason: "turn 1: <fail>", turns: []runner.TurnResult{
		turn(0, 100, runner.Failed, "<hello> & \"bye\"", reply,
			bad(`regex '<script>'`, `reply "<script>" & more`), ok(`not_contains "</textarea>"`)),
	}})
	return a.Result(Finish{Ended: t0.Add(time.Second)})
}

// golden compares got with the golden file name under goldenDir, rewriting
// it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join(goldenDir, name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test ./report -update to accept); got:\n%s", path, got)
	}
}

// render runs a writer into memory.
func render(t *testing.T, w Writer, r *Result) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := w.Write(&buf, r); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
