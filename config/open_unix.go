//go:build unix

package config

import "syscall"

// openNoBlock opens without blocking: opening a named pipe (FIFO) for
// reading would otherwise wait for a writer; Load refuses what is not a
// regular file once it is open.
const openNoBlock = syscall.O_NONBLOCK
