// Package yamlpos places the errors of go.yaml.in/yaml/v3 at the offending
// token, with the source line and a caret under it, and holds the one
// diagnostics type family of every YAML file format evalrun reads: Pos,
// Error and ErrorList (scenarios, config, agentsim and the targets: of
// evalrun.yaml use them), and Syntax, which turns a YAML library error into
// an Error at file:line:col with the source line and caret.
//
// The YAML library knows where a syntax error is — the offending token, its
// "problem mark" — but does not give it out: its error says "line N" of the
// context mark instead (where the enclosing mapping or scalar started), or
// no line at all, and never a column. A key dedented at line 7 is reported
// at line 5; an undefined alias anywhere at line 1.
//
// Offset finds the token from the outside: the parse of a prefix of
// the file fails with the same problem exactly when the prefix reaches the
// offending token, so the shortest such prefix, found by bisection (about
// log2(size) parses, each stopping at its first error), ends with the
// token's first character (an alias: its name's last). The tests (here
// and scenarios.TestYAMLErrorPositions) hold the cases with their exact
// places.
package yamlpos

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// yamlLinePrefix is the library's "line N: " before a problem.
var yamlLinePrefix = regexp.MustCompile(`^line \d+: `)

// Problem returns the problem of a YAML library error without "yaml: "
// and "line N: ".
func Problem(err error) string {
	return yamlLinePrefix.ReplaceAllString(strings.TrimPrefix(err.Error(), "yaml: "), "")
}

// failure parses every document of src and returns the problem of the
// first error, or "" when src parses.
func failure(src string) string {
	dec := yaml.NewDecoder(strings.NewReader(src))
	for {
		var doc yaml.Node
		err := decode(dec, &doc)
		if errors.Is(err, io.EOF) {
			return ""
		}
		if err != nil {
			return Problem(err)
		}
	}
}

// decode decodes the next document. The YAML library is not ours: a panic
// in it is a failure, not a crash.
func decode(dec *yaml.Decoder, doc *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	return dec.Decode(doc)
}

// Locate returns the problem of err, a YAML library error for src, and the
// 1-based line and column (in characters) of the token it is about; ok is
// false when the problem cannot be placed (see Offset).
func Locate(src string, err error) (problem string, line, col int, ok bool) {
	problem = Problem(err)
	off, ok := Offset(src, problem)
	if !ok {
		return problem, 0, 0, false
	}
	line, col = LineCol(src, off)
	return problem, line, col, true
}

// Offset returns the byte offset in src of the token the YAML
// library's problem is about, and false when the problem cannot be placed
// this way (the whole file does not fail with it, or a prefix of nothing
// does).
func Offset(src, problem string) (int, bool) {
	fails := func(n int) bool { return failure(src[:n]) == problem }
	if problem == "" || fails(0) || !fails(len(src)) {
		return 0, false
	}
	lo, hi := 0, len(src) // src[:lo] does not fail with the problem; src[:hi] does
	end := len(src)       // a prefix that fails with the problem, past any false failure
	for {
		mid := lo + (hi-lo)/2
		for mid > lo && !utf8.RuneStart(src[mid]) { // cut between characters only
			mid--
		}
		if mid == lo {
			mid = lo + (hi-lo)/2
			for mid < hi && !utf8.RuneStart(src[mid]) {
				mid++
			}
		}
		if mid != lo && mid != hi {
			if fails(mid) {
				hi = mid
			} else {
				lo = mid
			}
			continue
		}
		// src[lo:hi] is one character, the one that makes the prefix
		// fail. A prefix cut inside a key can fail as the real problem
		// does ("could not find expected ':'") and the line's end then
		// mends it: the problem is further on.
		e := lineEnd(src, hi)
		if c := src[lo]; (c == '"' || c == '\'') && problem == "found unexpected end of stream" {
			// Any prefix cut inside a quoted scalar fails so: the quote
			// left open is the one whose closing quote does not mend it.
			if q := closingQuote(src, lo); q > 0 && q < end && !fails(q+1) {
				lo, hi = q+1, end
				continue
			}
		}
		if e >= end || fails(e) {
			break
		}
		lo, hi = e, end
	}
	if name, ok := strings.CutPrefix(problem, "unknown anchor '"); ok {
		// An alias fails once its whole name is read: point at its '*'.
		name = strings.TrimSuffix(name, "' referenced")
		if i := strings.LastIndex(src[:hi], "*"+name); i >= 0 {
			return i, true
		}
	}
	if src[lo] == ':' && problem != "mapping values are not allowed in this context" {
		// A key at the start of a block line fails only once its ':' is
		// read (a prefix ending inside it fails as a key without ':'):
		// point at the key.
		return keyStart(src, lo), true
	}
	return lo, true
}

