package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evalrun/evalrun/agentsim"
	"github.com/evalrun/evalrun/examples"
	"github.com/evalrun/evalrun/ledger"
	"github.com/evalrun/evalrun/runner"
)

// ledgerCLI returns a cli with the key in OPTIMLY_API_KEY and its own
// ledger file, and that ledger opened for the test to look at.
func ledgerCLI(t *testing.T, key string) (*cli, *ledger.Ledger, string, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state", "ledger.json")
	led, err := ledger.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	cycle, err := ledger.CycleID(time.Now(), 1)
	if err != nil {
		t.Fatal(err)
	}
	c := &cli{env: map[string]string{"OPTIMLY_API_KEY": key, "EVALRUN_LEDGER": path}}
	return c, led, ledger.Fingerprint(key), cycle
}

// startQuotaSim starts a simulated agent that accepts key and answers 429
// "quota exceeded" after quota agent calls (0: no quota).
func startQuotaSim(t *testing.T, key string, quota int64) *agentsim.Running {
	t.Helper()
	ag, err := agentsim.ParseAgent("baseline.agent.yaml", examples.BaselineAgent)
	if err != nil {
		t.Fatal(err)
	}
	ag.APIKeys = []string{key}
	ag.Latency = agentsim.LatencyModel{}
	ag.Quota = quota
	srv, err := agentsim.Start(ag, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func TestDryRunNumbers(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"real Optimly target: published limits",
			[]string{"--target", "https://api.optimly.io", "--quota", "1000"},
			[]string{
				"conversations:    25",
				"100 expected (25 new chats + 75 turns, no retries), 110 worst case (with 10 calls of retry allowance)",
				"quota:            1000 calls (quota 1000)",
				"used:             0 calls (ledger 0)",
				"headroom:         1000 calls",
				"fits: 890 calls left after the worst case",
				"limits:           calls 100/min and 1000/h, new chats 30/min (Optimly's published limits)",
				// 100 calls at 100/min: the last goes 99 × 0.6 s = 59.4 s after
				// the first, printed exactly (a lower bound, not rounded up).
				"min duration:     at least 59.4s (100 calls and 25 new chats under the limits)",
				"fingerprint " + ledger.Fingerprint("k-dry"),
			}},
		{"430 calls at 100/min and 1000/h",
			[]string{"--target", "https://api.optimly.io", "--limit", "100/min", "--limit", "1000/h", "--retry-allowance", "0", "SUITE430"},
			// Exactly: 4 full minutes of 100 (the 101st call 60 s after the
			// first, plus the 1.2 s margin) and 29 more calls 0.6 s apart.
			[]string{"min duration:     at least 4m22.2s (430 calls and 86 new chats under the limits and their safety margin; the limits alone allow 4m17.4s)",
				"limits:           calls 100/min and 1000/h (--limit)"}},
		{"430 calls without a margin",
			[]string{"--target", "https://api.optimly.io", "--limit", "100/min", "--limit", "1000/h", "--limit-margin", "0", "--retry-allowance", "0", "SUITE430"},
			[]string{"min duration:     at least 4m17.4s (430 calls and 86 new chats under the limits)",
				"limits:           calls 100/min and 1000/h, margin 0s per window (--limit)"}},
		{"simulated agent: no limits, nothing recorded",
			nil,
			[]string{"limits:           none (simulated agent)", "min duration:     no limit applies",
				"nothing recorded: the simulated agent (no --target) gets a fresh key each run"}},
		{"messages cost two",
			[]string{"--cost-unit", "messages", "--quota", "150", "--partial"},
			[]string{"cost:             200 messages expected, 220 worst case", "--partial runs the first 17 conversations (up to 150 messages)"}},
		{"over the headroom",
			[]string{"--quota", "50"},
			[]string{"the run would be refused: the run needs up to 110 calls (25 conversations) but only 50 are left"}},
		{"--rate is one --limit",
			[]string{"--rate", "10/s", "--new-chat-limit", "none"},
			// 99 gaps of 0.1 s, and the 20 ms margin after every tenth call.
			[]string{"limits:           calls 10/s (--limit)", "min duration:     at least 10.08s", "the limits alone allow 9.9s"}},
		{"--published-limits on a loopback target",
			[]string{"--target", "http://agent.localhost:8787", "--published-limits"},
			[]string{"limits:           calls 100/min and 1000/h, new chats 30/min (--published-limits)"}},
		{"--limit none against Optimly",
			[]string{"--target", "https://api.optimly.io", "--limit", "none"},
			[]string{"limits:           none (--limit none)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, _, _ := ledgerCLI(t, "k-dry")
			args := append([]string{"run", "--dry-run"}, tt.args...)
			if i := slices.Index(args, "SUITE430"); i >= 0 {
				// 86 conversations × (1 new chat + 4 turns) = 430 calls.
				path := filepath.Join(t.TempDir(), "s430.yaml")
				yaml := "name: s430\nrepeat: 86\nturns:\n  - user: a\n  - user: b\n  - user: c\n  - user: d\n"
				if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
					t.Fatal(err)
				}
				args[i] = path
			} else {
				args = append(args, repoPath("testdata/quota"))
			}
			if code := c.run(t, args...); code != exitOK {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, c.stdout.String(), c.stderr.String())
			}
			out := c.stdout.String()
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("dry run output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, "k-dry") {
				t.Errorf("dry run output holds the key:\n%s", out)
			}
		})
	}
}

