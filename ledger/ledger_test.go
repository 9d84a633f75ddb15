package ledger

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	fpA = "0123456789ab"
	fpB = "ba9876543210"
	cyc = "2025-03-01"
)

func newLedger(t *testing.T) *Ledger {
	t.Helper()
	l, err := Open(filepath.Join(t.TempDir(), "state", "evalrun", "ledger.json"))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestFingerprintNeverHoldsTheKey(t *testing.T) {
	keys := []string{"", "k", "sk-live-0123456789abcdef", "0123456789ab", strings.Repeat("x", 500), "ключ"}
	seen := map[string]string{}
	for _, k := range keys {
		fp := Fingerprint(k)
		if !fingerprintRE.MatchString(fp) {
			t.Errorf("Fingerprint(%q) = %q, want 12 lowercase hex digits", k, fp)
		}
		if len(k) >= 4 && (strings.Contains(fp, k) || strings.Contains(k, fp)) {
			t.Errorf("Fingerprint(%q) = %q shares its text with the key", k, fp)
		}
		if Fingerprint(k) != fp {
			t.Errorf("Fingerprint(%q) is not deterministic", k)
		}
		if other, dup := seen[fp]; dup {
			t.Errorf("keys %q and %q have the same fingerprint %s", k, other, fp)
		}
		seen[fp] = k
	}
	// The file written for a key holds its fingerprint, never the key.
	l := newLedger(t)
	key := "sk-secret-key-do-not-store"
	if err := l.Add(Fingerprint(key), cyc, 3); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), key) || strings.Contains(string(data), "secret") {
		t.Fatalf("ledger file holds the key:\n%s", data)
	}
	if !strings.Contains(string(data), Fingerprint(key)) {
		t.Fatalf("ledger file does not hold the fingerprint:\n%s", data)
	}
}

func TestCycleStart(t *testing.T) {
	d := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		at    string
		day   int
		start string
	}{
		{"2025-03-10T12:00:00Z", 1, "2025-03-01"},
		{"2025-03-01T00:00:00Z", 1, "2025-03-01"},
		{"2025-02-28T23:59:59Z", 1, "2025-02-01"},
		{"2025-03-10T12:00:00Z", 15, "2025-02-15"},
		{"2025-03-15T00:00:00Z", 15, "2025-03-15"},
		{"2025-03-14T23:59:59Z", 15, "2025-02-15"},
		{"2025-01-10T00:00:00Z", 15, "2024-12-15"}, // across a year
		{"2025-01-31T23:00:00Z", 28, "2025-01-28"},
		{"2025-03-01T00:00:00Z", 28, "2025-02-28"}, // February's end
		{"2024-02-29T12:00:00Z", 28, "2024-02-28"}, // leap day
		{"2024-03-27T23:59:59Z", 28, "2024-02-28"},
		{"2025-12-31T23:59:59Z", 1, "2025-12-01"},
		{"2026-01-01T00:00:00Z", 1, "2026-01-01"},
		// Cycles are in UTC: 23:30 on the 31st at UTC-5 is the 1st in UTC.
		{"2025-01-31T23:30:00-05:00", 1, "2025-02-01"},
	}
	for _, tt := range tests {
		got, err := CycleID(d(tt.at), tt.day)
		if err != nil || got != tt.start {
			t.Errorf("CycleID(%s, %d) = %q, %v; want %q", tt.at, tt.day, got, err, tt.start)
		}
		s, _ := CycleStart(d(tt.at), tt.day)
		if at := d(tt.at); at.Before(s) || !at.Before(CycleEnd(s)) {
			t.Errorf("%s is not in the cycle [%v, %v)", tt.at, s, CycleEnd(s))
		}
	}
	for _, bad := range []int{0, -1, 29, 31} {
		if _, err := CycleStart(time.Now(), bad); err == nil || !strings.Contains(err.Error(), "1 to 28") {
			t.Errorf("CycleStart(day %d): error %v, want one naming 1 to 28", bad, err)
		}
	}
}

