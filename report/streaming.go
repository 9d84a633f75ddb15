package report

import "fmt"

// streamRow is one token-level metric of the streamed replies as the
// Markdown, HTML and JUnit writers show it: time to first token,
// inter-token latency, time per output token (latencies) and output tokens
// per second (a rate, higher is better), each with its values formatted in
// its own unit.
type streamRow struct {
	Label, Metric                string // for people; the threshold name (ttft, itl, tpot, output_tps)
	Unit                         string // "" for latencies, "tok/s" for output_tps
	Count                        string
	Min, P50, P90, P95, P99, Max string
	Mean                         string
}

// streamMetricRows are the streaming histograms the writers show, in
// order, with their labels.
var streamMetricRows = []struct{ kind, label string }{
	{HistTTFT, "time to first token"},
	{HistITL, "inter-token latency"},
	{HistTPOT, "time per output token"},
	{HistOutputTPS, "output tokens/s per reply"},
}

// streamRows returns the token-level metrics of r's streamed replies, nil
// when no turn streamed (the writers then show nothing of them).
func streamRows(r *Result) []streamRow {
	var out []streamRow
	for _, m := range streamMetricRows {
		h := r.Histogram(m.kind, StreamName)
		if h == nil || h.Count == 0 {
			continue
		}
		hu := HistogramUnit(m.kind)
		f := func(v int64) string { return formatIn(hu, float64(v)) }
		unit := ""
		if hu == UnitMilliTokensPerSecond {
			unit = "tok/s"
		}
		out = append(out, streamRow{Label: m.label, Metric: m.kind, Unit: unit, Count: fmtInt(h.Count),
			Min: f(h.MinUS), P50: f(h.P50US), P90: f(h.P90US), P95: f(h.P95US), P99: f(h.P99US), Max: f(h.MaxUS), Mean: formatIn(hu, h.MeanUS)})
	}
	return out
}

// streamSummary is one line on the run's streamed replies: their output
// tokens, where the counts came from, and the run's output tokens per
// second over its wall time; "" when no turn streamed.
func streamSummary(r *Result) string {
	st := r.Stream
	if st == nil {
		return ""
	}
	s := fmt.Sprintf("%s output tokens in %s", fmtInt(st.OutputTokens), replies(st.Replies))
	if r.DurationMS > 0 {
		s += fmt.Sprintf(", %s over the run's %s", FormatTPS(st.OutputTokensPerS), fmtDuration(r.Duration()))
	}
	switch chunks := st.Replies - st.UsageReplies; {
	case chunks == 0:
		s += "; tokens as the server reported them"
	case st.UsageReplies == 0:
		s += "; the server reported no usage: each content chunk counted as a token"
	default:
		s += fmt.Sprintf("; tokens as the server reported them for %s, content chunks counted for %s", fmtInt(st.UsageReplies), fmtInt(chunks))
	}
	return s
}

// propertyValue is a streaming metric as one JUnit property value:
// "p50 … · p90 … · p95 … · p99 … · max … (N replies)", with min first
// for output tokens/s, whose low values are the slow tail.
func (row streamRow) propertyValue() string {
	s := ""
	if row.Unit != "" {
		s = "min " + row.Min + " · "
	}
	return s + fmt.Sprintf("p50 %s · p90 %s · p95 %s · p99 %s · max %s (%s replies)", row.P50, row.P90, row.P95, row.P99, row.Max, row.Count)
}

// replies formats a count of streamed replies.
func replies(n int64) string {
	if n == 1 {
		return "1 streamed reply"
	}
	return fmtInt(n) + " streamed replies"
}
