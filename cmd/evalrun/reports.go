package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/evalrun/evalrun/report"
)

// reportFlags are the outputs of a run (and of "evalrun report").
type reportFlags struct {
	out string // JSON result file
}

func (r *reportFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&r.out, "out", "", "write the JSON result to `FILE`")
}

// writeReports writes the console summary to stdout and every file report
// asked for. Each file is written atomically; a failing writer does not stop
// the others, and the first error is returned.
func (a *app) writeReports(res *report.Result, r *reportFlags) error {
	if err := (report.ConsoleWriter{}).Write(a.stdout, res); err != nil {
		return fmt.Errorf("writing summary: %w", err)
	}
	var first error
	write := func(path, what string, w report.Writer) {
		if path == "" {
			return
		}
		err := report.WriteFileAtomic(path, func(out io.Writer) error { return w.Write(out, res) })
		if err != nil && first == nil {
			first = unfinishedErr("writing %s %s: %v", what, path, err)
		}
	}
	write(r.out, "result file", report.JSONWriter{})
	return first
}
