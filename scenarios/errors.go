package scenarios

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Error is one problem found while loading scenarios, at a place in a file.
type Error struct {
	Pos Pos
	Msg string
	// Source is the source line at Pos with a caret under the column, for
	// a YAML syntax error; "" otherwise. Error prints it after the message.
	Source string
}

// Error formats the problem as "file:line:col: msg". When the line is not
// known (a file that cannot be read, a YAML error without a line) it is
// "file: msg". A Source follows on the next lines.
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

// ErrorList is every problem found by Load or Parse, sorted by file, line
// and column. Load and Parse return it as their error, so a caller can show
// each problem on its own line or count them:
//
//	var errs scenarios.ErrorList
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

func (l *ErrorList) add(pos Pos, format string, args ...any) {
	*l = append(*l, &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}
