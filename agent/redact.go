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

// secretParams are query parameter names whose values RedactURL hides
// (compared case-insensitively).
var secretParams = []string{
	"api_key", "apikey", "api-key", "x-api-key", "key", "access_token", "token",
	"auth", "secret", "client_secret", "password", "sig", "signature",
}

func isSecretParam(name string) bool {
	for _, p := range secretParams {
		if strings.EqualFold(name, p) {
			return true
		}
	}
	return false
}

// RedactURL returns raw with the password of its user information and the
// values of secret-looking query parameters (api_key, key, token,
// access_token, secret, password, sig, ...) replaced by "[REDACTED]", so a
// URL can go into a report or a log line. The rest of the URL is kept as
// written. A string that is not a URL is scanned for such parameters all
// the same.
func RedactURL(raw string) string {
	s := raw
	if i := strings.Index(s, "://"); i >= 0 {
		rest := s[i+3:]
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		if at := strings.LastIndexByte(rest[:end], '@'); at >= 0 {
			if colon := strings.IndexByte(rest[:at], ':'); colon >= 0 {
				s = s[:i+3] + rest[:colon+1] + Redacted + rest[at:]
			}
		}
	}
	return redactQueryParams(s)
}

// redactQueryParams replaces the value of every secret-looking parameter
// that follows a '?' or '&' in s, up to the next '&', '#', quote or white
// space.
func redactQueryParams(s string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '?' && s[i] != '&' {
			continue
		}
		eq := i + 1
		for eq < len(s) && eq-i <= 20 && s[eq] != '=' && s[eq] != '&' && s[eq] != '?' && !endsParam(s[eq]) {
			eq++
		}
		if eq >= len(s) || s[eq] != '=' || !isSecretParam(s[i+1:eq]) {
			continue
		}
		end := eq + 1
		for end < len(s) && s[end] != '&' && !endsParam(s[end]) {
			end++
		}
		if end == eq+1 || s[eq+1:end] == Redacted {
			continue
		}
		b.WriteString(s[last : eq+1])
		b.WriteString(Redacted)
		last = end
		i = end - 1
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func endsParam(c byte) bool {
	return c == '#' || c == '"' || c == '\'' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '>' || c == '<'
}
