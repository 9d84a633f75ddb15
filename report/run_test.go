package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"strings"
	"testing"
	"time"
)

// twoTargets is a run of the same conversations against two targets: base
// passes everything, cand fails the pricing scenario's third run and is
// slower.
func twoTargets(shard string) *Run {
	pricing, lead := gscen("pricing", "smoke"), gscen("lead")
	mk := func(name string, slow time.Duration, fail map[int]bool) *Result {
		s := map[string]any{"concurrency": 2}
		if shard != "" {
			s[SettingShard] = shard
		}
		convs := append(uniform(pricing, 1, 4, 2, 100*time.Millisecond+slow, time.Millisecond, fail),
			uniform(lead, 5, 2, 1, 200*time.Millisecond+slow, time.Millisecond, nil)...)
		if shard != "" { // the shard's part: odd or even conversation numbers
			var part []gconv
			for _, c := range convs {
				if (c.id%2 == 1) == (shard == "1/2") {
					part = append(part, c)
				}
			}
			convs = part
		}
		return gresult(Meta{RunID: "run-1", Version: "1", Target: Target{Name: name, Kind: "optimly", URL: "http://127.0.0.1:9"}, Seed: 7, Settings: s}, convs)
	}
	return NewRun(mk("base", 0, nil), mk("cand", 300*time.Millisecond, map[int]bool{2: true}))
}

func TestRunRoundTrip(t *testing.T) {
	run := twoTargets("")
	var buf bytes.Buffer
	if err := (JSONWriter{}).WriteRun(&buf, run); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"schema_version": 2`) || !strings.Contains(buf.String(), `"targets": [`) {
		t.Fatalf("several targets are not written as schema 2:\n%.300s", buf.String())
	}
	back, err := ReadRun(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(back.Names(), ","); got != "base,cand" || back.Passed() || back.Target("cand").Totals.Failed != 1 {
		t.Errorf("read back: targets %s, passed %v", got, back.Passed())
	}
	if tc, ok := back.Target("cand").TurnCount(1); !ok || tc.Sent != 4 || tc.Passed != 3 {
		t.Errorf("cand turn 2 count %+v %v, want 3 of 4 passed", tc, ok)
	}

	// One target: the file is that target's plain result, as before.
	buf.Reset()
	if err := (JSONWriter{}).WriteRun(&buf, NewRun(run.Targets[0])); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"schema_version": 1`) || strings.Contains(buf.String(), `"targets"`) {
		t.Errorf("one target is not a plain result:\n%.200s", buf.String())
	}
	single, err := ReadRun(bytes.NewReader(buf.Bytes()))
	if err != nil || !single.Single() || single.Targets[0].Target.Name != "base" {
		t.Fatalf("single read back: %v", err)
	}
	if _, err := ReadResult(bytes.NewReader(buf.Bytes())); err != nil {
		t.Errorf("ReadResult of a one-target file: %v", err)
	}
}

func TestReadRunRefuses(t *testing.T) {
	var buf bytes.Buffer
	if err := (JSONWriter{}).WriteRun(&buf, twoTargets("")); err != nil {
		t.Fatal(err)
	}
	good := buf.String()
	tests := []struct {
		name, from, to, want string
	}{
		{"future schema", `"schema_version": 2,`, `"schema_version": 3,`, "3 is not supported: this evalrun reads result schema_version 1 (one target) and 2 (several targets)"},
		{"duplicate name", `"name": "cand"`, `"name": "base"`, `targets[1].target.name: "base" is also the name of targets[0]`},
		{"bad status", `"status": "passed"`, `"status": "maybe"`, `targets[0].scenarios[0].status`},
		{"no targets", `"targets": [`, `"targets": [], "x": [`, "targets: empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadRun(strings.NewReader(strings.Replace(good, tt.from, tt.to, 1)))
			var re *ReadError
			if err == nil || !errors.As(err, &re) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want a ReadError containing %q", err, tt.want)
			}
		})
	}
}

