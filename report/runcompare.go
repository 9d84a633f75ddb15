package report

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// MergeRuns joins the shards of a run of one or several targets: every
// run must have the same targets, by name and in order (else a *MergeError
// on field "targets"), and each target's results are joined by Merge. Runs
// of one target merge exactly as Merge merges their results.
func MergeRuns(runs ...*Run) (*Run, error) {
	if len(runs) == 0 {
		return nil, mergeErr("", "no results to merge")
	}
	names := runs[0].Names()
	for i, r := range runs {
		if r == nil || len(r.Targets) == 0 {
			return nil, mergeErr("", "result %d holds no target", i+1)
		}
		if got := r.Names(); !slices.Equal(got, names) {
			return nil, mergeErr("targets", "result %d has targets [%s], result 1 has [%s]; shards of one run have the same targets",
				i+1, strings.Join(got, ", "), strings.Join(names, ", "))
		}
	}
	merged := make([]*Result, len(names))
	for t := range names {
		parts := make([]*Result, len(runs))
		for i, r := range runs {
			parts[i] = r.Targets[t]
		}
		m, err := Merge(parts...)
		if err != nil {
			var me *MergeError
			if len(names) > 1 && errors.As(err, &me) {
				me.Field = strings.TrimSuffix("targets["+names[t]+"]."+me.Field, ".")
			}
			return nil, err
		}
		merged[t] = m
	}
	return NewRun(merged...), nil
}

// RunComparison compares two runs target by target (see CompareRuns).
type RunComparison struct {
	// Targets are the comparisons of the targets both runs have, in the
	// base run's order; Names[i] names Targets[i] ("a" or "a → b" when the
	// two sides' names differ).
	Targets []*Comparison
	Names   []string
	// OnlyBase and OnlyNew name the targets of one run only.
	OnlyBase, OnlyNew []string
}

// CompareRuns compares next against base. Two runs of one target each are
// compared as Compare compares their results, whatever the targets are
// called (e.g. a baseline agent against a candidate). Runs of several
// targets are lined up by target name; those of one run only are listed in
// OnlyBase or OnlyNew. No target in common is an error.
func CompareRuns(base, next *Run, opts CompareOptions) (*RunComparison, error) {
	if base == nil || next == nil || len(base.Targets) == 0 || len(next.Targets) == 0 {
		return nil, errors.New("compare: a result holds no target")
	}
	rc := &RunComparison{}
	add := func(b, n *Result) error {
		c, err := Compare(b, n, opts)
		if err != nil {
			return err
		}
		name := targetName(b)
		if tn := targetName(n); tn != name {
			name += " → " + tn
		}
		rc.Targets = append(rc.Targets, c)
		rc.Names = append(rc.Names, name)
		return nil
	}
	if base.Single() && next.Single() {
		return rc, add(base.Targets[0], next.Targets[0])
	}
	for _, b := range base.Targets {
		n := next.Target(b.Target.Name)
		if n == nil {
			rc.OnlyBase = append(rc.OnlyBase, targetName(b))
			continue
		}
		if err := add(b, n); err != nil {
			return nil, err
		}
	}
	for _, n := range next.Targets {
		if base.Target(n.Target.Name) == nil {
			rc.OnlyNew = append(rc.OnlyNew, targetName(n))
		}
	}
	if len(rc.Targets) == 0 {
		return nil, fmt.Errorf("compare: no target in common: base has %s, new has %s; choose one of each with --base-target and --new-target",
			strings.Join(base.Names(), ", "), strings.Join(next.Names(), ", "))
	}
	return rc, nil
}

// Regressed reports whether any target regressed.
func (rc *RunComparison) Regressed() bool {
	for _, c := range rc.Targets {
		if c.Regressed() {
			return true
		}
	}
	return false
}

// WriteText writes the comparison for a terminal: one target's as
// Comparison.WriteText; several under a banner each, then the targets of
// one run only.
func (rc *RunComparison) WriteText(w io.Writer) error {
	if len(rc.Targets) == 1 && len(rc.OnlyBase)+len(rc.OnlyNew) == 0 {
		return rc.Targets[0].WriteText(w)
	}
	var b strings.Builder
	for i, c := range rc.Targets {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString("━━ target " + rc.Names[i] + " ━━\n")
		if err := c.WriteText(&b); err != nil {
			return err
		}
	}
	rc.writeOnly(&b, "")
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMarkdown writes the comparison as Markdown, a section per target.
func (rc *RunComparison) WriteMarkdown(w io.Writer) error {
	if len(rc.Targets) == 1 && len(rc.OnlyBase)+len(rc.OnlyNew) == 0 {
		return rc.Targets[0].WriteMarkdown(w)
	}
	var b strings.Builder
	for i, c := range rc.Targets {
		var cb strings.Builder
		if err := c.WriteMarkdown(&cb); err != nil {
			return err
		}
		// Each target's heading names it.
		s := cb.String()
		if rest, ok := strings.CutPrefix(s, "## "); ok {
			s = "## " + mdText(rc.Names[i]) + ": " + rest
		}
		b.WriteString(s + "\n")
	}
	rc.writeOnly(&b, "_")
	_, err := io.WriteString(w, b.String())
	return err
}

func (rc *RunComparison) writeOnly(b *strings.Builder, em string) {
	if len(rc.OnlyBase) > 0 {
		fmt.Fprintf(b, "\n%sTargets in the base run only (not compared): %s%s\n", em, strings.Join(rc.OnlyBase, ", "), em)
	}
	if len(rc.OnlyNew) > 0 {
		fmt.Fprintf(b, "\n%sTargets in the new run only (not compared): %s%s\n", em, strings.Join(rc.OnlyNew, ", "), em)
	}
}

// Only returns a Run of the target named name of run, nil when it has
// none: a single target picked out of a side-by-side run, e.g. to compare
// two targets of one run.
func (run *Run) Only(name string) *Run {
	r := run.Target(name)
	if r == nil {
		return nil
	}
	return NewRun(r)
}
