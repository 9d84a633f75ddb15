// Package regularfile opens the files evalrun reads (scenarios, CSV,
// evalrun.yaml, agent files, results, transcripts) and refuses what is not
// a regular file. A named pipe would block the reader until something
// writes to it, and the CLI with it, deaf to Ctrl-C; a device such as
// /dev/zero never ends. Opening does not block (O_NONBLOCK where the system
// has it), and the file's type is checked on the open descriptor, so a
// path swapped between a check and the open cannot slip through.
package regularfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// NotRegularError is the error for a path that is not a regular file.
type NotRegularError struct {
	Mode fs.FileMode // the file's type
}

// Error says what the file is instead, e.g. "a named pipe (FIFO), not a
// regular file".
func (e *NotRegularError) Error() string {
	m := e.Mode
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO), not a regular file"
	case m&fs.ModeSocket != 0:
		return "a socket, not a regular file"
	case m&fs.ModeDevice != 0:
		return "a device, not a regular file"
	case m.IsDir():
		return "a directory, not a regular file"
	}
	return "not a regular file"
}

// Open opens path for reading if it is a regular file. Errors keep the
// *fs.PathError of the open (naming path) or are a *NotRegularError.
func Open(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|openNoBlock, 0)
	if err != nil {
		return nil, err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !info.Mode().IsRegular() {
		f.Close()
		return nil, &NotRegularError{Mode: info.Mode().Type()}
	}
	if openNoBlock != 0 {
		// Reads of a regular file never block anyway; clear the flag so
		// the file behaves as os.Open's would.
		clearNonblock(f)
	}
	return f, nil
}

// ReadFile reads the regular file at path, at most limit bytes (limit ≤ 0:
// no limit). A longer file is an error that says the limit.
func ReadFile(path string, limit int64) ([]byte, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if limit > 0 {
		r = io.LimitReader(f, limit+1)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if limit > 0 && int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return data, nil
}

// IsNotRegular reports whether err says a path is not a regular file.
func IsNotRegular(err error) bool {
	var e *NotRegularError
	return errors.As(err, &e)
}
