package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/evalrun/evalrun/agent"
)

// Exit codes, as documented in the README.
const (
	exitOK         = 0 // everything passed
	exitFailed     = 1 // expectations or thresholds failed
	exitUsage      = 2 // bad usage or bad input
	exitUnfinished = 3 // the run could not finish (target down, quota exhausted, interrupted)
)

// version is the evalrun version, set at build time with
// -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// app holds what a command needs from the process, so tests can run the CLI
// in-process with their own streams, environment and interrupts.
type app struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	stop           context.Context // done: stop starting new work
	abort          context.Context // done: cancel calls in flight
	tty            bool            // stderr is a terminal: show progress bars
	// redact holds the secrets read from the environment (app.secret),
	// hidden from everything written or printed.
	redact *agent.Redactor
}

// exitError carries an exit code with the message to print.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

func unfinishedErr(format string, args ...any) error {
	return &exitError{code: exitUnfinished, err: fmt.Errorf(format, args...)}
}

const usage = `evalrun replays YAML conversations against a chat agent and reports
pass/fail and latency, within the agent's call quota.

Usage:
  evalrun run [flags] [paths...]      replay scenario files or directories
  evalrun validate [paths...]         parse and check scenarios, no calls; print the plan
  evalrun schema [config]             print the JSON Schema of scenario files, or of evalrun.yaml
  evalrun quota [flags] [paths...]    usage ledger: quota used and left per key
  evalrun serve [flags]               start the simulated Optimly agent
  evalrun report RESULT [flags]       render a saved result: --junit, --md, --html, --hgrm
  evalrun compare BASE NEW            compare two results: flips, pass rates, latency
  evalrun merge RESULTS... -o OUT     merge the results of the shards of a run
  evalrun regrade RESULT [paths...]   grade stored transcripts with the current scenarios
  evalrun freeze RESULT --conversation ID   print a conversation as a scripted scenario file
  evalrun version                     print the version

Run "evalrun COMMAND -h" for a command's flags.
`

// main runs one command line and returns the process exit code.
func (a *app) main(args []string) int {
	// Whatever a command prints goes through the redactor: a key echoed
	// by an agent or a judge, or quoted in an error, is hidden.
	r := a.redactor()
	a.stdout, a.stderr = r.Writer(a.stdout), r.Writer(a.stderr)
	if a.getenv != nil {
		// The default key variable, for every command: one that only
		// renders a saved result never hides less than a run.
		a.secret(defaultKeyEnv)
	}
	if len(args) == 0 {
		fmt.Fprint(a.stderr, usage)
		return exitUsage
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "run":
		err = a.run(rest)
	case "validate":
		err = a.validate(rest)
	case "serve":
		err = a.serve(rest)
	case "report":
		err = a.report(rest)
	case "compare":
		err = a.compare(rest)
	case "merge":
		err = a.merge(rest)
	case "regrade":
		err = a.regrade(rest)
	case "quota":
		err = a.quota(rest)
	case "schema":
		err = a.schema(rest)
	case "freeze":
		err = a.freeze(rest)
	case "version", "--version", "-version":
		fmt.Fprintln(a.stdout, "evalrun", version)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(a.stdout, usage)
	default:
		err = usageErr("unknown command %q; valid: run, validate, schema, serve, report, compare, merge, regrade, freeze, quota, version, help", cmd)
	}
	return a.exit(err)
}

// exit prints err (if any) and maps it to an exit code.
func (a *app) exit(err error) int {
	if err == nil {
		return exitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintln(a.stderr, "evalrun:", strings.TrimRight(ee.err.Error(), "\n"))
		}
		return ee.code
	}
	fmt.Fprintln(a.stderr, "evalrun:", err)
	return exitUnfinished
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func (a *app) newFlagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	fs.Usage = func() {
		fmt.Fprintf(a.stderr, "Usage: evalrun %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, allowing flags before, between and after the
// positional arguments (as "evalrun run examples --quiet"), and returns the
// positional ones. "--" ends the flags. Flag errors become usage errors; the
// flag package has already printed the problem.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &exitError{code: exitUsage, err: errors.New("")}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
