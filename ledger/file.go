package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"time"
)

// fileVersion is the version of the ledger file format this package writes
// and reads.
const fileVersion = 1

// file is the ledger file:
//
//	{"version": 1, "keys": {"<fingerprint>": {"target": "...", "cycles": {
//	  "2025-03-01": {"calls": 120, "updated": "...", "exhausted": "...",
//	    "reservations": {"<run id>": {"calls": 40, "pid": 123, "host": "...", "created": "..."}}}}}}}
type file struct {
	Version int                  `json:"version"`
	Keys    map[string]*keyEntry `json:"keys"`
}

type keyEntry struct {
	// Target is the redacted URL the key was last used against.
	Target string                 `json:"target,omitempty"`
	Cycles map[string]*cycleEntry `json:"cycles"`
}

type cycleEntry struct {
	Calls   int64     `json:"calls"`
	Updated time.Time `json:"updated"`
	// Exhausted is when a server last said the quota was used up in this
	// cycle; zero if never.
	Exhausted time.Time `json:"exhausted,omitzero"`
	// Settled is the part of Calls charged from the reservations of runs
	// whose process was gone (Ledger.settle), SettledRuns how many runs.
	Settled      int64                   `json:"settled,omitempty"`
	SettledRuns  int                     `json:"settled_runs,omitempty"`
	Reservations map[string]*reservation `json:"reservations,omitempty"`
}

type reservation struct {
	Calls   int64     `json:"calls"`
	PID     int       `json:"pid"`
	Host    string    `json:"host,omitempty"`
	Created time.Time `json:"created"`
}

var (
	fingerprintRE = regexp.MustCompile(`^[0-9a-f]{12}$`)
	cycleRE       = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
)

// decode parses and checks a ledger file. An empty input is an empty ledger.
// Errors say what is wrong and where (the JSON path); they never hold more of
// the file than a fingerprint, a cycle or a run id.
func decode(data []byte) (*file, error) {
	f := &file{Version: fileVersion, Keys: map[string]*keyEntry{}}
	if len(bytes.TrimSpace(data)) == 0 {
		return f, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(f); err != nil {
		return nil, fmt.Errorf("not a ledger file: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("not a ledger file: data after the JSON object")
	}
	if f.Version != fileVersion {
		return nil, fmt.Errorf("version %d: this evalrun reads ledger version %d", f.Version, fileVersion)
	}
	if f.Keys == nil {
		f.Keys = map[string]*keyEntry{}
	}
	for fp, k := range f.Keys {
		if !fingerprintRE.MatchString(fp) {
			return nil, fmt.Errorf("keys: %q is not a key fingerprint (12 lowercase hex digits)", fp)
		}
		if k == nil {
			return nil, fmt.Errorf("keys.%s: null entry", fp)
		}
		if k.Cycles == nil {
			k.Cycles = map[string]*cycleEntry{}
		}
		for id, c := range k.Cycles {
			where := "keys." + fp + ".cycles." + id
			if _, err := time.Parse(time.DateOnly, id); err != nil || !cycleRE.MatchString(id) {
				return nil, fmt.Errorf("keys.%s.cycles: %q is not a cycle start date (YYYY-MM-DD)", fp, id)
			}
			if c == nil {
				return nil, fmt.Errorf("%s: null entry", where)
			}
			if err := checkCount(where+".calls", c.Calls); err != nil {
				return nil, err
			}
			if err := checkCount(where+".settled", c.Settled); err != nil {
				return nil, err
			}
			if c.Settled > c.Calls {
				return nil, fmt.Errorf("%s.settled: %d is more than the calls (%d) it is part of", where, c.Settled, c.Calls)
			}
			if c.SettledRuns < 0 {
				return nil, fmt.Errorf("%s.settled_runs: %d is negative", where, c.SettledRuns)
			}
			for run, r := range c.Reservations {
				if r == nil {
					return nil, fmt.Errorf("%s.reservations.%q: null entry", where, run)
				}
				if err := checkCount(fmt.Sprintf("%s.reservations.%q.calls", where, run), r.Calls); err != nil {
					return nil, err
				}
			}
		}
	}
	return f, nil
}

// checkCount refuses a count that cannot be right: negative, or more than
// MaxCalls (no plan comes near it; such a number is corruption, and sums of
// it would overflow).
func checkCount(where string, n int64) error {
	switch {
	case n < 0:
		return fmt.Errorf("%s: %d is negative", where, n)
	case n > MaxCalls:
		return fmt.Errorf("%s: %d is more than any quota (at most %d calls)", where, n, int64(MaxCalls))
	}
	return nil
}

// encode returns the ledger file's bytes, indented for people who look.
func (f *file) encode() ([]byte, error) {
	f.Version = fileVersion
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// cycle returns the entry of fp in cycle id, creating it if create is set;
// nil when absent and not created.
func (f *file) cycle(fp, id string, create bool) *cycleEntry {
	k := f.Keys[fp]
	if k == nil {
		if !create {
			return nil
		}
		k = &keyEntry{Cycles: map[string]*cycleEntry{}}
		f.Keys[fp] = k
	}
	c := k.Cycles[id]
	if c == nil && create {
		c = &cycleEntry{}
		k.Cycles[id] = c
	}
	return c
}
