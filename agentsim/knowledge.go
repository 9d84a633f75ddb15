package agentsim

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// kbIndex is the knowledge base prepared for matching: keywords in a map,
// phrases as normalized byte strings (" word word ") searched in the
// normalized message.
type kbIndex struct {
	words   map[string][]int32 // keyword -> entries
	phrases map[string][]int32 // first word of a phrase -> indexes in list
	list    []phraseRef
	n       int
}

type phraseRef struct {
	norm  []byte // " w1 w2 ", normalized like messages
	entry int32
	score int32
}

func newKBIndex(entries []Entry) *kbIndex {
	ix := &kbIndex{words: make(map[string][]int32), phrases: make(map[string][]int32), n: len(entries)}
	for i, e := range entries {
		seen := map[string]bool{}
		addPhrase := func(p string) {
			norm := normalize(p)
			if len(norm) == 0 {
				return
			}
			words := bytes.Count(norm, []byte{' '}) - 1
			first := string(norm[1 : 1+bytes.IndexByte(norm[1:], ' ')])
			ix.phrases[first] = append(ix.phrases[first], int32(len(ix.list)))
			ix.list = append(ix.list, phraseRef{norm: norm, entry: int32(i), score: int32(2 * words)})
		}
		for _, k := range e.Keywords {
			norm := normalize(k)
			if len(norm) == 0 {
				continue
			}
			if bytes.Count(norm, []byte{' '}) > 2 { // several words: a phrase
				addPhrase(k)
				continue
			}
			w := string(norm[1 : len(norm)-1])
			if !seen[w] {
				seen[w] = true
				ix.words[w] = append(ix.words[w], int32(i))
			}
		}
		for _, p := range e.Phrases {
			addPhrase(p)
		}
	}
	return ix
}

// match returns the best-scoring entry (-1 when none scores) and how many
// entries scored at all. norm is the normalized message (see appendNorm).
func (ix *kbIndex) match(norm []byte) (best, matched int) {
	if ix.n == 0 {
		return -1, 0
	}
	var stack [64]int32
	var scores []int32
	if ix.n <= len(stack) {
		scores = stack[:ix.n]
	} else {
		scores = make([]int32, ix.n)
	}
	// Tokens are separated by single spaces; norm starts with one.
	for i := 1; i < len(norm); {
		j := i + bytes.IndexByte(norm[i:], ' ')
		tok := norm[i:j]
		for _, e := range ix.words[string(tok)] {
			scores[e]++
		}
		for _, k := range ix.phrases[string(tok)] {
			if p := &ix.list[k]; bytes.HasPrefix(norm[i-1:], p.norm) {
				scores[p.entry] += p.score
			}
		}
		i = j + 1
	}
	best = -1
	var bestScore int32
	for i, s := range scores {
		if s > 0 {
			matched++
			if s > bestScore {
				best, bestScore = i, s
			}
		}
	}
	return best, matched
}

// normalize returns s as " tok tok " (see appendNorm), or nil when s has no
// word characters.
func normalize(s string) []byte {
	b := appendNorm(nil, s)
	if len(b) <= 1 {
		return nil
	}
	return b
}

// appendNorm appends s in normalized form to dst: lower case, every run of
// non-word characters turned into one space, simple plurals singularized,
// with a space before and after every token. Word characters are ASCII
// letters and digits and all non-ASCII characters. The result starts with a
// space; it is " " alone when s has no words.
func appendNorm(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			s = strings.ToLower(s)
			break
		}
	}
	dst = append(dst, ' ')
	start := -1 // start of the current token in dst
	for i := 0; i < len(s); i++ {
		c := s[i]
		word := c >= utf8.RuneSelf || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if word {
			if start < 0 {
				start = len(dst)
			}
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			continue
		}
		if start >= 0 {
			dst = singular(dst, start)
			dst = append(dst, ' ')
			start = -1
		}
	}
	if start >= 0 {
		dst = singular(dst, start)
		dst = append(dst, ' ')
	}
	return dst
}

// singular rewrites the token dst[start:] from a simple English plural to
// its singular: "policies" -> "policy", "plans" -> "plan" (not "ss", "us").
func singular(dst []byte, start int) []byte {
	tok := dst[start:]
	n := len(tok)
	switch {
	case n > 4 && tok[n-3] == 'i' && tok[n-2] == 'e' && tok[n-1] == 's':
		dst = append(dst[:len(dst)-3], 'y')
	case n > 3 && tok[n-1] == 's' && tok[n-2] != 's' && tok[n-2] != 'u' && tok[n-2] != 'i':
		dst = dst[:len(dst)-1]
	}
	return dst
}

// greetingWords open a message that says hello.
var greetingWords = map[string]bool{"hi": true, "hello": true, "hey": true, "howdy": true, "greeting": true, "hiya": true, "yo": true}

// isGreeting reports whether the normalized message opens with a greeting.
func isGreeting(norm []byte) bool {
	if len(norm) < 2 {
		return false
	}
	return greetingWords[string(norm[1:1+bytes.IndexByte(norm[1:], ' ')])]
}

// Word classes the tools look for, in normalized (lower case, singular) form.
const (
	wordBook  = 1 << iota // asks to book: book, schedule, appointment, ...
	wordHuman             // a human: human, person, agent, representative, ...
	wordAsk               // a request: talk, speak, connect, want, need, ...
)

var wordClasses = func() map[string]uint8 {
	m := map[string]uint8{}
	add := func(class uint8, words ...string) {
		for _, w := range words {
			n := normalize(w)
			m[string(n[1:len(n)-1])] |= class
		}
	}
	add(wordBook, "book", "booking", "schedule", "scheduling", "appointment", "reserve", "reschedule")
	add(wordHuman, "human", "person", "people", "agent", "representative", "rep", "operator", "someone", "somebody")
	add(wordAsk, "talk", "speak", "connect", "transfer", "escalate", "reach", "chat", "want", "need", "get", "put", "contact")
	return m
}()

// asksToBook reports whether a message of class c asks to book or schedule.
func asksToBook(c uint8) bool { return c&wordBook != 0 }

// wantsHuman reports whether a message of class c asks for a human: a word
// such as human/person/agent/representative together with a request such as
// talk/speak/connect/want/need.
func wantsHuman(c uint8) bool { return c&(wordHuman|wordAsk) == wordHuman|wordAsk }

// classify returns the union of the word classes of the normalized message.
func classify(norm []byte) uint8 {
	var c uint8
	for i := 1; i < len(norm); {
		j := i + bytes.IndexByte(norm[i:], ' ')
		c |= wordClasses[string(norm[i:j])]
		i = j + 1
	}
	return c
}

// countWords counts runs of word characters in s (see appendNorm).
func countWords(s string) int {
	n, in := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		word := c >= utf8.RuneSelf || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if word && !in {
			n++
		}
		in = word
	}
	return n
}
