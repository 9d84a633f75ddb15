package main

import (
	"errors"
	"io"

	"github.com/evalrun/evalrun/report"
)

// merge joins shard results: evalrun merge FILES... -o OUT.
func (a *app) merge(args []string) error {
	fs := a.newFlagSet("merge", "merge [flags] RESULT.json... -o OUT.json")
	var out string
	fs.StringVar(&out, "o", "", "write the merged result to `FILE` (required)")
	fs.StringVar(&out, "out", "", "same as -o")
	var g gateFlags
	g.registerThresholds(fs)
	paths, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if out == "" {
		return usageErr("merge needs -o FILE, the merged result to write")
	}
	if len(paths) == 0 {
		return usageErr("merge takes the result files of the shards; none given")
	}
	if err := g.check(); err != nil {
		return err
	}
	runs := make([]*report.Run, 0, len(paths))
	for _, p := range paths {
		r, err := readRunArg(p)
		if err != nil {
			return err
		}
		runs = append(runs, r)
	}
	// Shards of a run of several targets merge target by target.
	merged, err := report.MergeRuns(runs...)
	if err != nil {
		var me *report.MergeError
		if errors.As(err, &me) {
			return usageErr("%v", err)
		}
		return unfinishedErr("%v", err)
	}
	if len(g.thresholds) > 0 {
		report.EvaluateRunThresholds(merged, g.thresholds)
	}
	if err := report.WriteFileAtomic(out, func(w io.Writer) error { return report.JSONWriter{}.WriteRun(w, merged) }); err != nil {
		return unfinishedErr("writing merged result %s: %v", out, err)
	}
	if err := (report.ConsoleWriter{}).WriteRun(a.stdout, merged); err != nil {
		return unfinishedErr("writing summary: %v", err)
	}
	printRunThresholds(a.stdout, merged)
	return runExit(merged)
}

// resultExit maps a finished result to the exit code a run would have: 3
// when it was interrupted, 1 when it did not pass, 0 otherwise.
func resultExit(res *report.Result) error {
	switch {
	case res.Interrupted:
		return unfinishedErr("the result was interrupted (%s)", res.StopReason)
	case !res.Passed():
		return &exitError{code: exitFailed, err: errNoMessage}
	}
	return nil
}