func TestParseCycleDay(t *testing.T) {
	for in, want := range map[string]int{"1": 1, "28": 28, " 15 ": 15} {
		if got, err := ParseCycleDay(in); err != nil || got != want {
			t.Errorf("ParseCycleDay(%q) = %d, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "0", "29", "31", "x", "1.5", "-3"} {
		if _, err := ParseCycleDay(in); err == nil {
			t.Errorf("ParseCycleDay(%q): no error", in)
		}
	}
}

func TestDefaultPath(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"XDG_STATE_HOME": "/x/state", "HOME": "/home/u"}, "/x/state/evalrun/ledger.json"},
		{map[string]string{"HOME": "/home/u"}, "/home/u/.local/state/evalrun/ledger.json"},
		{map[string]string{"XDG_STATE_HOME": "relative", "HOME": "/home/u"}, "/home/u/.local/state/evalrun/ledger.json"},
	}
	for _, tt := range tests {
		got, err := DefaultPath(env(tt.env))
		if err != nil || got != filepath.FromSlash(tt.want) {
			t.Errorf("DefaultPath(%v) = %q, %v; want %q", tt.env, got, err, tt.want)
		}
	}
}

func TestAddUsedAndEntries(t *testing.T) {
	l := newLedger(t)
	if n, err := l.Used(fpA, cyc); err != nil || n != 0 {
		t.Fatalf("fresh ledger: used %d, %v", n, err)
	}
	for _, op := range []struct {
		fp, cycle string
		n         int64
	}{{fpA, cyc, 5}, {fpA, cyc, 7}, {fpA, "2025-02-01", 100}, {fpB, cyc, 1}, {fpA, cyc, 0}} {
		if err := l.Add(op.fp, op.cycle, op.n); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Add(fpA, cyc, -1); err == nil {
		t.Error("Add of -1 calls: no error")
	}
	for _, bad := range [][2]string{{"sk-live-key", cyc}, {fpA, "March"}, {fpA, "2025-13-01"}} {
		if err := l.Add(bad[0], bad[1], 1); err == nil {
			t.Errorf("Add(%q, %q): no error", bad[0], bad[1])
		}
	}
	if n, _ := l.Used(fpA, cyc); n != 12 {
		t.Errorf("used %d, want 12", n)
	}
	// A reopened ledger reads the same.
	l2, err := Open(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	es, err := l2.Entries()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		got = append(got, fmt.Sprintf("%s %s %d", e.Fingerprint, e.Cycle, e.Calls))
	}
	want := []string{fpA + " 2025-03-01 12", fpA + " 2025-02-01 100", fpB + " 2025-03-01 1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("entries %v, want %v", got, want)
	}
}

func TestReservationProtocol(t *testing.T) {
	l := newLedger(t)
	const quota = 100
	fits := func(need int64) func(Usage) (int64, error) {
		return func(u Usage) (int64, error) {
			if head := quota - u.Calls - u.Reserved; need > head {
				return 0, fmt.Errorf("need %d, headroom %d", need, head)
			}
			return need, nil
		}
	}
	if err := l.Add(fpA, cyc, 20); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Reserve(fpA, cyc, "run1", "https://api.example", fits(50)); err != nil {
		t.Fatal(err)
	}
	// A second run sees run1's reservation: 30 left, not 80.
	if _, err := l.Reserve(fpA, cyc, "run2", "", fits(40)); err == nil || !strings.Contains(err.Error(), "headroom 30") {
		t.Fatalf("second run: error %v, want a refusal with headroom 30", err)
	}
	// run1 charges 10 calls: used 30, its reservation 40; headroom stays 30.
	if err := l.Charge(fpA, cyc, "run1", 10); err != nil {
		t.Fatal(err)
	}
	u, _ := l.Usage(fpA, cyc, "")
	if u.Calls != 30 || u.Reserved != 40 || u.Target != "https://api.example" {
		t.Errorf("usage %+v, want 30 calls, 40 reserved, the target", u)
	}
	if u, _ := l.Usage(fpA, cyc, "run1"); u.Reserved != 0 {
		t.Errorf("run1's own reservation counted against it: %+v", u)
	}
	// Charging past the reservation adds all calls and empties it.
	if err := l.Charge(fpA, cyc, "run1", 45); err != nil {
		t.Fatal(err)
	}
	if u, _ := l.Usage(fpA, cyc, ""); u.Calls != 75 || u.Reserved != 0 {
		t.Errorf("after over-charge: %+v, want 75 calls, 0 reserved", u)
	}
	if _, err := l.Reserve(fpA, cyc, "run3", "", fits(20)); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(fpA, cyc, "run3"); err != nil {
		t.Fatal(err)
	}
	if u, _ := l.Usage(fpA, cyc, ""); u.Calls != 75 || u.Reserved != 0 {
		t.Errorf("after release: %+v", u)
	}
	// A refused reservation writes nothing.
	before, _ := os.ReadFile(l.Path())
	_, err := l.Reserve(fpA, cyc, "run4", "https://other", fits(26))
	after, _ := os.ReadFile(l.Path())
	if err == nil || string(before) != string(after) {
		t.Errorf("refused reservation: err %v, file changed %v", err, string(before) != string(after))
	}
}

// TestGoneReservationsSettledAsSpent: a reservation whose process is gone
// (or too old to trust) is counted as spent in full, never dropped: the run
// may have sent calls it had not flushed before it was killed.
func TestGoneReservationsSettledAsSpent(t *testing.T) {
	l := newLedger(t)
	now := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	l.now = func() time.Time { return now }
	// reserve writes a reservation straight into the file, as another
	// process (maybe on another host) would have.
	reserve := func(run string, pid int, host string, age time.Duration, n int64) {
		t.Helper()
		f, err := l.read()
		if err != nil {
			t.Fatal(err)
		}
		c := f.cycle(fpA, cyc, true)
		if c.Reservations == nil {
			c.Reservations = map[string]*reservation{}
		}
		c.Reservations[run] = &reservation{Calls: n, PID: pid, Host: host, Created: now.Add(-age)}
		if err := l.write(f); err != nil {
			t.Fatal(err)
		}
	}
	dead := deadPID(t)
	reserve("live", os.Getpid(), l.host, time.Hour, 1)
	reserve("dead-pid", dead, l.host, time.Minute, 10)
	reserve("too-old", os.Getpid(), l.host, StaleAfter+time.Minute, 100)
	reserve("other-host", dead, l.host+"-elsewhere", time.Hour, 1000)
	reserve("other-host-old", dead, l.host+"-elsewhere", 25*time.Hour, 10000)
	u, err := l.Usage(fpA, cyc, "")
	if err != nil {
		t.Fatal(err)
	}
	// Live: "live" (1) and "other-host" (1000; its pid cannot be checked here).
	if u.Reserved != 1001 {
		t.Errorf("reserved %d, want 1001 (live 1 + other host 1000)", u.Reserved)
	}
	// Gone: dead-pid 10 + too-old 100 + other-host-old 10000, spent.
	const settled = 10 + 100 + 10000
	if u.Calls != settled || u.Settled != settled || u.SettledRuns != 3 {
		t.Errorf("before the next write: calls %d, settled %d of %d runs; want %d of 3", u.Calls, u.Settled, u.SettledRuns, settled)
	}
	// The next write settles them in the file: same numbers, reservations gone.
	if err := l.Add(fpA, cyc, 1); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(l.Path())
	for _, gone := range []string{"dead-pid", "too-old", "other-host-old"} {
		if strings.Contains(string(data), gone) {
			t.Errorf("settled reservation %q still in the file", gone)
		}
	}
	u, err = l.Usage(fpA, cyc, "")
	if err != nil {
		t.Fatal(err)
	}
	if u.Calls != settled+1 || u.Settled != settled || u.SettledRuns != 3 || u.Reserved != 1001 {
		t.Errorf("after the write: %+v; want calls %d, settled %d of 3 runs, reserved 1001", u, settled+1, settled)
	}
}

// TestHugeReservationsRefused: two reservations of nearly 2^63 calls used
// to wrap the sum negative and show more headroom than the quota. Such an
// entry is refused, naming the file, the entry and the field; sums of valid
// entries saturate.
func TestHugeReservationsRefused(t *testing.T) {
	dir := t.TempDir()
	huge := `{"version": 1, "keys": {"0123456789ab": {"cycles": {"2025-03-01": {"calls": 10, "updated": "2025-03-02T00:00:00Z", "reservations": {
	  "a": {"calls": 9223372036854775800, "pid": 1, "host": "elsewhere", "created": "2099-01-01T00:00:00Z"},
	  "b": {"calls": 9223372036854775800, "pid": 1, "host": "elsewhere", "created": "2099-01-01T00:00:00Z"}}}}}}}`
	for name, tc := range map[string]struct{ content, field string }{
		"huge reservations": {huge, `keys.0123456789ab.cycles.2025-03-01.reservations.`},
		"huge calls":        {`{"version": 1, "keys": {"0123456789ab": {"cycles": {"2025-03-01": {"calls": 9223372036854775807}}}}}`, "keys.0123456789ab.cycles.2025-03-01.calls"},
		"calls overflow":    {`{"version": 1, "keys": {"0123456789ab": {"cycles": {"2025-03-01": {"calls": 92233720368547758070}}}}}`, "calls"},
		"settled > calls":   {`{"version": 1, "keys": {"0123456789ab": {"cycles": {"2025-03-01": {"calls": 1, "settled": 5}}}}}`, "keys.0123456789ab.cycles.2025-03-01.settled"},
		"negative reserve":  {`{"version": 1, "keys": {"0123456789ab": {"cycles": {"2025-03-01": {"calls": 1, "reservations": {"r": {"calls": -1, "pid": 1, "created": "2099-01-01T00:00:00Z"}}}}}}}`, `reservations."r".calls`},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".json")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Open(path)
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("Open error %v, want one naming %s and %s", err, path, tc.field)
			}
		})
	}

	// Valid entries at the bound, many of them: the sum saturates and
	// never goes negative.
	l := newLedger(t)
	f, err := l.read()
	if err != nil {
		t.Fatal(err)
	}
	c := f.cycle(fpA, cyc, true)
	c.Calls = MaxCalls
	c.Reservations = map[string]*reservation{}
	for i := range 5000 {
		c.Reservations["r"+strconv.Itoa(i)] = &reservation{Calls: MaxCalls, PID: 1, Host: "elsewhere", Created: l.now().UTC()}
	}
	if err := l.write(f); err != nil {
		t.Fatal(err)
	}
	u, err := l.Usage(fpA, cyc, "")
	if err != nil {
		t.Fatal(err)
	}
	if u.Reserved <= 0 || u.Reserved > maxSum || u.Calls != MaxCalls {
		t.Errorf("usage %+v: want reserved saturated in (0, %d]", u, int64(maxSum))
	}
	if err := l.Charge(fpA, cyc, "", MaxCalls); err != nil {
		t.Fatal(err)
	}
	if u, _ := l.Usage(fpA, cyc, ""); u.Calls != MaxCalls {
		t.Errorf("charging past the bound: calls %d, want it held at %d", u.Calls, int64(MaxCalls))
	}
	if err := l.Charge(fpA, cyc, "", MaxCalls+1); err == nil {
		t.Errorf("a charge above MaxCalls was accepted")
	}
}

