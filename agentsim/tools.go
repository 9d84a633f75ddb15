package agentsim

import (
	"strings"
	"unicode/utf8"
)

// Tool detection works on the message as written (names keep their case),
// with hand-written scanners: the hot path compiles no regexp.

// findEmail returns the first email address in s, or "".
func findEmail(s string) string {
	for at := strings.IndexByte(s, '@'); at >= 0; {
		l := at
		for l > 0 && isLocalChar(s[l-1]) {
			l--
		}
		r := at + 1
		for r < len(s) && isDomainChar(s[r]) {
			r++
		}
		for r > at+1 && (s[r-1] == '.' || s[r-1] == '-') { // "me@x.com." ends a sentence
			r--
		}
		for l < at && s[l] == '.' {
			l++
		}
		if l < at && validDomain(s[at+1:r]) {
			return s[l:r]
		}
		next := strings.IndexByte(s[at+1:], '@')
		if next < 0 {
			break
		}
		at += 1 + next
	}
	return ""
}

func isLocalChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._%+-", c) >= 0
}

func isDomainChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-'
}

// validDomain: labels separated by dots, at least two, a TLD of 2+ letters.
func validDomain(d string) bool {
	dot := strings.LastIndexByte(d, '.')
	if dot <= 0 || len(d)-dot-1 < 2 || d[0] == '.' || strings.Contains(d, "..") {
		return false
	}
	for i := dot + 1; i < len(d); i++ {
		if c := d[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// findPhone returns the first phone number in s: a run of digits and the
// separators " -.()" (optionally after a "+") holding 7 to 15 digits, that is
// not part of a word and not an ISO date (2025-03-14). Returns "" if none.
func findPhone(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c == '+' || c == '(') {
			continue
		}
		if i > 0 && isWordByte(s[i-1]) {
			continue
		}
		j, digits := i, 0
		for j < len(s) && isPhoneChar(s[j]) {
			if s[j] >= '0' && s[j] <= '9' {
				digits++
			}
			if s[j] == '+' && j != i {
				break
			}
			j++
		}
		end := j
		for end > i && !(s[end-1] >= '0' && s[end-1] <= '9') {
			end--
		}
		cand := s[i:end]
		if end < len(s) && end == j && isWordByte(s[end]) { // digits glued to a word: "3pm"
			i = j
			continue
		}
		if digits >= 7 && digits <= 15 && !isISODate(cand) && strings.IndexByte("+(0123456789", cand[0]) >= 0 {
			return cand
		}
		i = j
	}
	return ""
}

func isPhoneChar(c byte) bool {
	return c >= '0' && c <= '9' || c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '+'
}

func isWordByte(c byte) bool {
	return c >= utf8.RuneSelf || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isISODate(s string) bool {
	s = strings.TrimSpace(s)
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	for i, c := range []byte(s) {
		if i != 4 && i != 7 && !(c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// findName returns the name a message introduces: "my name is jane" (any
// case) or "I'm Jane Doe" / "I am Jane" / "this is Jane" (capitalized words
// only, so "I'm interested" is not a name). Up to three words.
func findName(s string) string {
	for _, intro := range []struct {
		text      string
		anyCase   bool
		afterWord bool
	}{
		{"my name is ", true, false},
		{"my name's ", true, false},
		{"i'm ", false, false},
		{"i\u2019m ", false, false},
		{"i am ", false, false},
		{"this is ", false, false},
	} {
		from := 0
		for from < len(s) {
			k := indexFold(s[from:], intro.text)
			if k < 0 {
				break
			}
			k += from
			from = k + len(intro.text)
			if k > 0 && isWordByte(s[k-1]) {
				continue
			}
			if name := takeName(s[from:], intro.anyCase); name != "" {
				return name
			}
		}
	}
	return ""
}

// notNames are capitalized words that follow "I'm" without being a name.
var notNames = map[string]bool{"Interested": true, "Looking": true, "Not": true, "Just": true, "Also": true, "Here": true, "Trying": true, "Sorry": true, "The": true, "A": true, "An": true, "From": true, "With": true, "In": true, "On": true, "At": true, "Available": true, "Free": true, "Calling": true, "Writing": true, "Happy": true, "Good": true, "Fine": true, "Ok": true, "OK": true, "Ready": true, "Still": true, "So": true, "Very": true}

func takeName(s string, anyCase bool) string {
	var words []string
	i := 0
	for len(words) < 3 {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		j := i
		for j < len(s) && (isWordByte(s[j]) || (j > i && (s[j] == '-' || s[j] == '\''))) {
			j++
		}
		if j == i {
			break
		}
		w := s[i:j]
		upper := w[0] >= 'A' && w[0] <= 'Z' || w[0] >= utf8.RuneSelf
		if !upper && !(anyCase && len(words) == 0) || notNames[w] || w[0] >= '0' && w[0] <= '9' {
			break
		}
		if !upper {
			w = string(w[0]-'a'+'A') + w[1:]
		}
		words = append(words, w)
		i = j
		if i >= len(s) || s[i] != ' ' {
			break
		}
	}
	return strings.Join(words, " ")
}

// indexFold is strings.Index with ASCII case folding; sub must be lower case.
func indexFold(s, sub string) int {
	n := len(sub)
	for i := 0; i+n <= len(s); i++ {
		if equalFoldASCII(s[i:i+n], sub) {
			return i
		}
	}
	return -1
}

func equalFoldASCII(s, lower string) bool {
	for i := 0; i < len(lower); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// span is a token of a message: its text and byte range. Letters and digits
// form separate tokens, so "3pm" is "3", "pm".
type span struct {
	start, end int
	text       string
}

func tokenize(s string, dst []span) []span {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			j := i
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			dst = append(dst, span{i, j, s[i:j]})
			i = j
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= utf8.RuneSelf:
			j := i
			for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= utf8.RuneSelf) {
				j++
			}
			dst = append(dst, span{i, j, s[i:j]})
			i = j
		default:
			i++
		}
	}
	return dst
}

func isNum(t string) bool { return t != "" && t[0] >= '0' && t[0] <= '9' }

func atoiSmall(t string) int {
	if len(t) > 4 {
		return 10000
	}
	n := 0
	for i := 0; i < len(t); i++ {
		n = n*10 + int(t[i]-'0')
	}
	return n
}

func oneOf(t string, words ...string) bool {
	for _, w := range words {
		if strings.EqualFold(t, w) {
			return true
		}
	}
	return false
}

var (
	dayWords     = []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "today", "tomorrow", "tonight"}
	monthWords   = []string{"january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"}
	ordinalWords = []string{"st", "nd", "rd", "th"}
)

// findAppointment returns the day-and-time text of a message ("Tuesday at
// 3pm", "2025-03-14 10:30", "tomorrow at noon"), or "" when it lacks a day or
// a time. (Whether it asks to book at all is decided by classify.) A day is a
// weekday, today/tomorrow/tonight, "March 14", "14th March", 2025-03-14 or
// 3/14; a time is 3pm, 3 p.m., 3:30 pm, 15:00, noon or midnight.
func findAppointment(s string, toks []span) string {
	dayS, dayE, timeS, timeE := -1, -1, -1, -1
	for i := 0; i < len(toks); i++ {
		if dayS < 0 {
			if last := dayAt(s, toks, i); last >= 0 {
				dayS, dayE = toks[i].start, toks[last].end
				i = last
				continue
			}
		}
		if timeS < 0 {
			if end := timeAt(s, toks, i); end >= 0 {
				timeS, timeE = toks[i].start, end
			}
		}
	}
	if dayS < 0 || timeS < 0 {
		return ""
	}
	lo, hi := min(dayS, timeS), max(dayE, timeE)
	if hi-lo <= 40 {
		return s[lo:hi]
	}
	if dayS < timeS {
		return s[dayS:dayE] + " " + s[timeS:timeE]
	}
	return s[timeS:timeE] + " " + s[dayS:dayE]
}

// gapBetween is the text between tokens a and b.
func gapBetween(s string, toks []span, a, b int) string { return s[toks[a].end:toks[b].start] }

// dayAt returns the index of the last token of a day or date starting at
// token i, or -1.
func dayAt(s string, toks []span, i int) int {
	t := toks[i].text
	gap := func(a, b int) string { return gapBetween(s, toks, a, b) }
	blank := func(a, b int) bool { return strings.TrimSpace(gap(a, b)) == "" }
	switch {
	case oneOf(t, dayWords...):
		return i
	case oneOf(t, monthWords...):
		if i+1 < len(toks) && isNum(toks[i+1].text) && atoiSmall(toks[i+1].text) <= 31 && blank(i, i+1) {
			if i+2 < len(toks) && oneOf(toks[i+2].text, ordinalWords...) && gap(i+1, i+2) == "" {
				return i + 2
			}
			return i + 1
		}
	case isNum(t):
		n := len(toks)
		if len(t) == 4 && i+2 < n && gap(i, i+1) == "-" && gap(i+1, i+2) == "-" && len(toks[i+1].text) == 2 && len(toks[i+2].text) == 2 && isNum(toks[i+1].text) && isNum(toks[i+2].text) {
			return i + 2
		}
		if len(t) <= 2 && i+1 < n && gap(i, i+1) == "/" && isNum(toks[i+1].text) && len(toks[i+1].text) <= 2 {
			if i+2 < n && gap(i+1, i+2) == "/" && isNum(toks[i+2].text) {
				return i + 2
			}
			return i + 1
		}
		if len(t) <= 2 && atoiSmall(t) >= 1 && atoiSmall(t) <= 31 {
			j := i + 1
			if j < n && oneOf(toks[j].text, ordinalWords...) && gap(i, j) == "" {
				j++
			}
			if j < n && oneOf(toks[j].text, monthWords...) && blank(j-1, j) {
				return j
			}
		}
	}
	return -1
}

// timeAt returns the byte offset where a time of day starting at token i
// ends, or -1.
func timeAt(s string, toks []span, i int) int {
	t := toks[i].text
	if oneOf(t, "noon", "midday", "midnight") {
		return toks[i].end
	}
	if !isNum(t) || len(t) > 2 {
		return -1
	}
	h := atoiSmall(t)
	end, j, colon := toks[i].end, i+1, false
	if j < len(toks) && gapBetween(s, toks, i, j) == ":" && isNum(toks[j].text) && len(toks[j].text) == 2 && atoiSmall(toks[j].text) < 60 {
		end, colon = toks[j].end, true
		j++
	}
	ampm := false
	if j < len(toks) && oneOf(toks[j].text, "am", "pm") && strings.TrimSpace(gapBetween(s, toks, j-1, j)) == "" {
		end, ampm = toks[j].end, true
	} else if j+1 < len(toks) && oneOf(toks[j].text, "a", "p") && strings.TrimSpace(gapBetween(s, toks, j-1, j)) == "" &&
		gapBetween(s, toks, j, j+1) == "." && oneOf(toks[j+1].text, "m") {
		end, ampm = toks[j+1].end, true
		if end < len(s) && s[end] == '.' {
			end++
		}
	}
	if ampm && h >= 1 && h <= 12 || !ampm && colon && h <= 23 {
		return end
	}
	return -1
}
