package scenarios

import "github.com/evalrun/evalrun/internal/suggest"

// closest returns the candidate nearest to word, or "" when none is a
// plausible typo (see suggest.Closest).
func closest(word string, candidates []string) string { return suggest.Closest(word, candidates) }

// didYouMean is " (did you mean X?)" when a close candidate exists.
func didYouMean(word string, candidates []string) string {
	if c := closest(word, candidates); c != "" {
		return " (did you mean " + c + "?)"
	}
	return ""
}