// deadPID returns the pid of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func TestMarkExhaustedAndReset(t *testing.T) {
	l := newLedger(t)
	if err := l.Add(fpA, cyc, 40); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkExhausted(fpA, cyc, 1000); err != nil {
		t.Fatal(err)
	}
	u, _ := l.Usage(fpA, cyc, "")
	if u.Calls != 1000 || u.Exhausted.IsZero() {
		t.Errorf("after exhaustion with quota 1000: %+v", u)
	}
	// Unknown quota: the count stays, the mark is set.
	if err := l.Add(fpB, cyc, 7); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkExhausted(fpB, cyc, -1); err != nil {
		t.Fatal(err)
	}
	if u, _ := l.Usage(fpB, cyc, ""); u.Calls != 7 || u.Exhausted.IsZero() {
		t.Errorf("after exhaustion with unknown quota: %+v", u)
	}
	if err := l.Reset(fpA, cyc); err != nil {
		t.Fatal(err)
	}
	if u, _ := l.Usage(fpA, cyc, ""); u.Calls != 0 || !u.Exhausted.IsZero() {
		t.Errorf("after reset: %+v", u)
	}
}

func TestCorruptLedgerIsAClearError(t *testing.T) {
	dir := t.TempDir()
	tests := map[string]string{
		"garbage":    "not json",
		"version":    `{"version": 9, "keys": {}}`,
		"bad fp":     `{"version": 1, "keys": {"sk-live-abc": {"cycles": {}}}}`,
		"bad cycle":  `{"version": 1, "keys": {"0123456789ab": {"cycles": {"March": {"calls": 1}}}}}`,
		"negative":   `{"version": 1, "keys": {"0123456789ab": {"cycles": {"2025-03-01": {"calls": -5}}}}}`,
		"unknown":    `{"version": 1, "keys": {}, "extra": 1}`,
		"trailing":   `{"version": 1, "keys": {}} {}`,
		"null entry": `{"version": 1, "keys": {"0123456789ab": null}}`,
	}
	for name, content := range tests {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".json")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Open(path)
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: Open error %v, want one naming the file", name, err)
		}
	}
}

