package suggest

import "testing"

func TestClosest(t *testing.T) {
	valid := []string{"concurrency", "contains", "icontains", "model", "url"}
	for _, tc := range []struct{ word, want string }{
		{"concurency", "concurrency"},
		{"icontain", "icontains"},
		{"Contains", "contains"},
		{"modle", "model"},
		{"urk", "url"},
		{"x", ""},          // one letter: anything is one edit away
		{"frobnicate", ""}, // nothing close
		{"", ""},
	} {
		if got := Closest(tc.word, valid); got != tc.want {
			t.Errorf("Closest(%q) = %q, want %q", tc.word, got, tc.want)
		}
	}
}

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"a", "", 1}, {"kitten", "sitting", 3}, {"héllo", "hello", 1},
	} {
		if got := Distance(tc.a, tc.b); got != tc.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func FuzzDistance(f *testing.F) {
	f.Add("kitten", "sitting")
	f.Fuzz(func(t *testing.T, a, b string) {
		d := Distance(a, b)
		same := string([]rune(a)) == string([]rune(b))
		if d != Distance(b, a) || d < 0 || same != (d == 0) {
			t.Fatalf("Distance(%q, %q) = %d", a, b, d)
		}
	})
}
