//go:build unix

package config

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A named pipe given as the configuration file is refused at once instead
// of blocking until something writes to it.
func TestLoadRefusesNamedPipe(t *testing.T) {
	p := filepath.Join(t.TempDir(), "evalrun.yaml")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := Load(p)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), p+": a named pipe (FIFO), not a regular file") {
			t.Errorf("Load(fifo) = %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Load still blocked on a named pipe after a minute")
	}
}
