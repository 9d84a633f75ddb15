// Package report turns the runner's stream of results into the outcome of a
// run: it aggregates calls and conversations as they happen (Aggregator),
// builds the versioned, mergeable result file (Result), and renders it for
// people and tools (Writer: JSONWriter, ConsoleWriter).
//
// Latencies are kept in HdrHistograms (1 µs to 5 min, 3 significant digits,
// values in microseconds) overall, per call kind, per scenario and per turn
// index. Each histogram is stored in the result file in HdrHistogram's
// compressed V2 encoding, so results of several runs or shards can be merged
// exactly later.
//
// The package never prints: writers write to the io.Writer they are given.
package report
