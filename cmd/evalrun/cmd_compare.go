package main

import (
	"io"
	"strconv"
	"strings"

	"github.com/evalrun/evalrun/report"
)

// compare lines up two result files: evalrun compare BASE NEW.
func (a *app) compare(args []string) error {
	fs := a.newFlagSet("compare", "compare [flags] BASE.json NEW.json")
	failOn := fs.Bool("fail-on-regression", false, "exit 1 when NEW regressed against BASE")
	maxLat := fs.String("max-latency-regression", "10%", "latency increase tolerated before a significant one counts as a regression (`PCT`, e.g. 10% or 0.1)")
	conf := fs.Float64("confidence", 0.95, "confidence level of the latency intervals")
	alpha := fs.Float64("alpha", 0.05, "significance level of the pass-rate test")
	md := fs.String("md", "", "also write the comparison as Markdown to `FILE`")
	baseTarget := fs.String("base-target", "", "compare only the target `NAME` of BASE (e.g. two targets of one side-by-side run)")
	newTarget := fs.String("new-target", "", "compare only the target `NAME` of NEW")
	paths, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(paths) != 2 {
		return usageErr("compare takes two result files, BASE and NEW; got %d", len(paths))
	}
	tol, err := parseFraction(*maxLat)
	if err != nil {
		return usageErr("--max-latency-regression %q: %v", *maxLat, err)
	}
	base, err := pickTarget(paths[0], *baseTarget, "--base-target")
	if err != nil {
		return err
	}
	next, err := pickTarget(paths[1], *newTarget, "--new-target")
	if err != nil {
		return err
	}
	// Results of several targets are compared target by target.
	cmp, err := report.CompareRuns(base, next, report.CompareOptions{Confidence: *conf, Alpha: *alpha, MaxLatencyRegression: tol})
	if err != nil {
		return usageErr("%v", err)
	}
	if err := cmp.WriteText(a.stdout); err != nil {
		return unfinishedErr("writing the comparison: %v", err)
	}
	if *md != "" {
		if err := report.WriteFileAtomic(*md, func(w io.Writer) error { return cmp.WriteMarkdown(w) }); err != nil {
			return unfinishedErr("writing Markdown %s: %v", *md, err)
		}
	}
	if *failOn && cmp.Regressed() {
		return &exitError{code: exitFailed, err: errNoMessage}
	}
	return nil
}

// parseFraction parses "10%" or "0.1" as 0.1; it must be positive.
func parseFraction(s string) (float64, error) {
	num, pct := strings.CutSuffix(strings.TrimSpace(s), "%")
	f, err := strconv.ParseFloat(num, 64)
	if err == nil && pct {
		f /= 100
	}
	if err != nil || !(f > 0) || f > 100 {
		return 0, errBadFraction
	}
	return f, nil
}

var errBadFraction = usageErr("want a positive percentage such as 10%% or a fraction such as 0.1")

// pickTarget reads the result file at path, keeping only the target name
// when one is given.
func pickTarget(path, name, flagName string) (*report.Run, error) {
	run, err := readRunArg(path)
	if err != nil || name == "" {
		return run, err
	}
	one := run.Only(name)
	if one == nil {
		return nil, usageErr("%s %s: %s has no such target; its targets are %s", flagName, name, path, strings.Join(run.Names(), ", "))
	}
	return one, nil
}
