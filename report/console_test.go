package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in ../testdata/report")

const goldenDir = "../testdata/report"

func TestConsoleGolden(t *testing.T) {
	tests := []struct {
		name  string
		res   *Result
		width int
	}{
		{"mixed", mixedResult(), 80},
		{"mixed_narrow", mixedResult(), 60},
		{"mixed_wide", mixedResult(), 100}, // room for the 95% CI column
		{"passed", passedResult(), 0},
		{"interrupted", interruptedResult(), 60},
		{"empty", emptyResult(), 80},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := (ConsoleWriter{Width: tt.width}).Write(&buf, tt.res); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join(goldenDir, "console_"+tt.name+".golden")
			if *update {
				if err := os.MkdirAll(goldenDir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got := buf.String(); got != string(want) {
				t.Errorf("console output differs from %s (go test -update to accept):\n--- got\n%s\n--- want\n%s", golden, got, want)
			}
			if tt.width > 0 {
				for i, line := range strings.Split(buf.String(), "\n") {
					if n := len([]rune(line)); n > tt.width {
						t.Errorf("line %d is %d columns, wider than %d: %q", i+1, n, tt.width, line)
					}
				}
			}
			if strings.Contains(buf.String(), "\x1b[") {
				t.Error("Color false, but the output has ANSI escapes")
			}
		})
	}
}

func TestConsoleContent(t *testing.T) {
	var buf bytes.Buffer
	if err := (ConsoleWriter{}).Write(&buf, mixedResult()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	// The failing scenario names its first failure: iteration 2 (1-based),
	// turn 2, the failing expectation, the reason and the reply.
	for _, want := range []string{
		"conversation 3 (iteration 2), turn 2: failed",
		`expect  contains "yearly"`,
		`reason  reply does not contain "yearly"`,
		`reply   "I'm sorry, I can only help`,
		"calls: 26 of 1,000 budget (plan starter), 974 left",
		"1 error · 1 throttled · 1 not run",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{"secret", "sk-"} {
		if strings.Contains(out, secret) {
			t.Errorf("summary contains %q", secret)
		}
	}
}

func TestConsoleColor(t *testing.T) {
	var buf bytes.Buffer
	if err := (ConsoleWriter{Color: true}).Write(&buf, mixedResult()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, ansiGreen+"✓"+ansiReset) || !strings.Contains(out, ansiRed+"FAILED"+ansiReset) {
		t.Errorf("colored summary lacks green ✓ or red FAILED:\n%q", out)
	}
	// Coloring must not change the layout: without escapes it is the
	// plain output.
	var plain bytes.Buffer
	_ = (ConsoleWriter{}).Write(&plain, mixedResult())
	if stripped := stripANSI(out); stripped != plain.String() {
		t.Errorf("colored output without escapes differs from the plain output:\n%s\n---\n%s", stripped, plain.String())
	}
}

func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b {
			for i < len(s) && s[i] != 'm' {
				i++
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func TestFormatting(t *testing.T) {
	tests := []struct{ got, want string }{
		{fmtInt(0), "0"},
		{fmtInt(999), "999"},
		{fmtInt(1000), "1,000"},
		{fmtInt(-1234567), "-1,234,567"},
		{fmtMicros(850), "850µs"},
		{fmtMicros(1234), "1.234ms"},
		{fmtMicros(12345), "12.35ms"},
		{fmtMicros(123456), "123.5ms"},
		{fmtMicros(1520000), "1.520s"},
		{fmtMicros(HighestLatencyMicros), "300.0s"},
		{fmtTick(50_000), "50.0ms"},
		{fmtTick(1_500_000), "1.50s"},
		{fmtPercent(0.8), "80.0%"},
		{fmtPercent(2.0 / 3), "66.7%"},
		{fmtDuration(12345 * 1e6), "12.3s"},
		{fmtDuration(187 * 1e9), "3m07s"},
		{cut("abcdef", 4), "abc…"},
		{cut("abc", 4), "abc"},
		{strings.Join(wrap("one two three four", 9), "|"), "one two|three|four"},
		{excerpt("  a\n\tb  c\x00d ", 10), "a b c d"},
		{excerpt("héllo wörld", 5), "héllo…"},
	}
	for i, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("case %d: got %q, want %q", i, tt.got, tt.want)
		}
	}
}
