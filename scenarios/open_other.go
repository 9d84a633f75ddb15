//go:build !unix

package scenarios

// openNoBlock is 0 where there is no O_NONBLOCK; the loader still refuses
// what is not a regular file before opening it.
const openNoBlock = 0
