package agent

import (
	"cmp"
	"slices"
	"strings"
)

// Redacted is what Redact puts in place of a secret.
const Redacted = "[REDACTED]"

// Redact returns s with every occurrence of each non-empty secret replaced by
// "[REDACTED]". Longer secrets are replaced first, so a secret that contains
// another is never left half visible. Empty secrets are ignored.
func Redact(s string, secrets ...string) string {
	switch len(secrets) {
	case 0:
		return s
	case 1:
		if secrets[0] == "" {
			return s
		}
		return strings.ReplaceAll(s, secrets[0], Redacted)
	}
	sorted := slices.Clone(secrets)
	slices.SortFunc(sorted, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	for _, sec := range sorted {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, Redacted)
		}
	}
	return s
}
