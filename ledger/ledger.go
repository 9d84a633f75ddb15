package ledger

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// StaleAfter is the age after which a reservation is ignored even if its
// process still seems to run (its pid may have been reused, or it may have
// been made on another machine sharing the file).
const StaleAfter = 24 * time.Hour

// MaxCalls is the largest count of calls one ledger entry may hold (a used
// count, a settled count or a reservation): far above any plan. A file with
// more is refused as corrupt, naming the entry and field.
const MaxCalls = 1_000_000_000_000_000

// maxSum caps every sum of counts (saturating arithmetic), so a caller can
// still double a sum and add a count without overflowing an int64.
const maxSum = 1 << 60

// satAdd returns a+b for non-negative a and b, saturated at maxSum.
func satAdd(a, b int64) int64 {
	if a >= maxSum || b >= maxSum || a+b >= maxSum {
		return maxSum
	}
	return a + b
}

// DefaultLockTimeout is how long an operation waits for another process to
// release the ledger's lock before it gives up.
const DefaultLockTimeout = 30 * time.Second

// ErrLockTimeout is returned (wrapped) when the ledger stayed locked by
// another process for longer than the lock timeout.
var ErrLockTimeout = errors.New("ledger is locked by another process")

// Ledger is a usage ledger file. Its methods are safe for concurrent use, by
// goroutines and by processes on the same machine: each holds the ledger's
// file lock while it reads and rewrites the file.
type Ledger struct {
	path        string
	lockPath    string
	lockTimeout time.Duration

	// For tests: the clock, the process id and host name written into
	// reservations.
	now  func() time.Time
	pid  int
	host string
}

// Usage is what the ledger knows of one key in one billing cycle.
type Usage struct {
	// Calls is the number of agent calls charged (sent) in the cycle,
	// Settled included.
	Calls int64
	// Settled is the part of Calls that comes from the reservations of runs
	// whose process is gone (killed): each such reservation is counted as
	// spent in full, since the calls the run sent after its last flush are
	// in no ledger.
	Settled int64
	// SettledRuns is how many runs' reservations were settled so.
	SettledRuns int
	// Reserved is the calls held by live reservations of other runs (and of
	// the asking run, if it holds one), not yet charged.
	Reserved int64
	// Exhausted is when a server last said the quota was used up in this
	// cycle; zero if never.
	Exhausted time.Time
	// Updated is when the entry was last written; zero if it does not exist.
	Updated time.Time
	// Target is the (redacted) URL the key was last used against.
	Target string
}

// Entry is one key's usage in one billing cycle, as listed by Entries.
type Entry struct {
	Fingerprint string
	Cycle       string
	Usage
}

// DefaultPath returns the ledger's default location:
// $XDG_STATE_HOME/evalrun/ledger.json, or ~/.local/state/evalrun/ledger.json
// when XDG_STATE_HOME is unset or not absolute (as the XDG spec says).
// getenv looks up environment variables (os.Getenv in the CLI).
func DefaultPath(getenv func(string) string) (string, error) {
	if dir := getenv("XDG_STATE_HOME"); dir != "" && filepath.IsAbs(dir) {
		return filepath.Join(dir, "evalrun", "ledger.json"), nil
	}
	home := getenv("HOME")
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("ledger: no XDG_STATE_HOME and no home directory: %w", err)
		}
		home = h
	}
	return filepath.Join(home, ".local", "state", "evalrun", "ledger.json"), nil
}

