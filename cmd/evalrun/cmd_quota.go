package main

import (
	"cmp"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/evalrun/evalrun/ledger"
	"github.com/evalrun/evalrun/runner"
	"github.com/evalrun/evalrun/scenarios"
	"github.com/evalrun/evalrun/session"
)

// quota is "evalrun quota": what the usage ledger says of the key in
// --api-key-env for the current billing cycle (used, reserved, remaining
// and, given scenario paths, how many runs of that suite still fit), then
// every other key and cycle it holds. --reset forgets the key's current
// cycle.
func (a *app) quota(args []string) error {
	var q quotaFlags
	fs := a.newFlagSet("quota", "quota [flags] [paths...]")
	q.register(fs, false)
	keyEnv := fs.String("api-key-env", "OPTIMLY_API_KEY", "environment variable holding the agent's API key")
	reset := fs.Bool("reset", false, "forget the key's usage in the current billing cycle (after the provider reset the quota)")
	paths, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := checkRanges(fs); err != nil {
		return err
	}
	if err := q.check(); err != nil {
		return err
	}
	path, err := a.ledgerFile(&q)
	if err != nil {
		return err
	}
	led, err := ledger.Open(path)
	if err != nil {
		return unfinishedErr("%v", err)
	}
	var suite *scenarios.Suite
	if len(paths) > 0 {
		if suite, err = scenarios.Load(paths...); err != nil {
			return &exitError{code: exitUsage, err: err}
		}
	}
	w := a.stdout
	fmt.Fprintf(w, "ledger: %s\n", path)

	key := a.secret(*keyEnv)
	cur := ""
	if key == "" {
		fmt.Fprintf(w, "%s is not set: no key to look up.\n", *keyEnv)
		fmt.Fprintln(w, "Runs without --target use the simulated agent, whose key is fresh each run: nothing is recorded for them.")
		if *reset {
			return usageErr("--reset: set %s to the key whose usage to forget", *keyEnv)
		}
	} else {
		ac, err := a.openAccount(&q, key, *keyEnv)
		if err != nil {
			return err
		}
		cur = ac.Fingerprint + " " + ac.Cycle
		if *reset {
			if err := led.Reset(ac.Fingerprint, ac.Cycle); err != nil {
				return unfinishedErr("%v", err)
			}
			fmt.Fprintf(w, "forgot the usage of %s\n", ac)
		}
		u, err := led.Usage(ac.Fingerprint, ac.Cycle, "")
		if err != nil {
			return unfinishedErr("%v", err)
		}
		var cf session.CostFunc
		if suite != nil {
			cf = session.SuiteCost(suite, q.retries)
		} else {
			cf = func(int64, ...runner.CostOption) (e runner.Estimate, b bool, f func(int64) (int64, runner.Estimate)) {
				return e, true, nil
			}
		}
		p, err := planQuota(&q, cf, nil, u)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "key %s (fingerprint %s), cycle %s to %s (UTC)\n", ac.KeyEnv, ac.Fingerprint, ac.Cycle, ledger.CycleEnd(ac.CycleStart).Format(time.DateOnly))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		used := fmt.Sprintf("%d %s", p.UsedBefore(), p.Unit)
		if p.ExtraUsed > 0 {
			used += fmt.Sprintf("\t(ledger %d + --quota-used %d)", p.LedgerUsed, p.ExtraUsed)
		}
		fmt.Fprintf(tw, "  used\t%s\n", used)
		if u.Settled > 0 {
			fmt.Fprintf(tw, "  settled\t%d %s\t(of used: the whole reservations of %d killed runs, counted as spent)\n", u.Settled*p.CostPerCall, p.Unit, u.SettledRuns)
		}
		if p.Reserved > 0 {
			fmt.Fprintf(tw, "  reserved\t%d %s\t(runs in progress)\n", p.Reserved, p.Unit)
		}
		if !p.Exhausted.IsZero() {
			fmt.Fprintf(tw, "  exhausted\tthe server said so on %s\n", p.Exhausted.UTC().Format("2006-01-02 15:04 MST"))
		}
		if p.Limit < 0 {
			fmt.Fprintf(tw, "  quota\t%s\t(give --plan or --quota for the remaining quota)\n", p.Label)
		} else {
			fmt.Fprintf(tw, "  quota\t%d %s\t(%s)\n", p.Limit, p.Unit, p.Label)
			fmt.Fprintf(tw, "  remaining\t%d %s\n", p.Headroom, p.Unit)
		}
		if suite != nil {
			per := p.Full.WorstCase
			switch {
			case p.Limit < 0:
				fmt.Fprintf(tw, "  suite\tup to %d %s a run\t(no quota given)\n", per, p.Unit)
			case per <= 0:
				fmt.Fprintf(tw, "  suite\tcosts nothing\n")
			default:
				runs := p.Headroom / per
				if !p.Exhausted.IsZero() && p.Headroom <= 0 {
					runs = 0
				}
				fmt.Fprintf(tw, "  suite\tup to %d %s a run\t%d more runs fit\n", per, p.Unit, runs)
			}
		}
		tw.Flush()
	}

	entries, err := led.Entries()
	if err != nil {
		return unfinishedErr("%v", err)
	}
	var others []ledger.Entry
	for _, e := range entries {
		if e.Fingerprint+" "+e.Cycle != cur {
			others = append(others, e)
		}
	}
	if len(others) == 0 {
		return nil
	}
	fmt.Fprintln(w, "other keys and cycles (calls):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  FINGERPRINT\tCYCLE\tUSED\tRESERVED\tEXHAUSTED\tUPDATED\tTARGET")
	for _, e := range others {
		ex := "-"
		if !e.Exhausted.IsZero() {
			ex = e.Exhausted.UTC().Format(time.DateOnly)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%s\t%s\t%s\n", e.Fingerprint, e.Cycle, e.Calls, e.Reserved, ex,
			e.Updated.UTC().Format("2006-01-02 15:04"), cmp.Or(e.Target, "-"))
	}
	return tw.Flush()
}
