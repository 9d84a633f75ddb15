package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evalrun/evalrun/report"
)

func TestLoadFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--arrival-rate", "10/s", "--concurrency", "3"}, "--concurrency is the closed model"},
		{[]string{"--arrival", "poisson"}, "give --arrival-rate"},
		{[]string{"--max-in-flight", "5"}, "give --arrival-rate"},
		{[]string{"--arrival-rate", "fast"}, "arrival rate \"fast\""},
		{[]string{"--arrival-rate", "0/s"}, "more than 0"},
		{[]string{"--stage", "10/s"}, "want RATE:DURATION"},
		{[]string{"--stage", "10/s:0s"}, "must be positive"},
		{[]string{"--arrival", "bursty", "--arrival-rate", "1/s"}, "valid arrival processes are constant and poisson"},
		{[]string{"--grace", "5s"}, "--grace applies after --duration"},
		{[]string{"--repeat", "-1"}, `invalid value "-1" for flag -repeat: want a whole number from 1 to 1000000`},
		{[]string{"--repeat", "9223372036854775807"}, `invalid value "9223372036854775807" for flag -repeat: want a whole number from 1 to 1000000`},
		{[]string{"--repeat", "99999999999999999999"}, `flag -repeat: want a whole number from 1 to 1000000`},
		{[]string{"--duration", "-1s"}, "--duration -1s"},
	} {
		var c cli
		args := append([]string{"run"}, tc.args...)
		args = append(args, repoPath("examples"))
		if code := c.run(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d (usage); stderr %s", tc.args, code, exitUsage, c.stderr.String())
		}
		if !strings.Contains(c.stderr.String(), tc.want) {
			t.Errorf("%v: stderr %q, want it to contain %q", tc.args, c.stderr.String(), tc.want)
		}
	}
}

func TestOpenModelRunThroughTheCLI(t *testing.T) {
	out := filepath.Join(t.TempDir(), "result.json")
	var c cli
	code := c.run(t, "run", "--quiet", "--arrival-rate", "50/s", "--duration", "200ms", "--out", out, repoPath("bench/testdata/one-turn.yaml"))
	if code != 0 {
		t.Fatalf("exit %d; stderr %s", code, c.stderr.String())
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Settings   map[string]any `json:"settings"`
		Totals     struct{ Conversations int }
		Histograms []struct{ Kind, Name string }
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatal(err)
	}
	// 50/s for 200 ms: 10 arrivals on the schedule, whatever the timing.
	if res.Totals.Conversations != 10 {
		t.Errorf("%d conversations, want 10", res.Totals.Conversations)
	}
	if res.Settings[report.SettingLoadModel] != "open" || res.Settings["arrival_rate"] != "50/s" || res.Settings["duration"] != "200ms" {
		t.Errorf("settings %v", res.Settings)
	}
	kinds := map[string]bool{}
	for _, h := range res.Histograms {
		kinds[h.Kind] = true
	}
	if !kinds["service"] || !kinds["schedule_lag"] {
		t.Errorf("histogram kinds %v: want service and schedule_lag", kinds)
	}
	if !strings.Contains(c.stdout.String(), "schedule lag") {
		t.Errorf("summary lacks the schedule lag row:\n%s", c.stdout.String())
	}
}

func TestRepeatAndMaxConversationsThroughTheCLI(t *testing.T) {
	out := filepath.Join(t.TempDir(), "result.json")
	var c cli
	code := c.run(t, "run", "--quiet", "--repeat", "3", "--max-conversations", "2", "--out", out, repoPath("bench/testdata/one-turn.yaml"))
	if code != 0 {
		t.Fatalf("exit %d; stderr %s", code, c.stderr.String())
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var res struct{ Totals struct{ Conversations int } }
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatal(err)
	}
	if res.Totals.Conversations != 2 {
		t.Errorf("%d conversations, want 2", res.Totals.Conversations)
	}
}