func TestDryRunMakesNoCall(t *testing.T) {
	srv := startQuotaSim(t, "k-nocall", 0)
	c, _, _, _ := ledgerCLI(t, "k-nocall")
	if code := c.run(t, "run", "--dry-run", "--target", srv.URL, repoPath("testdata/quota")); code != exitOK {
		t.Fatalf("exit %d\n%s", code, c.stderr.String())
	}
	if st := srv.Server.Stats(); st.AgentCalls != 0 || st.Health != 0 {
		t.Errorf("dry run sent %d agent calls and %d health checks", st.AgentCalls, st.Health)
	}
	if !strings.Contains(c.stdout.String(), "none (loopback target)") {
		t.Errorf("a loopback target gets default limits:\n%s", c.stdout.String())
	}
}

func TestLedgerRecordsRunAndRefusesWhenUsed(t *testing.T) {
	const key = "k-ledger"
	srv := startQuotaSim(t, key, 0)
	c, led, fp, cycle := ledgerCLI(t, key)
	if code := c.run(t, "run", "--quiet", "--target", srv.URL, "--quota", "300", "--concurrency", "8", repoPath("testdata/quota")); code != exitOK {
		t.Fatalf("exit %d\n%s", code, c.stderr.String())
	}
	u, err := led.Usage(fp, cycle, "")
	if err != nil {
		t.Fatal(err)
	}
	if calls := srv.Server.Stats().AgentCalls; u.Calls != calls || calls != 100 {
		t.Errorf("ledger records %d calls, server counted %d, want 100", u.Calls, calls)
	}
	if u.Reserved != 0 {
		t.Errorf("run left %d calls reserved", u.Reserved)
	}
	if u.Target != srv.URL {
		t.Errorf("ledger target %q, want %q", u.Target, srv.URL)
	}

	// 100 used + 150 elsewhere: 50 left of 300, the run needs 110.
	c2 := &cli{env: c.env}
	code := c2.run(t, "run", "--quiet", "--target", srv.URL, "--quota", "300", "--quota-used", "150", repoPath("testdata/quota"))
	if code != exitUsage {
		t.Fatalf("exit %d, want %d\n%s", code, exitUsage, c2.stderr.String())
	}
	for _, want := range []string{"needs up to 110 calls", "only 50 are left", "250 used", "--partial", fp} {
		if !strings.Contains(c2.stderr.String(), want) {
			t.Errorf("refusal lacks %q:\n%s", want, c2.stderr.String())
		}
	}
	if strings.Contains(c2.stderr.String(), key) {
		t.Errorf("refusal holds the key:\n%s", c2.stderr.String())
	}
	if calls := srv.Server.Stats().AgentCalls; calls != 100 {
		t.Errorf("a refused run sent %d agent calls", calls-100)
	}

	// A run in progress elsewhere holds a reservation: it counts too.
	if _, err := led.Reserve(fp, cycle, "other-run", "", func(ledger.Usage) (int64, error) { return 150, nil }); err != nil {
		t.Fatal(err)
	}
	c3 := &cli{env: c.env}
	if code := c3.run(t, "run", "--quiet", "--target", srv.URL, "--quota", "300", repoPath("testdata/quota")); code != exitUsage ||
		!strings.Contains(c3.stderr.String(), "150 reserved by other runs in progress") {
		t.Errorf("exit %d with another run's reservation, want a refusal naming it:\n%s", code, c3.stderr.String())
	}
}

