package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// RunSchemaVersion is the schema_version of a result file that holds
// several targets (a Run with more than one Result). A run against one
// target writes a plain Result (SchemaVersion), exactly as before several
// targets existed, so that files and the tools that read them do not change
// for the common case.
const RunSchemaVersion = 2

// Run is the outcome of one run against one or more targets side by side:
// the same conversations (same seed, same fake data, same client IDs) sent
// to each target, one Result per target in the order the targets were
// given. Each Result is complete on its own — its totals, scenarios,
// histograms, budget, thresholds — exactly what a run against that target
// alone would have recorded, so every single-target tool (thresholds,
// compare, merge, the writers) works on it unchanged; the Run adds the
// side-by-side view.
//
// A run against several targets is written as a Run (RunSchemaVersion);
// against one target as that target's Result (SchemaVersion). ReadRun
// reads both.
type Run struct {
	SchemaVersion int       `json:"schema_version"`
	RunID         string    `json:"run_id"`
	Version       string    `json:"evalrun_version"`
	Started       time.Time `json:"started"`
	Ended         time.Time `json:"ended"`
	DurationMS    float64   `json:"duration_ms"`
	Seed          int64     `json:"seed"`
	// Interrupted is true when any target's run was interrupted.
	Interrupted bool `json:"interrupted"`
	// Thresholds are the thresholds scoped to a target the run does not
	// have (they never hold); the thresholds measured on a target are in
	// that target's Result.
	Thresholds []ThresholdResult `json:"thresholds,omitempty"`
	// Targets holds one Result per target, in the order given.
	Targets []*Result `json:"targets"`
}

// NewRun returns the Run of results (one per target, in order): its run
// ID, version and seed are the first result's, it starts at the earliest
// start, ends at the latest end, and is interrupted if any result was.
func NewRun(results ...*Result) *Run {
	run := &Run{SchemaVersion: RunSchemaVersion, Targets: results}
	for i, r := range results {
		if i == 0 {
			run.RunID, run.Version, run.Seed = r.RunID, r.Version, r.Seed
		}
		if !r.Started.IsZero() && (run.Started.IsZero() || r.Started.Before(run.Started)) {
			run.Started = r.Started
		}
		if r.Ended.After(run.Ended) {
			run.Ended = r.Ended
		}
		run.Interrupted = run.Interrupted || r.Interrupted
	}
	if !run.Started.IsZero() && run.Ended.After(run.Started) {
		run.DurationMS = millis(run.Ended.Sub(run.Started))
	}
	return run
}

// Single reports whether the run had one target; its file is then that
// target's Result.
func (run *Run) Single() bool { return len(run.Targets) == 1 }

// Names returns the target names, in order.
func (run *Run) Names() []string {
	out := make([]string, len(run.Targets))
	for i, r := range run.Targets {
		out[i] = targetName(r)
	}
	return out
}

// Target returns the result of the target named name, or nil.
func (run *Run) Target(name string) *Result {
	for _, r := range run.Targets {
		if r.Target.Name == name {
			return r
		}
	}
	return nil
}

// Duration returns how long the run took, from the first start to the
// last end.
func (run *Run) Duration() time.Duration { return run.Ended.Sub(run.Started) }

// Passed reports whether every target's result passed (Result.Passed) and
// no threshold named a missing target: the exit code of a run is the worst
// over its targets.
func (run *Run) Passed() bool {
	if len(run.Targets) == 0 || breached(run.Thresholds) > 0 {
		return false
	}
	for _, r := range run.Targets {
		if !r.Passed() {
			return false
		}
	}
	return true
}

// StopReasons returns the distinct stop reasons of the targets, joined.
func (run *Run) StopReasons() string {
	var out []string
	for _, r := range run.Targets {
		if r.StopReason != "" && !slices.Contains(out, r.StopReason) {
			out = append(out, r.StopReason)
		}
	}
	return strings.Join(out, "; ")
}

