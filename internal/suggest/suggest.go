// Package suggest finds the valid name a misspelt one was meant to be, for
// "did you mean" hints in error messages.
package suggest

import (
	"strings"
	"unicode/utf8"
)

// Closest returns the candidate nearest to word by edit distance (ignoring
// case), or "" when none is near enough to be a plausible typo: at most
// max(2, len/3) edits, and fewer edits than word has letters.
func Closest(word string, candidates []string) string {
	lw := strings.ToLower(word)
	n := utf8.RuneCountInString(lw)
	best, bestDist := "", -1
	for _, c := range candidates {
		d := Distance(lw, strings.ToLower(c))
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	if bestDist < 0 || bestDist > max(2, n/3) || bestDist >= n {
		return ""
	}
	return best
}

// Distance is the Levenshtein distance between a and b, in runes. Words
// longer than 64 runes are never typos of a keyword: they are as far apart
// as their longer length unless equal.
func Distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		if a == b {
			return 0
		}
		return max(len(ra), len(rb))
	}
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