func TestRunThresholds(t *testing.T) {
	ts, err := ParseThresholds([]string{"pass_rate>=0.9", "target:base p95<1s", "target:nope calls>0"})
	if err != nil {
		t.Fatal(err)
	}
	run := twoTargets("")
	if EvaluateRunThresholds(run, ts) {
		t.Error("thresholds held, want a breach")
	}
	base, cand := run.Target("base"), run.Target("cand")
	if len(base.Thresholds) != 2 || !base.Thresholds[0].Passed || !base.Thresholds[1].Passed {
		t.Errorf("base thresholds %+v: want pass_rate and its own p95, both held", base.Thresholds)
	}
	if len(cand.Thresholds) != 1 || cand.Thresholds[0].Passed {
		t.Errorf("cand thresholds %+v: want pass_rate only, breached (5 of 6)", cand.Thresholds)
	}
	if len(run.Thresholds) != 1 || run.Thresholds[0].Passed || !strings.Contains(run.Thresholds[0].Value, `no target "nope"`) {
		t.Errorf("run thresholds %+v: want the unknown target breached", run.Thresholds)
	}
	if got := UnknownTargets(ts, run.Names()); len(got) != 1 || got[0] != "nope" {
		t.Errorf("UnknownTargets %v", got)
	}
	// Scoped to the slower target only: it holds on base, breaks on cand.
	ts, _ = ParseThresholds([]string{"target:cand p95<350ms"})
	run = twoTargets("")
	if EvaluateRunThresholds(run, ts) || len(run.Target("base").Thresholds) != 0 || run.Target("cand").Thresholds[0].Passed {
		t.Errorf("target:cand threshold: base %+v cand %+v", run.Target("base").Thresholds, run.Target("cand").Thresholds)
	}
}

