package yamlpos

import (
	"bytes"
	"errors"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestSyntax(t *testing.T) {
	tests := []struct{ src, want string }{
		{"a: 1\nb: [1\n", "f.yaml:2:5: invalid YAML: did not find expected ',' or ']'\n    2 | b: [1\n      |     ^"},
		{"a: 1\n  b: 2\n", "f.yaml:2:4: invalid YAML: mapping values are not allowed in this context\n    2 |   b: 2\n      |    ^"},
		// a control character: placed by BadCharacter, shown as '?'
		{"a: 1\nb: x\x01y\n", "f.yaml:2:5: invalid YAML: control characters are not allowed\n    2 | b: x?y\n      |     ^"},
	}
	for _, tt := range tests {
		var n yaml.Node
		err := yaml.NewDecoder(bytes.NewReader([]byte(tt.src))).Decode(&n)
		if err == nil {
			t.Fatalf("%q parsed", tt.src)
		}
		if got := Syntax("f.yaml", tt.src, err).Error(); got != tt.want {
			t.Errorf("Syntax(%q):\n got: %s\nwant: %s", tt.src, got, tt.want)
		}
	}
}

func TestErrorList(t *testing.T) {
	var l ErrorList
	if l.Err() != nil {
		t.Fatal("empty list is an error")
	}
	l.Add(Pos{File: "b.yaml", Line: 1, Col: 1}, "third")
	l.Add(At("a.yaml", &yaml.Node{Line: 2, Column: 5}), "second %d", 2)
	l.Add(At("a.yaml", nil), "first")
	l.Add(Pos{File: "c.yaml"}, "unreadable")
	err := l.Err()
	want := "a.yaml:1:1: first\na.yaml:2:5: second 2\nb.yaml:1:1: third\nc.yaml: unreadable"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	var back ErrorList
	if !errors.As(err, &back) || len(back) != 4 {
		t.Fatalf("errors.As: %v", back)
	}
}
