//go:build unix

package scenarios

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// loadSoon loads paths, failing the test if the load has not returned
// within a minute (it used to block forever on a named pipe).
func loadSoon(t *testing.T, paths ...string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := Load(paths...)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		t.Fatalf("Load(%v) still blocked after a minute", paths)
		return nil
	}
}

// A named pipe called *.yaml in a suite directory, named explicitly, or
// given as matrix_csv is refused at once ("not a regular file"), instead of
// blocking the load until something writes to it.
func TestLoadRefusesNamedPipes(t *testing.T) {
	dir := t.TempDir()
	mkfifo := func(name string) string {
		p := filepath.Join(dir, name)
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
		// Unblock a reader the loader might (wrongly) leave waiting.
		t.Cleanup(func() {
			if f, err := os.OpenFile(p, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				f.Close()
			}
		})
		return p
	}
	good := "turns:\n  - user: hi\n"
	if err := os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	pipe := mkfifo("pipe.yaml")
	csvPipe := mkfifo("rows.csv")
	csvUser := filepath.Join(t.TempDir(), "csv.yaml")
	if err := os.WriteFile(csvUser, []byte("matrix_csv: "+csvPipe+"\nturns:\n  - user: hi {{ plan }}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		paths []string
		want  string
	}{
		{"in a suite directory", []string{dir}, pipe + ": a named pipe (FIFO), not a regular file"},
		{"named explicitly", []string{pipe}, pipe + ": a named pipe (FIFO), not a regular file"},
		{"as matrix_csv", []string{csvUser}, csvUser + ":1:13: matrix_csv: cannot read " + csvPipe + ": a named pipe (FIFO), not a regular file"},
		{"a device", []string{"/dev/zero"}, "/dev/zero: a device, not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := os.Stat(tt.paths[0]); err != nil {
				t.Skip(err)
			}
			err := loadSoon(t, tt.paths...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v\nwant it to contain %q", err, tt.want)
			}
		})
	}
}
