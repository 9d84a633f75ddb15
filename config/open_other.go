//go:build !unix

package config

// openNoBlock is 0 where there is no O_NONBLOCK.
const openNoBlock = 0
