package scenarios

import "testing"

func TestDocs(t *testing.T) {
	for _, k := range Kinds() {
		if KindDoc(k) == "" {
			t.Errorf("kind %s has no doc", k)
		}
	}
	for _, b := range Builtins() {
		if BuiltinDoc(b) == "" {
			t.Errorf("built-in %s has no doc", b)
		}
	}
	if KindDoc("nope") != "" || BuiltinDoc("nope") != "" {
		t.Error("doc for an unknown name")
	}
}

func TestErrorFormat(t *testing.T) {
	l := ErrorList{
		{Pos: Pos{File: "b.yaml", Line: 1, Col: 1}, Msg: "third"},
		{Pos: Pos{File: "a.yaml", Line: 2, Col: 5}, Msg: "second"},
		{Pos: Pos{File: "a.yaml", Line: 2, Col: 1}, Msg: "first"},
		{Pos: Pos{}, Msg: "no place"},
	}
	err := l.Err()
	want := "no place\na.yaml:2:1: first\na.yaml:2:5: second\nb.yaml:1:1: third"
	if err == nil || err.Error() != want {
		t.Errorf("got:\n%v\nwant:\n%s", err, want)
	}
	if (ErrorList{}).Err() != nil {
		t.Error("empty list is an error")
	}
	if got := (&Error{Pos: Pos{File: "x.yaml"}, Msg: "unreadable"}).Error(); got != "x.yaml: unreadable" {
		t.Errorf("no line: %q", got)
	}
}

func TestClosest(t *testing.T) {
	cands := []string{"contains", "icontains", "regex", "not_regex", "turns", "tool", "no_tool"}
	tests := map[string]string{"icontain": "icontains", "Contains": "contains", "regexp": "regex", "turn": "turns", "tools": "tool", "xyzzy": "", "a": "", "notregex": "not_regex"}
	for in, want := range tests {
		if got := closest(in, cands); got != want {
			t.Errorf("closest(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestScenarioPassed(t *testing.T) {
	tests := []struct {
		rate         float64
		passed, runs int
		want         bool
	}{
		{1, 5, 5, true},
		{1, 4, 5, false},
		{0.8, 4, 5, true},
		{0.8, 3, 5, false},
		{0.7, 7, 10, true},
		{0.4, 1, 3, false},
		{1.0 / 3, 1, 3, true},
		{0, 0, 3, true},
		{0, 0, 0, false},
		{1, 6, 5, true},
	}
	for _, tt := range tests {
		sc := &Scenario{MinPassRate: tt.rate}
		if got := sc.Passed(tt.passed, tt.runs); got != tt.want {
			t.Errorf("rate %v: Passed(%d, %d) = %v, want %v", tt.rate, tt.passed, tt.runs, got, tt.want)
		}
	}
}