func TestServerQuotaExhaustionIsRecorded(t *testing.T) {
	const key = "k-exhaust"
	srv := startQuotaSim(t, key, 30) // the server's quota ends after 30 calls
	c, led, fp, cycle := ledgerCLI(t, key)
	code := c.run(t, "run", "--quiet", "--target", srv.URL, "--quota", "200", repoPath("testdata/quota"))
	if code != exitUnfinished || !strings.Contains(c.stderr.String(), "quota is used up") {
		t.Fatalf("exit %d, want %d with a quota message\n%s", code, exitUnfinished, c.stderr.String())
	}
	u, err := led.Usage(fp, cycle, "")
	if err != nil {
		t.Fatal(err)
	}
	if u.Exhausted.IsZero() || u.Calls != 200 {
		t.Errorf("ledger after exhaustion: %+v; want exhausted with used = the quota (200)", u)
	}
	before := srv.Server.Stats()

	// The next run is refused before any call, with exit 3.
	c2 := &cli{env: c.env}
	code = c2.run(t, "run", "--quiet", "--target", srv.URL, "--quota", "200", repoPath("testdata/quota"))
	if code != exitUnfinished || !strings.Contains(c2.stderr.String(), "quota is used up for the billing cycle") ||
		!strings.Contains(c2.stderr.String(), "evalrun quota --reset") {
		t.Errorf("exit %d, want %d and a message on the exhausted quota:\n%s", code, exitUnfinished, c2.stderr.String())
	}
	if after := srv.Server.Stats(); after.AgentCalls != before.AgentCalls || after.Health != before.Health {
		t.Errorf("the refused run contacted the server: %+v → %+v", before, after)
	}

	// evalrun quota shows it; --reset forgets it.
	c3 := &cli{env: c.env}
	if code := c3.run(t, "quota", "--quota", "200"); code != exitOK || !strings.Contains(c3.stdout.String(), "exhausted") ||
		!strings.Contains(c3.stdout.String(), "remaining  0 calls") {
		t.Errorf("quota: exit %d\n%s%s", code, c3.stdout.String(), c3.stderr.String())
	}
	c4 := &cli{env: c.env}
	if code := c4.run(t, "quota", "--reset"); code != exitOK {
		t.Fatalf("quota --reset: exit %d\n%s", code, c4.stderr.String())
	}
	if u, _ := led.Usage(fp, cycle, ""); u.Calls != 0 || !u.Exhausted.IsZero() {
		t.Errorf("after --reset: %+v", u)
	}
}

