package report

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Geometry of every latency histogram evalrun records. Values are
// microseconds; a latency above HighestLatencyMicros is recorded as
// HighestLatencyMicros (clamped, never dropped), a negative one as 0.
const (
	LowestLatencyMicros  int64 = 1
	HighestLatencyMicros int64 = int64(5 * time.Minute / time.Microsecond)
	SignificantDigits          = 3
)

// Histogram kinds, the value of HistogramResult.Kind.
const (
	// HistOverall covers every call; its name is "all".
	HistOverall = "overall"
	// HistCallKind covers the calls of one kind; its name is the
	// runner.CallKind ("new_chat", "turn").
	HistCallKind = "call_kind"
	// HistScenario covers the turn calls of one scenario; its name is the
	// scenario name.
	HistScenario = "scenario"
	// HistTurn covers the turn calls at one 0-based turn index; its name is
	// the index in decimal ("0", "1", …).
	HistTurn = "turn_index"
	// HistService covers the service time of the calls of one kind: the
	// last attempt's actual send to its reply, without the waits (limiters,
	// retries, a late schedule) that latency counts; its name is the
	// runner.CallKind. Present when the run's Meta.Load is set.
	HistService = "service"
	// HistScheduleLag covers the schedule lag of the conversations that
	// started: actual start minus scheduled start; its name is
	// ScheduleLagName. Present when the run's Meta.Load is set.
	HistScheduleLag = "schedule_lag"
	// HistTTFT covers the time to first token of the turn calls whose reply
	// streamed (openai targets with stream): from sending the request to
	// the first content chunk, one value per streamed turn; its name is
	// StreamName. Present only when some turn streamed.
	HistTTFT = "ttft"
	// HistChunkGap covers every gap between consecutive content chunks of
	// the streamed replies (a reply of n chunks adds n-1 values); its name
	// is StreamName. Present only when some turn streamed.
	HistChunkGap = "chunk_gap"
	// HistStall covers the longest gap between chunks of each streamed
	// reply (0 for a reply of one chunk), one value per streamed turn; its
	// name is StreamName. Present only when some turn streamed.
	HistStall = "stall"
	// HistITL covers the inter-token latency of each streamed reply of at
	// least two output tokens: the time from its first to its last content
	// chunk over its output tokens minus one; its name is StreamName.
	// Output tokens are the server's usage.completion_tokens, or the
	// content chunks when it reports none. Present only when some turn
	// streamed.
	HistITL = "itl"
	// HistTPOT covers the time per output token of each streamed reply:
	// the time from sending to its last content chunk over its output
	// tokens (as HistITL counts them), first token included; its name is
	// StreamName. Present only when some turn streamed.
	HistTPOT = "tpot"
	// HistOutputTPS covers the output tokens per second of each streamed
	// reply: its output tokens (as HistITL counts them) over the time from
	// sending to its last content chunk, as GuideLLM reports it (the
	// inverse of HistTPOT); its name is StreamName. It is not a latency:
	// its values are milli-tokens per second (UnitMilliTokensPerSecond),
	// recorded in the same geometry as the latencies (0.001 to 300,000
	// tokens/s), so it merges and decodes like them. Higher is better.
	// Present only when some turn streamed.
	HistOutputTPS = "output_tps"
)

// UnitMilliTokensPerSecond is the HistogramResult.Unit of HistOutputTPS:
// its min_us, p50_us, … max_us and mean_us fields hold milli-tokens per
// second (divide by 1000 for tokens/s), not microseconds.
const UnitMilliTokensPerSecond = "milli_tokens_per_s"

// HistogramUnit returns the unit of a histogram kind's values: "" for the
// latencies (microseconds), UnitMilliTokensPerSecond for HistOutputTPS.
func HistogramUnit(kind string) string {
	if kind == HistOutputTPS {
		return UnitMilliTokensPerSecond
	}
	return ""
}

// formatIn formats a histogram value v of unit (HistogramUnit) for
// people: a latency in microseconds as FormatMicros, milli-tokens per
// second as FormatTPS.
func formatIn(unit string, v float64) string {
	if unit == UnitMilliTokensPerSecond {
		return FormatTPS(v / 1000)
	}
	return FormatMicros(v)
}

// tpsMilli converts n tokens produced in d to the milli-tokens per second
// HistOutputTPS records, clamped to the histogram's range (a reply with no
// measurable time counts as the highest rate).
func tpsMilli(n int, d time.Duration) int64 {
	if n <= 0 {
		return 0
	}
	if d <= 0 {
		return HighestLatencyMicros
	}
	v := math.Round(float64(n) * 1e3 * float64(time.Second) / float64(d))
	if v > float64(HighestLatencyMicros) {
		return HighestLatencyMicros
	}
	return int64(v)
}

// StreamName is the name of the streaming histograms (HistTTFT,
// HistChunkGap, HistStall, HistITL, HistTPOT, HistOutputTPS): they cover
// every streamed turn of the run.
const StreamName = "turn"

// ScheduleLagName is the name of the HistScheduleLag histogram.
const ScheduleLagName = "conversations"

// HistogramResult is one histogram in the result file: a summary for
// people and Encoded, the full histogram, for tools that merge or compare.
// Values are microseconds unless Unit says otherwise (HistOutputTPS).
type HistogramResult struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Unit is the unit of the values when they are not microseconds
	// (HistogramUnit of Kind); empty for latencies.
	Unit    string  `json:"unit,omitempty"`
	Count   int64   `json:"count"`
	MinUS   int64   `json:"min_us"`
	P50US   int64   `json:"p50_us"`
	P90US   int64   `json:"p90_us"`
	P95US   int64   `json:"p95_us"`
	P99US   int64   `json:"p99_us"`
	P999US  int64   `json:"p999_us"`
	MaxUS   int64   `json:"max_us"`
	MeanUS  float64 `json:"mean_us"`
	Encoded string  `json:"encoded"` // base64 of HdrHistogram's compressed V2 encoding
}

