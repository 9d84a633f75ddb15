//go:build unix

package regularfile

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRefusesWhatIsNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	plain := filepath.Join(dir, "plain.yaml")
	if err := os.WriteFile(plain, []byte("name: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, want string
	}{
		{fifo, "a named pipe (FIFO), not a regular file"},
		{dir, "a directory, not a regular file"},
		{"/dev/zero", "a device, not a regular file"},
	} {
		done := make(chan error, 1)
		go func() { _, err := ReadFile(tc.path, 0); done <- err }()
		select {
		case err := <-done:
			if err == nil || err.Error() != tc.want || !IsNotRegular(err) {
				t.Errorf("%s: got %v, want %q", tc.path, err, tc.want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: ReadFile blocked", tc.path)
		}
	}
	data, err := ReadFile(plain, 0)
	if err != nil || string(data) != "name: x\n" {
		t.Errorf("plain file: %q, %v", data, err)
	}
	if _, err := ReadFile(plain, 3); err == nil || !strings.Contains(err.Error(), "larger than 3 bytes") {
		t.Errorf("limit: got %v", err)
	}
	if _, err := ReadFile(filepath.Join(dir, "missing"), 0); !os.IsNotExist(err) {
		t.Errorf("missing file: got %v, want a not-exist error", err)
	}
}
