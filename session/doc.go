// Package session owns the quota side of a run's life: a run's cost checked
// against its quota and what the usage ledger says is used (Check), the
// run's reservation taken in the ledger under its lock (Reserve), the calls
// the run sends recorded as they go (StartLedger) and the ledger settled at
// the end (LedgerRun.Finish).
//
// A Go program that replays a suite with runner.Run gets the same quota
// guarantee as the evalrun CLI by putting these steps around the run (see
// the package example): the run's worst case must fit the headroom before
// the first call, two runs on one key never spend the same headroom, and a
// run's budget stops it before the quota is passed.
//
// Errors are typed so that a caller can map them: a *RefusedError when the
// quota refuses the run (Exhausted: the server declared the quota used up),
// a *LedgerError when the ledger cannot be read or written. The package
// never prints or exits.
package session
