package yamlpos

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Pos is a place in a file: Line and Col are 1-based, Col counts
// characters. Every file format evalrun reads (scenario files,
// evalrun.yaml and its targets:, agent files) reports problems at a Pos.
type Pos struct {
	File string
	Line int
	Col  int
}

// String formats the place as file:line:col.
func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// At returns the place of node n in file; a node without a place (nil, or
// made up rather than parsed) is at 1:1.
func At(file string, n *yaml.Node) Pos {
	if n == nil || n.Line < 1 {
		return Pos{File: file, Line: 1, Col: 1}
	}
	return Pos{File: file, Line: n.Line, Col: max(n.Column, 1)}
}

// Error is one problem in a file, at a place in it: the one error type of
// every YAML file format evalrun reads (scenarios.Error, config.Error and
// agentsim.ParseError are this type).
type Error struct {
	Pos Pos
	Msg string
	// Source is the source line at Pos with a caret under the column, for
	// a YAML syntax error; "" otherwise. Error prints it after the message.
	Source string
}

// Error formats the problem as "file:line:col: msg". When the line is not
// known (a file that cannot be read) it is "file: msg". A Source follows
// on the next lines.
func (e *Error) Error() string {
	s := e.Pos.String() + ": " + e.Msg
	if e.Pos.Line <= 0 {
		s = e.Msg
		if e.Pos.File != "" {
			s = e.Pos.File + ": " + e.Msg
		}
	}
	if e.Source != "" {
		s += "\n" + e.Source
	}
	return s
}

// ErrorList is every problem found in one or more files. Parsers return
// it as their error, so a caller can show each problem on its own line or
// count them:
//
//	var errs yamlpos.ErrorList // or scenarios.ErrorList, config.ErrorList
//	if errors.As(err, &errs) { ... }
type ErrorList []*Error

// Error joins the problems, one per line.
func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Sort orders the list by file, line and column; problems at the same place
// keep the order in which they were found.
func (l ErrorList) Sort() {
	slices.SortStableFunc(l, func(a, b *Error) int {
		return cmp.Or(
			cmp.Compare(a.Pos.File, b.Pos.File),
			cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Col, b.Pos.Col),
		)
	})
}

// Err returns the sorted list as an error, or nil when it is empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	l.Sort()
	return l
}

// Add appends a problem at pos.
func (l *ErrorList) Add(pos Pos, format string, args ...any) {
	*l = append(*l, &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// libLine is the line the YAML library names in its error, if any.
var libLine = regexp.MustCompile(`^yaml: line (\d+): `)

// Syntax turns err, the YAML library's error for src (the contents of
// file), into an Error "invalid YAML: problem" at the offending token (see
// Offset), with the source line and a caret under it. Where bisection
// cannot place it, a character YAML does not allow (invalid UTF-8, a
// control character) is found directly; failing that, it is at the line
// the library names, column 1.
func Syntax(file, src string, err error) *Error {
	problem, line, col, ok := Locate(src, err)
	if !ok {
		line, col, ok = BadCharacter(src)
	}
	if !ok {
		line, col = 1, 1
		if m := libLine.FindStringSubmatch(err.Error()); m != nil {
			line, _ = strconv.Atoi(m[1])
		}
	}
	e := &Error{Pos: Pos{File: file, Line: line, Col: col}, Msg: "invalid YAML: " + problem}
	if text, ok := Line(src, line); ok {
		e.Source = Snippet(line, text, col)
	}
	return e
}

// BadCharacter finds the first character YAML does not allow in a stream:
// invalid UTF-8 or a control character other than tab, LF, CR and NEL.
// Reader errors fail every prefix from the character on, so bisection
// cannot place them.
func BadCharacter(src string) (line, col int, ok bool) {
	for i := 0; i < len(src); {
		r, w := utf8.DecodeRuneInString(src[i:])
		if r == utf8.RuneError && w <= 1 || r < 0x20 && r != '\t' && r != '\r' && r != '\n' || r == 0x7f ||
			r >= 0x80 && r < 0xa0 && r != 0x85 || r == 0xfffe || r == 0xffff {
			line, col = LineCol(src, i)
			return line, col, true
		}
		i += w
	}
	return 0, 0, false
}