// closingQuote returns the offset of the quote closing the quoted scalar
// opened at src[i], or -1: for ' the next ' not doubled, for " the next "
// not escaped by a backslash.
func closingQuote(src string, i int) int {
	q := src[i]
	for j := i + 1; j < len(src); j++ {
		switch {
		case q == '"' && src[j] == '\\':
			j++ // the escaped character
		case src[j] != q:
		case q == '\'' && j+1 < len(src) && src[j+1] == '\'':
			j++ // '' is a quote inside
		default:
			return j
		}
	}
	return -1
}

// lineEnd returns the offset just past the line break ending the line
// that holds offset i (len(src) on the last line).
func lineEnd(src string, i int) int {
	for i < len(src) {
		r, w := utf8.DecodeRuneInString(src[i:])
		i += w
		switch r {
		case '\r':
			if i < len(src) && src[i] == '\n' {
				i++
			}
			return i
		case '\n', '\u0085', '\u2028', '\u2029':
			return i
		}
	}
	return len(src)
}

// keyStart returns the offset of the block key whose ':' is at colon: the
// first character of its line after the indentation and any "- " or "? "
// indicators.
func keyStart(src string, colon int) int {
	i := colon
	for i > 0 {
		r, w := utf8.DecodeLastRuneInString(src[:i])
		if r == '\n' || r == '\r' || r == '\u0085' || r == '\u2028' || r == '\u2029' {
			break
		}
		i -= w
	}
	for i < colon {
		switch {
		case src[i] == ' ' || src[i] == '\t':
			i++
		case (src[i] == '-' || src[i] == '?') && i+1 < colon && (src[i+1] == ' ' || src[i+1] == '\t'):
			i += 2
		default:
			return i
		}
	}
	return colon
}

// LineCol returns the 1-based line and column (in characters) of byte
// offset off in src, breaking lines as splitLines does (and the YAML
// library): LF, CR LF, CR, NEL, LS and PS.
func LineCol(src string, off int) (line, col int) {
	line, start := 1, 0
	for i := 0; i < off && i < len(src); {
		r, w := utf8.DecodeRuneInString(src[i:])
		switch r {
		case '\r':
			if i+1 < len(src) && src[i+1] == '\n' {
				if i+1 == off {
					// off is the LF of a CR LF: the end of this line.
					return line, utf8.RuneCountInString(src[start:i]) + 1
				}
				w++
			}
			fallthrough
		case '\n', '\u0085', '\u2028', '\u2029':
			line++
			start = i + w
		}
		i += w
	}
	return line, utf8.RuneCountInString(src[start:min(off, len(src))]) + 1
}

// Line returns the text of line n (1-based) of src, lines broken as Pos
// breaks them, and false when src has fewer lines.
func Line(src string, n int) (string, bool) {
	if n < 1 {
		return "", false
	}
	start := 0
	for l := 1; l < n; l++ {
		e := lineEnd(src, start)
		if e == len(src) && (e == start || !isBreakEnd(src, e)) {
			return "", false
		}
		start = e
	}
	end := lineEnd(src, start)
	for end > start {
		r, w := utf8.DecodeLastRuneInString(src[start:end])
		if r != '\n' && r != '\r' && r != '\u0085' && r != '\u2028' && r != '\u2029' {
			break
		}
		end -= w
	}
	return src[start:end], true
}

// isBreakEnd reports whether src[:e] ends with a line break.
func isBreakEnd(src string, e int) bool {
	r, _ := utf8.DecodeLastRuneInString(src[:e])
	return r == '\n' || r == '\r' || r == '\u0085' || r == '\u2028' || r == '\u2029'
}

// maxSnippet is how many characters of a source line a snippet shows.
const maxSnippet = 100

// Snippet shows source line number n (its text is line) and, below it, a
// caret under column col (1-based, in characters), both after a margin
// holding the line number and a bar. A long line is cut to a window around
// the column; control characters show as '?', so the file cannot drive the
// terminal; a tab stays a tab in both lines, so the caret stays under its
// character.
func Snippet(n int, line string, col int) string {
	runes := []rune(line)
	col = max(1, min(col, len(runes)+1))
	from, to := 0, len(runes)
	if len(runes) > maxSnippet {
		from = max(0, min(col-1-maxSnippet/2, len(runes)-maxSnippet))
		to = from + maxSnippet
	}
	var src, caret bytes.Buffer
	if from > 0 {
		src.WriteString("…")
		caret.WriteByte(' ')
	}
	for i, r := range runes[from:to] {
		switch {
		case r == '\t':
		case r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 || r == utf8.RuneError:
			r = '?'
		}
		src.WriteRune(r)
		if from+i < col-1 {
			if r == '\t' {
				caret.WriteByte('\t')
			} else {
				caret.WriteByte(' ')
			}
		}
	}
	if to < len(runes) {
		src.WriteString("…")
	}
	w := max(5, len(strconv.Itoa(n)))
	return fmt.Sprintf("%*d | %s\n%*s | %s^", w, n, src.String(), w, "", caret.String())
}
