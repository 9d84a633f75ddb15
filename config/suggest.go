package config

import (
	"io"
	"regexp"
	"strconv"
	"strings"
)

// Suggest returns `; did you mean "X"?` for the valid name closest to s, or
// "" when none is close.
func Suggest(s string, valid []string) string { return suggest(s, valid) }

func suggest(s string, valid []string) string {
	best, bestD := "", 3
	for _, v := range valid {
		if d := distance(strings.ToLower(s), v); d < bestD {
			best, bestD = v, d
		}
	}
	if best == "" {
		return ""
	}
	return "; did you mean " + strconv.Quote(best) + "?"
}

// distance is the Levenshtein distance of a and b.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
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
