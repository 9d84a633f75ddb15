//go:build !unix

package ledger

import (
	"errors"
	"os"
)

// errNoLock is returned where this platform has no file locking evalrun can
// use; the ledger cannot be shared safely there.
var errNoLock = errors.New("file locking is not supported on this platform")

func tryLock(*os.File) (bool, error) { return false, errNoLock }

func unlock(*os.File) error { return nil }

// alive cannot tell on this platform; a reservation then lives until it is
// StaleAfter old.
func alive(int) bool { return true }
