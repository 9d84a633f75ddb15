package session

import (
	"cmp"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evalrun/evalrun/ledger"
	"github.com/evalrun/evalrun/runner"
)

// LedgerEnv names the environment variable that overrides the ledger's
// default location.
const LedgerEnv = "EVALRUN_LEDGER"

// LedgerPath returns where the ledger is: explicit when set, else
// $EVALRUN_LEDGER, else the XDG default (ledger.DefaultPath).
func LedgerPath(explicit string, getenv func(string) string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	if p := getenv(LedgerEnv); p != "" {
		return p, nil
	}
	return ledger.DefaultPath(getenv)
}

// Account is one API key's entry in one billing cycle of the ledger.
type Account struct {
	Ledger      *ledger.Ledger
	Fingerprint string // ledger.Fingerprint of the key; the key is never kept
	Cycle       string // the cycle's id: the UTC date it starts on
	CycleStart  time.Time
	KeyEnv      string // the variable the key came from, for people
}

// String names the account for people, without the key.
func (ac *Account) String() string {
	return fmt.Sprintf("key %s (fingerprint %s), billing cycle from %s", ac.KeyEnv, ac.Fingerprint, ac.Cycle)
}

// OpenAccount opens the ledger at path and the entry of key in the billing
// cycle that holds now, cycles starting on day cycleStartDay (1-28, UTC)
// of the month. A ledger that cannot be opened is a *LedgerError.
func OpenAccount(path, key, keyEnv string, cycleStartDay int, now time.Time) (*Account, error) {
	start, err := ledger.CycleStart(now, cycleStartDay)
	if err != nil {
		return nil, err
	}
	led, err := ledger.Open(path)
	if err != nil {
		return nil, &LedgerError{err}
	}
	return &Account{Ledger: led, Fingerprint: ledger.Fingerprint(key), Cycle: start.Format(time.DateOnly), CycleStart: start, KeyEnv: keyEnv}, nil
}

// LedgerFlushEvery is how often a run writes the calls it charged to the
// ledger: a crash loses at most this much of the count.
const LedgerFlushEvery = time.Second

// LedgerRun records a run's calls in its account as they are sent, holding
// the run's reservation until Finish.
type LedgerRun struct {
	ac    *Account
	runID string
	calls atomic.Int64 // attempts sent so far, counted by the observer

	mu       sync.Mutex
	recorded int64 // calls written to the ledger
	err      error // the first write error

	stop chan struct{}
	done chan struct{}
}

// countingObserver counts the attempts of every call before passing it on,
// and passes conversation starts on to the wrapped observer when it wants
// them (so, nil otherwise).
type countingObserver struct {
	runner.Observer
	so runner.StartObserver
	lr *LedgerRun
}

func (o countingObserver) CallDone(c *runner.Call) {
	o.lr.calls.Add(int64(c.Attempts))
	o.Observer.CallDone(c)
}

func (o countingObserver) ConversationStarted(c *runner.Conversation) {
	if o.so != nil {
		o.so.ConversationStarted(c)
	}
}

// nopObserver stands in for a nil runner.Options.Observer.
type nopObserver struct{}

func (nopObserver) CallDone(*runner.Call)                 {}
func (nopObserver) ConversationDone(*runner.Conversation) {}

// StartLedger begins recording the run's calls under its reservation
// runID: it wraps opts.Observer (nil: one that discards; a
// runner.StartObserver stays one) to count attempts and flushes the count to the ledger every LedgerFlushEvery. With ac nil
// (nothing recorded) it returns nil, whose Finish does nothing.
func StartLedger(ac *Account, runID string, opts *runner.Options) *LedgerRun {
	if ac == nil {
		return nil
	}
	lr := &LedgerRun{ac: ac, runID: runID, stop: make(chan struct{}), done: make(chan struct{})}
	inner := opts.Observer
	if inner == nil {
		inner = nopObserver{}
	}
	so, _ := inner.(runner.StartObserver)
	opts.Observer = countingObserver{Observer: inner, so: so, lr: lr}
	go func() {
		defer close(lr.done)
		t := time.NewTicker(LedgerFlushEvery)
		defer t.Stop()
		for {
			select {
			case <-lr.stop:
				return
			case <-t.C:
				lr.flush(lr.calls.Load())
			}
		}
	}()
	return lr
}

// flush charges the calls sent since the last flush.
func (lr *LedgerRun) flush(total int64) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	if d := total - lr.recorded; d > 0 {
		if err := lr.ac.Ledger.Charge(lr.ac.Fingerprint, lr.ac.Cycle, lr.runID, d); err != nil {
			lr.err = cmp.Or(lr.err, err)
			return
		}
		lr.recorded = total
	}
}

// Finish stops the flushing, charges the run's exact count of attempts
// (sum and runErr are runner.Run's), releases the reservation, and, when
// the server said the quota is used up, marks the cycle exhausted (used =
// the quota of p, when known). It returns the first ledger error as a
// *LedgerError, if any. Call it once, after runner.Run returns.
func (lr *LedgerRun) Finish(sum *runner.Summary, runErr error, p *Plan) error {
	if lr == nil {
		return nil
	}
	close(lr.stop)
	<-lr.done
	total := lr.calls.Load()
	if sum != nil {
		total = max(total, sum.Attempts)
	}
	lr.flush(total)
	ac := lr.ac
	err := lr.err
	if rerr := ac.Ledger.Release(ac.Fingerprint, ac.Cycle, lr.runID); rerr != nil {
		err = cmp.Or(err, rerr)
	}
	if errors.Is(runErr, runner.ErrQuotaExhausted) {
		quotaCalls := int64(-1)
		if p != nil && p.Limit >= 0 {
			quotaCalls = (p.Limit + p.CostPerCall - 1) / p.CostPerCall
		}
		if merr := ac.Ledger.MarkExhausted(ac.Fingerprint, ac.Cycle, quotaCalls); merr != nil {
			err = cmp.Or(err, merr)
		}
	}
	if err != nil {
		return &LedgerError{err}
	}
	return nil
}

// Release drops the reservation runID without recording anything: for a
// run that was reserved but never started.
func Release(ac *Account, runID string) error {
	if ac == nil || runID == "" {
		return nil
	}
	if err := ac.Ledger.Release(ac.Fingerprint, ac.Cycle, runID); err != nil {
		return &LedgerError{err}
	}
	return nil
}
