package scenarios

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// DefaultDateLayout is the layout of {{ date }} without a layout argument.
const DefaultDateLayout = "2006-01-02"

// dateLayouts are the named layouts {{ date }} accepts without quotes.
var dateLayouts = map[string]string{
	"date":     DefaultDateLayout,
	"time":     "15:04",
	"datetime": "2006-01-02 15:04",
	"rfc3339":  time.RFC3339,
	"weekday":  "Monday",
}

func dateLayoutNames() string {
	return "date, datetime, rfc3339, time, weekday"
}

var dateOffsetRE = regexp.MustCompile(`^([+-])(\d+)(s|m|h|d|w|mo|y)$`)

// maxDateOffset is the largest number of an offset of {{ date }}: 999,999
// years is far, and still a time the calendar computes.
const maxDateOffset = 999_999

// dateArg is the parsed argument of {{ date [OFFSET] [LAYOUT] }}.
type dateArg struct {
	n      int    // signed amount
	unit   string // s, m, h, d, w, mo, y
	layout string
}

// parseDateArgs parses `[+N|-N UNIT] [LAYOUT]`: an offset such as +2d,
// -1w, +3h, +30m, +1mo, +1y (units s, m = minutes, h, d, w, mo = months,
// y), then a Go layout in double or single quotes ("2006-01-02 15:04") or
// one of the names date, datetime, rfc3339, time, weekday.
func parseDateArgs(s string) (any, error) {
	a := dateArg{layout: DefaultDateLayout}
	s = strings.TrimSpace(s)
	all := s
	if s != "" && (s[0] == '+' || s[0] == '-') {
		tok, rest, _ := strings.Cut(s, " ")
		m := dateOffsetRE.FindStringSubmatch(tok)
		if m == nil {
			return nil, fmt.Errorf("{{ date %s }}: offset %q: want a sign, a number and a unit, e.g. +2d, -1w, +3h, +30m, +1mo (units: s, m = minutes, h, d, w, mo = months, y)", s, tok)
		}
		n, err := strconv.Atoi(m[2])
		if err != nil || n > maxDateOffset {
			return nil, fmt.Errorf("{{ date %s }}: offset %q is out of range: the number must be from 0 to %d", s, tok, maxDateOffset)
		}
		if m[1] == "-" {
			n = -n
		}
		a.n, a.unit = n, m[3]
		s = strings.TrimSpace(rest)
	}
	switch {
	case s == "":
	case s[0] == '"' || s[0] == '\'':
		if len(s) < 2 || s[len(s)-1] != s[0] || strings.IndexByte(s[1:len(s)-1], s[0]) >= 0 {
			return nil, fmt.Errorf("{{ date %s }}: layout %s: write one quoted Go layout after the offset, e.g. \"2006-01-02 15:04\"", all, s)
		}
		a.layout = s[1 : len(s)-1]
		if strings.TrimSpace(a.layout) == "" {
			return nil, fmt.Errorf("{{ date %s }}: empty layout", all)
		}
	default:
		l, ok := dateLayouts[s]
		if !ok {
			return nil, fmt.Errorf("{{ date %s }}: unknown layout %q: use a quoted Go layout such as \"2006-01-02 15:04\" or one of %s; an offset comes first, e.g. +2d", all, s, dateLayoutNames())
		}
		a.layout = l
	}
	return a, nil
}

// renderDate formats the run's start time (Env.Now; the current time when
// zero), moved by the offset. Days, weeks, months and years move the
// calendar date (so +1d keeps the wall-clock time across a DST change).
func renderDate(env *Env, arg any) (string, bool) {
	a, _ := arg.(dateArg)
	if a.layout == "" {
		a.layout = DefaultDateLayout
	}
	t := env.Now
	if t.IsZero() {
		t = time.Now()
	}
	switch a.unit {
	case "s":
		t = t.Add(time.Duration(a.n) * time.Second)
	case "m":
		t = t.Add(time.Duration(a.n) * time.Minute)
	case "h":
		t = t.Add(time.Duration(a.n) * time.Hour)
	case "d":
		t = t.AddDate(0, 0, a.n)
	case "w":
		t = t.AddDate(0, 0, 7*a.n)
	case "mo":
		t = t.AddDate(0, a.n, 0)
	case "y":
		t = t.AddDate(a.n, 0, 0)
	}
	return t.Format(a.layout), true
}

// secretLike reports whether an environment variable's name looks like it
// holds a credential: such names are never readable from scenarios, since
// rendered messages land in transcripts and reports.
func secretLike(name string) bool {
	u := strings.ToUpper(name)
	for _, w := range []string{"KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL"} {
		if strings.Contains(u, w) {
			return true
		}
	}
	return false
}

// parseEnvArgs parses the variable name of {{ env NAME }}.
func parseEnvArgs(s string) (any, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("{{ env }} needs a variable name, e.g. {{ env QA_REGION }}")
	}
	if !validName(s, false) {
		return nil, fmt.Errorf("{{ env %s }}: invalid variable name %q: use letters, digits and '_'", s, s)
	}
	if secretLike(s) {
		return nil, fmt.Errorf("{{ env %s }}: names like *KEY*, *TOKEN*, *SECRET*, *PASSWORD* are never readable from scenarios: the rendered text lands in transcripts and reports", s)
	}
	return s, nil
}

func renderEnv(env *Env, arg any) (string, bool) {
	name, _ := arg.(string)
	if name == "" || secretLike(name) {
		return "", false
	}
	look := env.LookupEnv
	if look == nil {
		look = os.LookupEnv
	}
	return look(name)
}
