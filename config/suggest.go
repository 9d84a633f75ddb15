package config

import (
	suggestpkg "github.com/evalrun/evalrun/internal/suggest"
	"io"
	"strconv"
)

// Suggest returns `; did you mean "X"?` for the valid name closest to s, or
// "" when none is close.
func Suggest(s string, valid []string) string { return suggest(s, valid) }

func suggest(s string, valid []string) string {
	best := suggestpkg.Closest(s, valid)
	if best == "" {
		return ""
	}
	return "; did you mean " + strconv.Quote(best) + "?"
}

var errEOF = io.EOF

func ioLimit(r io.Reader) io.Reader { return io.LimitReader(r, maxFileSize+1) }
