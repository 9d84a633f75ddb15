//go:build !unix

package regularfile

import "os"

// openNoBlock is 0 where there is no O_NONBLOCK; the type check after the
// open still refuses what is not a regular file.
const openNoBlock = 0

func clearNonblock(*os.File) {}
