package config

import (
	suggestpkg "github.com/evalrun/evalrun/internal/suggest"
	"io"
	"regexp"
	"strconv"
	"strings"
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

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// yamlErrLine extracts the line of a yaml syntax error (1 when unknown).
func yamlErrLine(err error) int {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		if n, e := strconv.Atoi(m[1]); e == nil {
			return n
		}
	}
	return 1
}

func yamlErrMsg(err error) string {
	s := yamlLine.ReplaceAllString(err.Error(), "")
	return strings.TrimPrefix(s, "yaml: ")
}
