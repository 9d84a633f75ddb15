// Command evalrun replays YAML conversations against a chat agent, checks the
// expected outcomes at each turn, and reports latency and pass/fail, never
// spending more than the agent's call quota allows.
//
// Run `evalrun help` for the commands; README.md for a tour.
package main

import (
	"context"
	"io"
	"log"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/evalrun/evalrun/agent"
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

	// net/http logs what a server does wrong (bytes after an answer, for
	// one) through the standard logger, once per call: show each message
	// once.
	log.SetFlags(0)
	log.SetOutput(&onceWriter{w: os.Stderr, seen: map[string]bool{}})

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

// onceWriter passes each distinct line of the standard logger (net/http's
// diagnostics) once, prefixed "evalrun: net/http: ", and drops repeats.
type onceWriter struct {
	mu   sync.Mutex
	w    io.Writer
	seen map[string]bool
}

func (o *onceWriter) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	line := agent.Printable(strings.TrimSpace(string(p)))
	if o.seen[line] || len(o.seen) >= 20 {
		return len(p), nil
	}
	o.seen[line] = true
	_, err := io.WriteString(o.w, "evalrun: net/http: "+line+" (shown once)\n")
	return len(p), err
}
