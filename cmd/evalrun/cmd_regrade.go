package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/evalrun/evalrun/internal/regularfile"
	"github.com/evalrun/evalrun/report"
	"github.com/evalrun/evalrun/scenarios"
)

// regrade evaluates the current scenario files against a result's stored
// transcripts: evalrun regrade RESULT [paths...].
func (a *app) regrade(args []string) error {
	fs := a.newFlagSet("regrade", "regrade [flags] RESULT.json [scenario paths...]")
	out := fs.String("out", "", "write the regraded result to `FILE`")
	transcripts := fs.String("transcripts", "", "the run's JSON Lines transcripts `FILE` (default: the one the result names, when it exists)")
	paths, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return usageErr("regrade takes a result file, then optionally the scenario files or directories to grade with")
	}
	run, err := readRunArg(paths[0])
	if err != nil {
		return err
	}
	scen := paths[1:]
	if len(scen) == 0 {
		for _, res := range run.Targets {
			for i := range res.Scenarios {
				if f := res.Scenarios[i].File; f != "" && !slices.Contains(scen, f) {
					scen = append(scen, f)
				}
			}
		}
		if len(scen) == 0 {
			return usageErr("%s records no scenario files; name them: evalrun regrade %s PATHS...", paths[0], paths[0])
		}
	}
	suite, err := scenarios.Load(scen...)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if !run.Single() {
		if *transcripts != "" {
			return usageErr("--transcripts names one file; %s holds several targets, each regraded from the transcripts file it names", paths[0])
		}
		return a.regradeSide(run, suite, paths[0], *out)
	}
	res := run.Targets[0]
	var opts report.RegradeOptions
	if tf := transcriptsFile(*transcripts, paths[0], res); tf != "" {
		f, err := regularfile.Open(tf)
		if err != nil {
			return usageErr("--transcripts: %v", err)
		}
		defer f.Close()
		opts.Transcripts = f
		fmt.Fprintf(a.stderr, "evalrun: regrading every conversation of %s\n", tf)
	}
	rep, err := report.Regrade(res, suite, opts)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if err := rep.WriteText(a.stdout); err != nil {
		return unfinishedErr("writing the regrade report: %v", err)
	}
	printThresholds(a.stdout, rep.Result)
	if *out != "" {
		if err := report.WriteFileAtomic(*out, func(w io.Writer) error { return report.JSONWriter{}.Write(w, rep.Result) }); err != nil {
			return unfinishedErr("writing regraded result %s: %v", *out, err)
		}
	}
	return resultExit(rep.Result)
}

// transcriptsFile returns the transcripts file to regrade from: the one
// given, or the one the result names if it exists (as named, or next to the
// result file); "" for none.
func transcriptsFile(given, resultPath string, res *report.Result) string {
	if given != "" {
		return given
	}
	if res.Transcripts == nil || res.Transcripts.File == "" {
		return ""
	}
	for _, p := range []string{res.Transcripts.File, filepath.Join(filepath.Dir(resultPath), filepath.Base(res.Transcripts.File))} {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	return ""
}
