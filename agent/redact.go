package agent

import (
	"cmp"
	"encoding/binary"
	"io"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// Redacted is what Redact puts in place of a secret.
const Redacted = "[REDACTED]"

// Redact returns s with every occurrence of each non-empty secret, and every
// part of MinFragment bytes or more of a secret (a key cut short, or a key
// missing its last characters), replaced by "[REDACTED]". Overlapping and
// adjacent parts are replaced once. Empty secrets are ignored.
func Redact(s string, secrets ...string) string {
	if len(secrets) == 0 || s == "" {
		return s
	}
	return NewRedactor(secrets...).String(s)
}

// MinFragment is the length, in bytes, from which a part of a secret is
// redacted on its own: any run of MinFragment bytes or more that occurs in
// a secret. A secret shorter than it is redacted only whole.
const MinFragment = 8

// Redactor hides a set of secrets, and their fragments (see Redact), in
// text: the CLI gives it every key it reads from the environment and
// applies it to every text that comes from outside (replies, errors, judge
// reasons) and to everything it writes. A nil *Redactor hides nothing. It
// is safe for concurrent use; secrets may be added at any time.
type Redactor struct {
	mu      sync.RWMutex
	secrets map[string]bool
	short   []string            // secrets shorter than MinFragment, longest first
	grams   map[uint64]struct{} // every MinFragment-byte window of the longer secrets
	first   [256]bool           // first bytes of those windows
}

// NewRedactor returns a Redactor of secrets (empty ones ignored).
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{}
	r.Add(secrets...)
	return r
}

// Add adds secrets to hide, and their URL-escaped forms; empty ones are
// ignored.
func (r *Redactor) Add(secrets ...string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		r.add(sec)
		if esc := url.QueryEscape(sec); esc != sec {
			r.add(esc)
		}
	}
}

func (r *Redactor) add(sec string) {
	if r.secrets[sec] {
		return
	}
	if r.secrets == nil {
		r.secrets = map[string]bool{}
	}
	r.secrets[sec] = true
	if len(sec) < MinFragment {
		r.short = append(r.short, sec)
		slices.SortFunc(r.short, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
		return
	}
	if r.grams == nil {
		r.grams = map[uint64]struct{}{}
	}
	for i := 0; i+MinFragment <= len(sec); i++ {
		r.grams[binary.LittleEndian.Uint64([]byte(sec[i:i+MinFragment]))] = struct{}{}
		r.first[sec[i]] = true
	}
}

// Empty reports whether r hides nothing.
func (r *Redactor) Empty() bool {
	if r == nil {
		return true
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.secrets) == 0
}

// String returns s with every secret and every fragment of one (see
// Redact) replaced by "[REDACTED]".
func (r *Redactor) String(s string) string {
	if r == nil || s == "" {
		return s
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if len(r.secrets) == 0 {
		return s
	}
	var spans [][2]int
	for _, sec := range r.short {
		for i := 0; ; {
			j := strings.Index(s[i:], sec)
			if j < 0 {
				break
			}
			spans = append(spans, [2]int{i + j, i + j + len(sec)})
			i += j + len(sec)
		}
	}
	if len(r.grams) > 0 {
		for i := 0; i+MinFragment <= len(s); i++ {
			if !r.first[s[i]] {
				continue
			}
			if _, ok := r.grams[binary.LittleEndian.Uint64([]byte(s[i:i+MinFragment]))]; ok {
				spans = append(spans, [2]int{i, i + MinFragment})
			}
		}
	}
	if len(spans) == 0 {
		return s
	}
	slices.SortFunc(spans, func(a, b [2]int) int { return cmp.Compare(a[0], b[0]) })
	var b strings.Builder
	last := 0
	for k := 0; k < len(spans); {
		start, end := spans[k][0], spans[k][1]
		for k++; k < len(spans) && spans[k][0] <= end; k++ {
			end = max(end, spans[k][1])
		}
		b.WriteString(s[last:start])
		b.WriteString(Redacted)
		last = end
	}
	b.WriteString(s[last:])
	return b.String()
}

// Writer returns a writer that redacts each Write's bytes before passing
// them on to w. A secret split across two Writes is caught in each part of
// MinFragment bytes or more.
func (r *Redactor) Writer(w io.Writer) io.Writer { return redactWriter{r, w} }

type redactWriter struct {
	r *Redactor
	w io.Writer
}

func (x redactWriter) Write(p []byte) (int, error) {
	s := x.r.String(string(p))
	if len(s) == len(p) && s == string(p) {
		return x.w.Write(p)
	}
	if _, err := io.WriteString(x.w, s); err != nil {
		return 0, err
	}
	return len(p), nil
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