// Open returns the ledger at path, creating its directory (mode 0700) if
// needed and checking that an existing file is a valid ledger. The file
// itself is created at the first write.
func Open(path string) (*Ledger, error) {
	if path == "" {
		return nil, errors.New("ledger: empty path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	host, _ := os.Hostname()
	l := &Ledger{
		path:        path,
		lockPath:    path + ".lock",
		lockTimeout: DefaultLockTimeout,
		now:         time.Now,
		pid:         os.Getpid(),
		host:        host,
	}
	if _, err := l.read(); err != nil {
		return nil, err
	}
	return l, nil
}

// Path returns the ledger file's path.
func (l *Ledger) Path() string { return l.path }

// Used returns the calls charged to key fingerprint fp in billing cycle
// cycle; 0 when the ledger has no entry.
func (l *Ledger) Used(fp, cycle string) (int64, error) {
	u, err := l.Usage(fp, cycle, "")
	return u.Calls, err
}

// Usage returns what the ledger knows of fp in cycle. Reservations of the
// run runID are not counted in Usage.Reserved (pass "" to count them all).
func (l *Ledger) Usage(fp, cycle, runID string) (Usage, error) {
	var u Usage
	err := l.locked(false, func(f *file) error {
		u = l.usage(f, fp, cycle, runID)
		return nil
	})
	return u, err
}

// Entries returns every key and cycle in the ledger, sorted by fingerprint
// and then by cycle, newest first.
func (l *Ledger) Entries() ([]Entry, error) {
	var out []Entry
	err := l.locked(false, func(f *file) error {
		for fp, k := range f.Keys {
			for id := range k.Cycles {
				out = append(out, Entry{Fingerprint: fp, Cycle: id, Usage: l.usage(f, fp, id, "")})
			}
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].Fingerprint != out[j].Fingerprint {
			return out[i].Fingerprint < out[j].Fingerprint
		}
		return out[i].Cycle > out[j].Cycle
	})
	return out, err
}

// Add charges n calls to fp in cycle (n < 0 is an error, 0 does nothing).
func (l *Ledger) Add(fp, cycle string, n int64) error {
	return l.Charge(fp, cycle, "", n)
}

// Reserve takes a reservation for run runID on fp in cycle, under the lock:
// decide is called with the current usage (live reservations of other runs
// in Usage.Reserved) and returns the calls to reserve, or an error (e.g. a
// refusal because the run does not fit), which Reserve returns unchanged
// with nothing written. target (a redacted URL, may be empty) is recorded
// for the key. Reserving 0 calls records the target only.
func (l *Ledger) Reserve(fp, cycle, runID, target string, decide func(Usage) (int64, error)) (int64, error) {
	if err := checkIDs(fp, cycle); err != nil {
		return 0, err
	}
	if runID == "" {
		return 0, errors.New("ledger: reserve: empty run id")
	}
	var n int64
	err := l.locked(true, func(f *file) error {
		var err error
		n, err = decide(l.usage(f, fp, cycle, runID))
		if err != nil {
			return err
		}
		if n < 0 || n > MaxCalls {
			return fmt.Errorf("ledger: reserve: call count %d is out of range (0 to %d)", n, int64(MaxCalls))
		}
		c := f.cycle(fp, cycle, true)
		if target != "" {
			f.Keys[fp].Target = target
		}
		if n > 0 {
			if c.Reservations == nil {
				c.Reservations = map[string]*reservation{}
			}
			c.Reservations[runID] = &reservation{Calls: n, PID: l.pid, Host: l.host, Created: l.now().UTC()}
		}
		c.Updated = l.now().UTC()
		return nil
	})
	return n, err
}

// Charge charges n calls sent by run runID to fp in cycle: they are added to
// the used count and taken off the run's reservation (down to zero). An empty
// runID, or a run without a reservation, only adds.
func (l *Ledger) Charge(fp, cycle, runID string, n int64) error {
	if err := checkIDs(fp, cycle); err != nil {
		return err
	}
	if n < 0 || n > MaxCalls {
		return fmt.Errorf("ledger: charge: call count %d is out of range (0 to %d)", n, int64(MaxCalls))
	}
	if n == 0 {
		return nil
	}
	return l.locked(true, func(f *file) error {
		c := f.cycle(fp, cycle, true)
		c.Calls = min(satAdd(c.Calls, n), MaxCalls)
		if r := c.Reservations[runID]; runID != "" && r != nil {
			r.Calls = max(r.Calls-n, 0)
		}
		c.Updated = l.now().UTC()
		return nil
	})
}

// Release drops the reservation of run runID (if any) on fp in cycle: the
// calls it did not charge are free again.
func (l *Ledger) Release(fp, cycle, runID string) error {
	if err := checkIDs(fp, cycle); err != nil {
		return err
	}
	return l.locked(true, func(f *file) error {
		if c := f.cycle(fp, cycle, false); c != nil {
			delete(c.Reservations, runID)
			c.Updated = l.now().UTC()
		}
		return nil
	})
}

// MarkExhausted records that the server said the quota of fp is used up in
// cycle. When the quota is known (quotaCalls >= 0, in calls), the used count
// is raised to it, so the next run with the same quota sees no headroom; a
// larger quota (an upgraded plan) then has headroom again.
func (l *Ledger) MarkExhausted(fp, cycle string, quotaCalls int64) error {
	if err := checkIDs(fp, cycle); err != nil {
		return err
	}
	return l.locked(true, func(f *file) error {
		c := f.cycle(fp, cycle, true)
		c.Calls = max(c.Calls, min(quotaCalls, MaxCalls))
		c.Exhausted = l.now().UTC()
		c.Updated = c.Exhausted
		return nil
	})
}

// Reset forgets fp's usage in cycle (used count, exhaustion and
// reservations), e.g. after the provider reset the quota.
func (l *Ledger) Reset(fp, cycle string) error {
	if err := checkIDs(fp, cycle); err != nil {
		return err
	}
	return l.locked(true, func(f *file) error {
		if k := f.Keys[fp]; k != nil {
			delete(k.Cycles, cycle)
			if len(k.Cycles) == 0 {
				delete(f.Keys, fp)
			}
		}
		return nil
	})
}

// usage sums fp's entry in cycle, counting only live reservations other than
// runID's as reserved, and the reservations of runs that are gone as spent
// (settled; see settle). Sums saturate.
func (l *Ledger) usage(f *file, fp, cycle, runID string) Usage {
	var u Usage
	if k := f.Keys[fp]; k != nil {
		u.Target = k.Target
	}
	c := f.cycle(fp, cycle, false)
	if c == nil {
		return u
	}
	u.Calls, u.Settled, u.SettledRuns, u.Exhausted, u.Updated = c.Calls, c.Settled, c.SettledRuns, c.Exhausted, c.Updated
	for id, r := range c.Reservations {
		switch {
		case !l.live(r):
			if r.Calls > 0 {
				u.Calls = satAdd(u.Calls, r.Calls)
				u.Settled = satAdd(u.Settled, r.Calls)
				u.SettledRuns++
			}
		case id != runID:
			u.Reserved = satAdd(u.Reserved, r.Calls)
		}
	}
	return u
}

// live reports whether a reservation still holds: not older than StaleAfter
// and, when made on this host, its process still exists. A reservation that
// no longer holds is settled as spent, never dropped (see settle).
func (l *Ledger) live(r *reservation) bool {
	if l.now().Sub(r.Created) > StaleAfter {
		return false
	}
	if r.Host == l.host && !alive(r.PID) {
		return false
	}
	return true
}

// settle charges the whole remaining reservation of every run that is gone
// (its process killed, or the reservation older than StaleAfter) as spent,
// and drops empty reservations and reservation maps. A run flushes its count
// every second and sends no call beyond its reservation, so the calls it
// sent but had not flushed when it was killed are at most what remains of
// its reservation: counting all of it keeps the next run's headroom at or
// below the quota minus the calls the agent received.
func (l *Ledger) settle(f *file) {
	for _, k := range f.Keys {
		for _, c := range k.Cycles {
			for id, r := range c.Reservations {
				switch {
				case r.Calls == 0:
					delete(c.Reservations, id)
				case !l.live(r):
					c.Calls = min(satAdd(c.Calls, r.Calls), MaxCalls)
					c.Settled = min(satAdd(c.Settled, r.Calls), MaxCalls)
					c.SettledRuns++
					delete(c.Reservations, id)
				}
			}
			if len(c.Reservations) == 0 {
				c.Reservations = nil
			}
		}
	}
}

func checkIDs(fp, cycle string) error {
	if !fingerprintRE.MatchString(fp) {
		return fmt.Errorf("ledger: %q is not a key fingerprint (see Fingerprint)", fp)
	}
	if _, err := time.Parse(time.DateOnly, cycle); err != nil || !cycleRE.MatchString(cycle) {
		return fmt.Errorf("ledger: %q is not a cycle id (YYYY-MM-DD, see CycleID)", cycle)
	}
	return nil
}

// read reads and decodes the ledger file without the lock; a missing file is
// an empty ledger.
func (l *Ledger) read() (*file, error) {
	data, err := os.ReadFile(l.path)
	if errors.Is(err, os.ErrNotExist) {
		data, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	f, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("ledger %s: %w (fix or remove the file; it only records past usage)", l.path, err)
	}
	return f, nil
}

// locked runs fn on the ledger's content while holding the lock, and writes
// the result back atomically when write is set and fn succeeds.
func (l *Ledger) locked(write bool, fn func(*file) error) (err error) {
	lf, err := os.OpenFile(l.lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("ledger: lock: %w", err)
	}
	defer lf.Close()
	if err := l.lock(lf); err != nil {
		return err
	}
	defer func() {
		if uerr := unlock(lf); uerr != nil && err == nil {
			err = fmt.Errorf("ledger: unlock: %w", uerr)
		}
	}()
	f, err := l.read()
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		return err
	}
	if !write {
		return nil
	}
	l.settle(f)
	return l.write(f)
}

// lock waits for the exclusive lock on lf, polling with a growing pause, for
// at most the lock timeout.
func (l *Ledger) lock(lf *os.File) error {
	deadline := time.Now().Add(l.lockTimeout)
	pause := time.Millisecond
	for {
		ok, err := tryLock(lf)
		if err != nil {
			return fmt.Errorf("ledger: lock %s: %w", l.lockPath, err)
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ledger: %w: %s held for more than %v", ErrLockTimeout, l.lockPath, l.lockTimeout)
		}
		time.Sleep(pause)
		pause = min(pause*2, 50*time.Millisecond)
	}
}

// write replaces the ledger file atomically: a temporary file in the same
// directory, written, synced and renamed over the ledger; then the directory
// is synced so the rename survives a crash.
func (l *Ledger) write(f *file) error {
	data, err := f.encode()
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	dir := filepath.Dir(l.path)
	tmp, err := os.CreateTemp(dir, ".ledger-*.tmp")
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("ledger: write: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("ledger: sync: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("ledger: write: %w", err)
	}
	if err := os.Rename(tmp.Name(), l.path); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // best effort: not every file system syncs directories
		d.Close()
	}
	return nil
}
