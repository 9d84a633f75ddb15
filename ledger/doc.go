// Package ledger keeps the usage ledger of evalrun: how many agent calls were
// sent with each API key in each billing cycle, so that the next run knows how
// much of the quota is already used.
//
// The ledger is one JSON file (by default $XDG_STATE_HOME/evalrun/ledger.json,
// see DefaultPath). Keys are never stored: an account is named by the key's
// Fingerprint, a short hash. A billing cycle is named by the UTC date it
// starts on (see CycleStart).
//
// Several evalrun processes on one machine may share a ledger. Every
// read-modify-write holds an exclusive lock on a lock file beside the ledger
// (flock on Unix), and every write replaces the file atomically (temporary
// file, fsync, rename), so concurrent runs lose no counts and a crash leaves
// either the old or the new ledger, never a torn one.
//
// To keep two concurrent runs from both spending the same headroom, a run
// first takes a reservation (Reserve) for its worst case under the lock; the
// headroom the next run sees is the quota minus the calls used minus the live
// reservations of others. The run charges the calls it sends (Charge), which
// moves them from its reservation to the used count, and releases what is left
// at the end (Release). A reservation whose process is gone (killed), or that
// is older than StaleAfter, is settled as spent: its whole remaining calls are
// added to the used count (and to Usage.Settled), never dropped, since the
// calls the run sent after its last flush are in no ledger. Counts are
// bounded (MaxCalls per entry; sums saturate), and an entry out of range is
// refused with its JSON path and field.
package ledger