func TestConcurrentGoroutinesLoseNoCounts(t *testing.T) {
	l := newLedger(t)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				if err := l.Charge(fpA, cyc, "", int64(g+1)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n, _ := l.Used(fpA, cyc); n != 10*36 {
		t.Errorf("used %d, want %d", n, 10*36)
	}
}

// hammerEnv switches the test binary into a child process that adds 1 call
// to the ledger at its value hammerAdds times, then exits.
const (
	hammerEnv  = "EVALRUN_LEDGER_HAMMER"
	hammerAdds = 60
)

func TestMain(m *testing.M) {
	if path := os.Getenv(hammerEnv); path != "" {
		os.Exit(hammer(path))
	}
	os.Exit(m.Run())
}

func hammer(path string) int {
	l, err := Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	run := "hammer-" + strconv.Itoa(os.Getpid())
	if _, err := l.Reserve(fpA, cyc, run, "", func(Usage) (int64, error) { return hammerAdds, nil }); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for range hammerAdds {
		if err := l.Charge(fpA, cyc, run, 1); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	if err := l.Release(fpA, cyc, run); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func TestProcessesHammeringLoseNoCounts(t *testing.T) {
	l := newLedger(t)
	const procs = 3
	var wg sync.WaitGroup
	errs := make([]error, procs)
	outs := make([][]byte, procs)
	for i := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), hammerEnv+"="+l.Path())
			outs[i], errs[i] = cmd.CombinedOutput()
		}()
	}
	// This process hammers too, through another Ledger value.
	for range hammerAdds {
		if err := l.Add(fpA, cyc, 1); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("child %d: %v\n%s", i, err, outs[i])
		}
	}
	u, err := l.Usage(fpA, cyc, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := int64((procs + 1) * hammerAdds); u.Calls != want || u.Reserved != 0 {
		t.Errorf("after %d processes: %d calls, %d reserved; want %d calls, 0 reserved", procs+1, u.Calls, u.Reserved, want)
	}
	// No temporary files are left behind.
	tmps, _ := filepath.Glob(filepath.Join(filepath.Dir(l.Path()), ".ledger-*"))
	if len(tmps) > 0 {
		t.Errorf("temporary files left: %v", tmps)
	}
}