// newLatencyHistogram returns an empty histogram with evalrun's geometry.
func newLatencyHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(LowestLatencyMicros, HighestLatencyMicros, SignificantDigits)
}

// latencyMicros converts a latency to the value recorded, clamped to the
// histogram's range.
func latencyMicros(d time.Duration) int64 {
	us := d.Microseconds()
	if us < 0 {
		return 0
	}
	if us > HighestLatencyMicros {
		return HighestLatencyMicros
	}
	return us
}

// summarize builds the result-file form of h.
func summarize(kind, name string, h *hdrhistogram.Histogram) HistogramResult {
	r := HistogramResult{Name: name, Kind: kind, Unit: HistogramUnit(kind), Count: h.TotalCount()}
	if r.Count > 0 {
		// One scan for all of them, by the reference rule (percentile.go);
		// percentile 0 is the lowest equivalent value of the minimum and 100
		// the highest of the maximum, as Min and Max return.
		v := valuesAtPercentiles(h, []float64{0, 50, 90, 95, 99, 99.9, 100})
		r.MinUS, r.P50US, r.P90US, r.P95US, r.P99US, r.P999US, r.MaxUS = v[0], v[1], v[2], v[3], v[4], v[5], v[6]
		r.MeanUS = math.Round(h.Mean()*1000) / 1000
	}
	// Encoding into memory with the V2 cookie cannot fail (the library only
	// errors on an unknown version); an empty Encoded would be rejected by
	// ReadResult, so such a failure could not go unnoticed.
	if enc, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase); err == nil {
		r.Encoded = string(enc)
	}
	return r
}

// Percentile returns the value in microseconds at percent p (0–100) for the
// percentiles the summary holds (50, 90, 95, 99, 99.9, 100) and false for any
// other p. Decode the histogram for other percentiles.
func (h *HistogramResult) Percentile(p float64) (int64, bool) {
	switch p {
	case 50:
		return h.P50US, true
	case 90:
		return h.P90US, true
	case 95:
		return h.P95US, true
	case 99:
		return h.P99US, true
	case 99.9:
		return h.P999US, true
	case 100:
		return h.MaxUS, true
	}
	return 0, false
}

// Decode returns the full histogram stored in Encoded. It accepts only
// evalrun's geometry (1 µs to 5 min, 3 significant digits), so decoded
// histograms can always be merged, and checks that the histogram holds Count
// values.
func (h *HistogramResult) Decode() (*hdrhistogram.Histogram, error) {
	if err := checkGeometry(h.Encoded); err != nil {
		return nil, fmt.Errorf("histogram %s %q: %w", h.Kind, h.Name, err)
	}
	hist, err := hdrhistogram.Decode([]byte(h.Encoded))
	if err != nil {
		return nil, fmt.Errorf("histogram %s %q: encoded: %w", h.Kind, h.Name, err)
	}
	if got := hist.TotalCount(); got != h.Count {
		return nil, fmt.Errorf("histogram %s %q: encoded histogram holds %d values, count says %d", h.Kind, h.Name, got, h.Count)
	}
	return hist, nil
}

// errGeometry is wrapped by the errors of checkGeometry.
var errGeometry = errors.New("not an evalrun latency histogram")

// checkGeometry reads the header of a base64 V2 compressed histogram and
// checks its geometry before the library allocates the counts for it (a
// hostile header could otherwise ask for gigabytes).
func checkGeometry(encoded string) error {
	if encoded == "" {
		return fmt.Errorf("encoded: empty (%w)", errGeometry)
	}
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return fmt.Errorf("encoded: not base64: %w", err)
	}
	if len(raw) < 8 {
		return fmt.Errorf("encoded: %d bytes, too short for a histogram (%w)", len(raw), errGeometry)
	}
	if cookie := int32(binary.BigEndian.Uint32(raw[0:4])) &^ 0xf0; cookie != hdrhistogram.V2CompressedEncodingCookieBase {
		return fmt.Errorf("encoded: cookie %#x is not the V2 compressed encoding (%w)", cookie, errGeometry)
	}
	n := int64(int32(binary.BigEndian.Uint32(raw[4:8])))
	if n < 0 || n > int64(len(raw)-8) {
		return fmt.Errorf("encoded: compressed length %d does not fit the %d bytes present", n, len(raw)-8)
	}
	z, err := zlib.NewReader(bytes.NewReader(raw[8 : 8+n]))
	if err != nil {
		return fmt.Errorf("encoded: %w", err)
	}
	defer z.Close()
	var hdr [40]byte
	if _, err := io.ReadFull(z, hdr[:]); err != nil {
		return fmt.Errorf("encoded: header: %w", err)
	}
	digits := int32(binary.BigEndian.Uint32(hdr[12:16]))
	lowest := int64(binary.BigEndian.Uint64(hdr[16:24]))
	highest := int64(binary.BigEndian.Uint64(hdr[24:32]))
	if digits != SignificantDigits || lowest != LowestLatencyMicros || highest != HighestLatencyMicros {
		return fmt.Errorf("encoded: geometry %d..%d at %d digits, want %d..%d at %d digits (%w)",
			lowest, highest, digits, LowestLatencyMicros, HighestLatencyMicros, SignificantDigits, errGeometry)
	}
	return nil
}
