package agent

import "testing"

func TestRedact(t *testing.T) {
	tests := []struct {
		s       string
		secrets []string
		want    string
	}{
		{"no secrets", nil, "no secrets"},
		{"key abc in abc", []string{"abc"}, "key [REDACTED] in [REDACTED]"},
		{"empty secret ignored", []string{""}, "empty secret ignored"},
		{"a=sk-1 b=sk-12", []string{"sk-1", "sk-12", ""}, "a=[REDACTED] b=[REDACTED]"},
		{"a=sk-1 b=sk-12", []string{"sk-12", "sk-1"}, "a=[REDACTED] b=[REDACTED]"},
		{"nothing here", []string{"zzz"}, "nothing here"},
	}
	for _, tt := range tests {
		if got := Redact(tt.s, tt.secrets...); got != tt.want {
			t.Errorf("Redact(%q, %q) = %q, want %q", tt.s, tt.secrets, got, tt.want)
		}
	}
}