func TestLockTimeout(t *testing.T) {
	l := newLedger(t)
	l.lockTimeout = 20 * time.Millisecond
	lf, err := os.OpenFile(l.lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	if ok, err := tryLock(lf); !ok || err != nil {
		t.Fatalf("could not take the lock: %v", err)
	}
	err = l.Add(fpA, cyc, 1)
	if !errors.Is(err, ErrLockTimeout) {
		t.Fatalf("Add under a held lock: %v, want ErrLockTimeout", err)
	}
	unlock(lf)
	if err := l.Add(fpA, cyc, 1); err != nil {
		t.Fatalf("Add after unlock: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(``))
	f.Add([]byte(`{"version": 1, "keys": {}}`))
	f.Add([]byte(`{"version": 1, "keys": {"0123456789ab": {"target": "https://x", "cycles": {"2025-03-01": {"calls": 5, "updated": "2025-03-02T00:00:00Z", "reservations": {"r": {"calls": 3, "pid": 1, "created": "2025-03-02T00:00:00Z"}}}}}}}`))
	f.Add([]byte(`{"version": 1, "keys": {"0123456789ab": {"cycles": {"2025-02-30": {"calls": 1}}}}}`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fl, err := decode(data)
		if err != nil {
			return
		}
		// What decodes encodes, and decodes again to the same.
		b, err := fl.encode()
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		again, err := decode(b)
		if err != nil {
			t.Fatalf("re-decode: %v\n%s", err, b)
		}
		b2, _ := again.encode()
		if string(b) != string(b2) {
			t.Fatalf("not stable:\n%s\n%s", b, b2)
		}
	})
}
