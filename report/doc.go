// Package report turns the runner's stream of results into the outcome of a
// run: it aggregates calls and conversations as they happen (Aggregator),
// builds the versioned, mergeable result file (Result), and renders it for
// people and tools: the console summary (ConsoleWriter), the result file
// (JSONWriter, read back by ReadResult), JUnit XML (JUnitWriter), a Markdown
// CI summary (MarkdownWriter), a self-contained HTML page (HTMLWriter) and
// HdrHistogram percentile text (WriteHgrm, WriteHgrmDir).
//
// Latencies are kept in HdrHistograms (1 µs to 5 min, 3 significant digits,
// values in microseconds) overall, per call kind, per scenario and per turn
// index. Each histogram is stored in the result file in HdrHistogram's
// compressed V2 encoding, so results of several runs or shards can be merged
// exactly later.
//
// Every conversation counts; which transcripts a result keeps is the
// TranscriptPolicy's choice (failures and a sample by default), and with
// TranscriptsAll every conversation is streamed as JSON Lines
// (TranscriptLine, read back by ReadTranscripts) so memory stays bounded
// however long the run.
//
// The package never prints: writers write to the io.Writer they are given.
package report