func TestQuotaCommand(t *testing.T) {
	const key = "k-quota-cmd"
	c, led, fp, cycle := ledgerCLI(t, key)
	if err := led.Add(fp, cycle, 340); err != nil {
		t.Fatal(err)
	}
	if err := led.Add(ledger.Fingerprint("another key"), "2024-01-01", 12); err != nil {
		t.Fatal(err)
	}
	// 1000 - 340 - 100 = 560 left; the suite needs 110 a run: 5 runs fit.
	if code := c.run(t, "quota", "--plan", "starter", "--quota-used", "100", repoPath("testdata/quota")); code != exitOK {
		t.Fatalf("exit %d\n%s", code, c.stderr.String())
	}
	out := c.stdout.String()
	for _, want := range []string{
		"fingerprint " + fp,
		"cycle " + cycle,
		"used       440 calls",
		"(ledger 340 + --quota-used 100)",
		"quota      1000 calls",
		"(plan starter)",
		"remaining  560 calls",
		"up to 110 calls a run",
		"5 more runs fit",
		ledger.Fingerprint("another key") + "  2024-01-01",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("quota output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, key) {
		t.Errorf("quota output holds the key:\n%s", out)
	}

	// No key: the simulated agent's note.
	c2 := &cli{env: map[string]string{"EVALRUN_LEDGER": c.env["EVALRUN_LEDGER"]}}
	if code := c2.run(t, "quota"); code != exitOK {
		t.Fatalf("exit %d\n%s", code, c2.stderr.String())
	}
	if !strings.Contains(c2.stdout.String(), "simulated agent, whose key is fresh each run: nothing is recorded") {
		t.Errorf("no-key output:\n%s", c2.stdout.String())
	}
	c3 := &cli{env: c.env}
	if code := c3.run(t, "quota", "--cycle-start", "31"); code != exitUsage || !strings.Contains(c3.stderr.String(), "1 to 28") {
		t.Errorf("--cycle-start 31: exit %d\n%s", code, c3.stderr.String())
	}
}

func TestDefaultLimitsPerTarget(t *testing.T) {
	l := func(s ...string) []string { return s }
	tests := []struct {
		name    string
		flags   limitFlags
		kind    string
		target  string
		all     []string
		newChat []string
		err     string
	}{
		{"real Optimly", limitFlags{}, "optimly", "https://api.optimly.io", l("100/min", "1000/h"), l("30/min"), ""},
		{"simulated agent", limitFlags{}, "optimly", "", nil, nil, ""},
		{"loopback", limitFlags{}, "optimly", "http://127.0.0.1:8787", nil, nil, ""},
		{"localhost", limitFlags{}, "optimly", "http://localhost:8787", nil, nil, ""},
		{"other kind", limitFlags{}, "openai", "https://api.openai.com", nil, nil, ""},
		{"--limit replaces the defaults", limitFlags{limits: stringList{"5/s"}}, "optimly", "https://api.optimly.io", l("5/s"), nil, ""},
		{"--rate is one --limit", limitFlags{rate: "10/s"}, "optimly", "", l("10/s"), nil, ""},
		{"--limit none", limitFlags{limits: stringList{"none"}}, "optimly", "https://api.optimly.io", nil, nil, ""},
		{"--limit none keeps an explicit new-chat limit", limitFlags{limits: stringList{"none"}, newChat: "10/min"}, "optimly", "https://api.optimly.io", nil, l("10/min"), ""},
		{"--new-chat-limit none", limitFlags{newChat: "none"}, "optimly", "https://api.optimly.io", l("100/min", "1000/h"), nil, ""},
		{"none with others", limitFlags{limits: stringList{"none", "5/s"}}, "optimly", "", nil, nil, "cannot be combined"},
		{"bad limit", limitFlags{limits: stringList{"5/day"}}, "optimly", "", nil, nil, "unknown unit"},
		{"*.localhost is loopback", limitFlags{}, "optimly", "http://agent.localhost:8787", nil, nil, ""},
		{"127.0.0.2 is loopback", limitFlags{}, "optimly", "http://127.0.0.2:8787", nil, nil, ""},
		{"--published-limits on loopback", limitFlags{published: true}, "optimly", "http://127.0.0.1:8787", l("100/min", "1000/h"), l("30/min"), ""},
		{"--published-limits on another kind", limitFlags{published: true}, "http", "https://agent.example.com", l("100/min", "1000/h"), l("30/min"), ""},
		{"--published-limits stacks --limit", limitFlags{published: true, limits: stringList{"5/s"}, newChat: "1/s"}, "http", "", l("100/min", "1000/h", "5/s"), l("30/min", "1/s"), ""},
		{"--published-limits with none", limitFlags{published: true, limits: stringList{"none"}}, "optimly", "", nil, nil, "--published-limits"},
		{"bad margin", limitFlags{margin: marginValue{"-5ms"}}, "optimly", "", nil, nil, "--limit-margin"},
		{"margin not a duration", limitFlags{margin: marginValue{"lots"}}, "optimly", "", nil, nil, "want auto, or a duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.flags.resolve(tt.kind, tt.target)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			str := func(ls []runner.Limit) []string {
				var out []string
				for _, x := range ls {
					out = append(out, x.String())
				}
				return out
			}
			if strings.Join(str(got.all), ",") != strings.Join(tt.all, ",") || strings.Join(str(got.newChat), ",") != strings.Join(tt.newChat, ",") {
				t.Errorf("limits %v, new chats %v; want %v, %v", str(got.all), str(got.newChat), tt.all, tt.newChat)
			}
		})
	}
}
