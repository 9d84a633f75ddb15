//go:build unix

package regularfile

import (
	"os"
	"syscall"
)

// openNoBlock opens without blocking: opening a named pipe for reading
// would otherwise wait for a writer.
const openNoBlock = syscall.O_NONBLOCK

// clearNonblock puts f back in blocking mode.
func clearNonblock(f *os.File) {
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { syscall.SetNonblock(int(fd), false) })
	}
}
