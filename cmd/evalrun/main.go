// Command evalrun replays YAML conversations against a chat agent, checks the
// expected outcomes at each turn, and reports latency and pass/fail, never
// spending more than the agent's call quota allows.
//
// Run `evalrun help` for the commands; README.md for a tour.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// The first interrupt stops new work (stop); the second cancels the calls
	// in flight (abort). Reports are written in both cases.
	stop, stopCancel := context.WithCancel(context.Background())
	abort, abortCancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		stopCancel()
		<-sigs
		abortCancel()
	}()

	a := &app{
		stdout: os.Stdout,
		stderr: os.Stderr,
		getenv: os.Getenv,
		stop:   stop,
		abort:  abort,
		tty:    isTerminal(os.Stderr),
	}
	stopProfiles := startProfiles(os.Getenv, os.Stderr)
	code := a.main(os.Args[1:])
	stopProfiles()
	os.Exit(code)
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
