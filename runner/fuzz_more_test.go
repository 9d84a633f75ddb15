package runner

import (
	"strings"
	"testing"
)

// FuzzParseShard checks that no --shard value panics the parser and that an
// accepted shard is a real one that prints back to an equivalent spec.
func FuzzParseShard(f *testing.F) {
	for _, s := range []string{"", "1/1", "2/3", " 3 / 3 ", "0/3", "4/3", "1/0", "-1/2", "a/b", "1/", "/2", "1/2/3", "99999999999999999999/1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sh, err := ParseShard(s)
		if err != nil {
			if !strings.Contains(err.Error(), "want") {
				t.Fatalf("error %q does not say what is valid", err)
			}
			return
		}
		if sh == (Shard{}) {
			return // the whole run
		}
		if sh.Index < 1 || sh.Index > sh.Count {
			t.Fatalf("ParseShard(%q) = %+v: index out of range", s, sh)
		}
		back, err := ParseShard(sh.String())
		if err != nil || back != sh {
			t.Fatalf("ParseShard(%q).String() = %q reparses to %+v, %v", s, sh.String(), back, err)
		}
		// Every conversation belongs to exactly one shard of the split.
		for id := 1; id <= 5; id++ {
			n := 0
			for i := 1; i <= min(sh.Count, 64); i++ {
				if (Shard{Index: i, Count: sh.Count}).Has(id) {
					n++
				}
			}
			if sh.Count <= 64 && n != 1 {
				t.Fatalf("conversation %d is in %d shards of %d", id, n, sh.Count)
			}
		}
	})
}

// FuzzParseArrival checks that the arrival-process parser never panics and
// accepts only its two names.
func FuzzParseArrival(f *testing.F) {
	for _, s := range []string{"", "constant", "poisson", " Poisson ", "uniform", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseArrival(s)
		if err != nil {
			return
		}
		if got := strings.ToLower(strings.TrimSpace(s)); got != "" && got != a.String() {
			t.Fatalf("ParseArrival(%q) = %v", s, a)
		}
	})
}
