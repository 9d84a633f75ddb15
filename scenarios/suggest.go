package scenarios

import (
	"strings"
	"unicode/utf8"
)

// closest returns the candidate nearest to word by edit distance, or "" when
// none is near enough to be a plausible typo.
func closest(word string, candidates []string) string {
	lw := strings.ToLower(word)
	n := utf8.RuneCountInString(lw)
	best, bestDist := "", -1
	for _, c := range candidates {
		d := editDistance(lw, strings.ToLower(c))
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	limit := max(2, n/3)
	if bestDist < 0 || bestDist > limit || bestDist >= n {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 { // typos of short keywords only
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

// didYouMean is " (did you mean X?)" when a close candidate exists.
func didYouMean(word string, candidates []string) string {
	if c := closest(word, candidates); c != "" {
		return " (did you mean " + c + "?)"
	}
	return ""
}