// EvaluateRunThresholds evaluates ts on run and records them: on every
// target, each threshold without a target: scope and those scoped to that
// target (in the target's Result.Thresholds); a threshold scoped to a
// target the run does not have is recorded in run.Thresholds as breached.
// It reports whether every threshold held.
func EvaluateRunThresholds(run *Run, ts []Threshold) bool {
	ok := true
	for _, r := range run.Targets {
		var mine []Threshold
		for _, t := range ts {
			if t.Scope.Target == "" || t.Scope.Target == r.Target.Name {
				mine = append(mine, t)
			}
		}
		if run.Single() {
			mine = ts // one target: as a single-target run always did
		}
		if len(mine) == 0 {
			continue
		}
		var held bool
		r.Thresholds, held = EvaluateThresholds(r, mine)
		ok = ok && held
	}
	run.Thresholds = nil
	if run.Single() {
		return ok
	}
	for _, t := range ts {
		if t.Scope.Target != "" && run.Target(t.Scope.Target) == nil {
			run.Thresholds = append(run.Thresholds, ThresholdResult{Expr: t.Expr, Scope: t.Scope.String(),
				Value: fmt.Sprintf("n/a (the run has no target %q; its targets are %s)", t.Scope.Target, strings.Join(run.Names(), ", "))})
			ok = false
		}
	}
	return ok
}

// UnknownTargets returns the target: scopes of ts that name none of names,
// so a caller can refuse them before a run starts.
func UnknownTargets(ts []Threshold, names []string) []string {
	var out []string
	for _, t := range ts {
		if n := t.Scope.Target; n != "" && !slices.Contains(names, n) && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// WriteRun writes run as the result file: the target's Result (as Write)
// when the run had one target, else the Run as indented JSON.
func (jw JSONWriter) WriteRun(w io.Writer, run *Run) error {
	if run.Single() {
		return jw.Write(w, run.Targets[0])
	}
	run.SchemaVersion = RunSchemaVersion
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(run); err != nil {
		return fmt.Errorf("write result JSON: %w", err)
	}
	return nil
}

// ReadRunFile reads the result file at path; see ReadRun.
func ReadRunFile(path string) (*Run, error) {
	return readFile(path, ReadRun)
}

// ReadRun reads a result file of either kind: a single-target Result
// (schema_version 1, returned as a Run of one target) or a Run of several
// targets (schema_version 2). Each target's result is checked as ReadResult
// checks a file; errors are *ReadError naming the field (e.g.
// "targets[1].scenarios[0].status").
func ReadRun(r io.Reader) (*Run, error) {
	data, version, err := readVersioned(r)
	if err != nil {
		return nil, err
	}
	if version == nil || string(*version) != fmt.Sprint(RunSchemaVersion) {
		res, err := decodeResult(data, version)
		if err != nil {
			var re *ReadError
			if errors.As(err, &re) && errors.Is(err, ErrUnsupportedSchema) && version != nil {
				re.Msg = fmt.Sprintf("%s is not supported: this evalrun reads result schema_version %d (one target) and %d (several targets)",
					string(*version), SchemaVersion, RunSchemaVersion)
			}
			return nil, err
		}
		return NewRun(res), nil
	}
	var run Run
	if err := json.Unmarshal(data, &run); err != nil {
		return nil, jsonError(data, err)
	}
	if len(run.Targets) == 0 {
		return nil, fieldErr("targets", "empty; a result of schema_version %d holds at least one target", RunSchemaVersion)
	}
	names := map[string]int{}
	for i, r := range run.Targets {
		f := fmt.Sprintf("targets[%d]", i)
		if r == nil {
			return nil, fieldErr(f, "null; want a target's result")
		}
		if r.SchemaVersion != SchemaVersion {
			return nil, fieldErr(f+".schema_version", "%d; a target's result has schema_version %d", r.SchemaVersion, SchemaVersion)
		}
		if prev, dup := names[r.Target.Name]; dup {
			return nil, fieldErr(f+".target.name", "%q is also the name of targets[%d]; names must be unique", r.Target.Name, prev)
		}
		names[r.Target.Name] = i
		r.upgrade()
		if err := r.validate(); err != nil {
			var re *ReadError
			if errors.As(err, &re) {
				re.Field = f + "." + cmpOr(re.Field, "")
				re.Field = strings.TrimSuffix(re.Field, ".")
			}
			return nil, err
		}
	}
	return &run, nil
}
