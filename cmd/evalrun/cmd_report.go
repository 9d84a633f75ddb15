package main

import (
	"errors"
	"os"

	"github.com/evalrun/evalrun/report"
)

// report renders a saved result file again: "evalrun report RESULT
// [--junit F] [--md F] [--html F] [--hgrm DIR] [--out F]". Without any of
// those it prints the console summary. Its exit code says whether the
// rendering worked, not whether the run passed.
func (a *app) report(args []string) error {
	var r reportFlags
	fs := a.newFlagSet("report", "report RESULT [--junit FILE] [--md FILE] [--html FILE] [--hgrm DIR] [--out FILE]")
	r.register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := r.checkJUnit(); err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErr("report takes one result file, got %d arguments; e.g. evalrun report result.json --html report.html", len(pos))
	}
	res, err := report.ReadRunFile(pos[0])
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return usageErr("%v", err)
		}
		return &exitError{code: exitUsage, err: err}
	}
	if r.out == "" && r.junit == "" && r.md == "" && r.html == "" && r.hgrm == "" {
		return a.writeRunReports(res, &r)
	}
	return a.writeRunFiles(res, &r)
}