func TestMergeRuns(t *testing.T) {
	whole := twoTargets("")
	merged, err := MergeRuns(twoTargets("2/2"), twoTargets("1/2"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"base", "cand"} {
		w, m := whole.Target(name), merged.Target(name)
		if m.Totals.Conversations != w.Totals.Conversations || m.Totals.Passed != w.Totals.Passed ||
			m.Histogram(HistScenario, "pricing").Count != w.Histogram(HistScenario, "pricing").Count {
			t.Errorf("%s: merged %+v, whole %+v", name, m.Totals, w.Totals)
		}
		if tc, _ := m.TurnCount(0); tc.Sent != 6 {
			t.Errorf("%s: merged turn 1 sent %d, want 6", name, tc.Sent)
		}
	}
	one := twoTargets("1/2")
	one.Targets = one.Targets[:1]
	_, err = MergeRuns(one, twoTargets("2/2"))
	var me *MergeError
	if !errors.As(err, &me) || me.Field != "targets" {
		t.Errorf("mismatched targets: %v", err)
	}
	_, err = MergeRuns(twoTargets("1/2"), twoTargets("1/2"))
	if !errors.As(err, &me) || !strings.HasPrefix(me.Field, "targets[base].settings.shard") {
		t.Errorf("same shard twice: %v", err)
	}
}

func TestCompareRuns(t *testing.T) {
	base, next := twoTargets(""), twoTargets("")
	next.Targets[0], next.Targets[1] = next.Targets[1], next.Targets[0] // order does not matter, names do
	rc, err := CompareRuns(base, next, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rc.Targets) != 2 || rc.Regressed() {
		t.Errorf("same run: %d targets compared, regressed %v", len(rc.Targets), rc.Regressed())
	}
	// Base against cand, picked out of one run: a regression.
	rc, err = CompareRuns(base.Only("base"), base.Only("cand"), CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := rc.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	if !rc.Regressed() || !strings.Contains(out.String(), "REGRESSED") {
		t.Errorf("base → cand:\n%s", out.String())
	}
	other := twoTargets("")
	other.Targets[0].Target.Name, other.Targets[1].Target.Name = "x", "y"
	if _, err := CompareRuns(base, other, CompareOptions{}); err == nil || !strings.Contains(err.Error(), "no target in common") {
		t.Errorf("disjoint targets: %v", err)
	}
	other.Targets[1].Target.Name = "cand"
	rc, err = CompareRuns(base, other, CompareOptions{})
	if err != nil || len(rc.OnlyBase) != 1 || len(rc.OnlyNew) != 1 {
		t.Fatalf("partly shared targets: %v %+v", err, rc)
	}
	out.Reset()
	_ = rc.WriteMarkdown(&out)
	if !strings.Contains(out.String(), "## cand: evalrun compare") || !strings.Contains(out.String(), "base run only (not compared): base") {
		t.Errorf("markdown:\n%s", out.String())
	}
}

func TestRunWriters(t *testing.T) {
	run := twoTargets("")
	ts, _ := ParseThresholds([]string{"target:cand p95<350ms"})
	EvaluateRunThresholds(run, ts)

	var con bytes.Buffer
	if err := (ConsoleWriter{Width: 100}).WriteRun(&con, run); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"target 1 of 2: base", "target 2 of 2: cand", "side by side: base · cand",
		"pricing", "✓ 100.0%", "✗ 75.0%", "turn 2", "75.0% (3/4)", "✗ FAILED: target cand"} {
		if !strings.Contains(con.String(), want) {
			t.Errorf("console lacks %q:\n%s", want, con.String())
		}
	}

	var md bytes.Buffer
	if err := (MarkdownWriter{}).WriteRun(&md, run); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## ❌ evalrun FAILED: target cand", "| scenario | base | base p95 | cand | cand p95 |",
		"### Target base", "### Target cand", "#### Failures on cand", "| ✗ | cand | `target:cand p95<350ms` | target:cand |"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}

	var ju bytes.Buffer
	if err := (JUnitWriter{}).WriteRun(&ju, run); err != nil {
		t.Fatal(err)
	}
	var suites struct {
		Suites []struct {
			Name     string `xml:"name,attr"`
			Tests    int    `xml:"tests,attr"`
			Failures int    `xml:"failures,attr"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(ju.Bytes(), &suites); err != nil {
		t.Fatal(err)
	}
	if len(suites.Suites) != 2 || suites.Suites[0].Name != "base" || suites.Suites[1].Name != "cand" ||
		suites.Suites[0].Failures != 0 || suites.Suites[1].Failures != 2 || suites.Suites[1].Tests != 3 {
		t.Errorf("JUnit suites %+v: want base (0 failures) and cand (a failed scenario and a breached threshold, of 3)", suites.Suites)
	}
	xmllint(t, ju.Bytes()) // valid against junit-ant.xsd, several testsuites included

	var page bytes.Buffer
	if err := (HTMLWriter{}).WriteRun(&page, run); err != nil {
		t.Fatal(err)
	}
	checkSelfContained(t, page.Bytes())
	checkWellFormed(t, page.Bytes())
	h := page.String()
	for _, want := range []string{"<th>base</th><th>cand</th>", `href="#t2-c`, `id="t2-c`, "base · all turns", "cand · all turns",
		"turn 2 · cand · passed 75.0% (3/4)", "target:cand"} {
		if !strings.Contains(h, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	if n := strings.Count(h, "<polyline"); n != 2 {
		t.Errorf("plot has %d lines, want one per target", n)
	}

	// One target renders exactly as its result.
	var a, b bytes.Buffer
	one := NewRun(run.Targets[0])
	for _, w := range []struct {
		rw RunWriter
		w  Writer
	}{{ConsoleWriter{}, ConsoleWriter{}}, {MarkdownWriter{}, MarkdownWriter{}}, {JUnitWriter{}, JUnitWriter{}}, {HTMLWriter{}, HTMLWriter{}}, {JSONWriter{}, JSONWriter{}}} {
		a.Reset()
		b.Reset()
		if err := w.rw.WriteRun(&a, one); err != nil {
			t.Fatal(err)
		}
		if err := w.w.Write(&b, run.Targets[0]); err != nil {
			t.Fatal(err)
		}
		if a.String() != b.String() {
			t.Errorf("%T: one target's WriteRun differs from Write", w.w)
		}
	}
}

func FuzzReadRun(f *testing.F) {
	var buf bytes.Buffer
	_ = (JSONWriter{}).WriteRun(&buf, twoTargets(""))
	f.Add(buf.Bytes())
	f.Add([]byte(`{"schema_version": 2, "targets": [null]}`))
	f.Add([]byte(`{"schema_version": 2, "targets": [{"schema_version": 1}]}`))
	f.Add([]byte(`{"schema_version": 1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		run, err := ReadRun(bytes.NewReader(data))
		if err != nil {
			return
		}
		// What reads renders.
		var out bytes.Buffer
		if err := (ConsoleWriter{}).WriteRun(&out, run); err != nil {
			t.Fatal(err)
		}
	})
}
