package report

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// HgrmTicksPerHalfDistance is the number of percentile lines per halving
// of the distance to 100% in .hgrm output, as HdrHistogram's own default.
const HgrmTicksPerHalfDistance = 5

// hgrmScale converts the histograms' microseconds to the milliseconds an
// .hgrm file shows (HdrHistogram's outputValueUnitScalingRatio).
const hgrmScale = 1000.0

// WriteHgrm writes one histogram as HdrHistogram's percentile
// distribution text, exactly as its Java outputPercentileDistribution
// prints it (the format HdrHistogram's plotter reads): a header, one line
// per percentile step (value in milliseconds, percentile, total count,
// 1/(1-percentile)), and a footer with the mean, standard deviation,
// maximum, total count, buckets and sub-buckets.
func WriteHgrm(w io.Writer, h *HistogramResult) error {
	hist, err := h.Decode()
	if err != nil {
		return err
	}
	var b strings.Builder
	writeHgrm(&b, hist)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write hgrm: %w", err)
	}
	return nil
}

func writeHgrm(b *strings.Builder, h *hdrhistogram.Histogram) {
	const digits = SignificantDigits
	fmt.Fprintf(b, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount", "1/(1-Percentile)")
	if h.TotalCount() > 0 {
		for _, br := range h.CumulativeDistributionWithTicks(HgrmTicksPerHalfDistance) {
			v := float64(br.ValueAt) / hgrmScale
			p := br.Quantile / 100
			if br.Quantile != 100 {
				fmt.Fprintf(b, "%12.*f %2.12f %10d %14.2f\n", digits, v, p, br.Count, 1/(1-p))
			} else {
				fmt.Fprintf(b, "%12.*f %2.12f %10d\n", digits, v, p, br.Count)
			}
		}
	}
	maxV := 0.0
	if h.TotalCount() > 0 {
		maxV = float64(h.Max()) / hgrmScale
	}
	fmt.Fprintf(b, "#[Mean    = %12.*f, StdDeviation   = %12.*f]\n", digits, h.Mean()/hgrmScale, digits, h.StdDev()/hgrmScale)
	fmt.Fprintf(b, "#[Max     = %12.*f, Total count    = %12d]\n", digits, maxV, h.TotalCount())
	buckets, subBuckets := hgrmGeometry()
	fmt.Fprintf(b, "#[Buckets = %12d, SubBuckets     = %12d]\n", buckets, subBuckets)
}

// hgrmGeometry returns the bucket and sub-bucket counts of evalrun's
// latency histograms, computed as HdrHistogram does.
func hgrmGeometry() (buckets, subBuckets int) {
	largest := 2 * math.Pow10(SignificantDigits)
	subBuckets = 1 << int(math.Ceil(math.Log2(largest)))
	unitMagnitude := int(math.Floor(math.Log2(float64(LowestLatencyMicros))))
	smallestUntrackable := int64(subBuckets) << unitMagnitude
	buckets = 1
	for smallestUntrackable <= HighestLatencyMicros {
		smallestUntrackable <<= 1
		buckets++
	}
	return buckets, subBuckets
}

// HgrmFileName returns the file name WriteHgrmDir gives a histogram:
// KIND-NAME.hgrm with every character but letters, digits, '.', '_' and
// '-' replaced by '_', and at most 100 bytes before the extension.
func HgrmFileName(h *HistogramResult) string {
	s := safeName(h.Kind) + "-" + safeName(h.Name)
	if len(s) > 100 {
		s = s[:100]
	}
	return s + ".hgrm"
}

func safeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		case r == '.' && b.Len() > 0:
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

// WriteHgrmDir writes every histogram of r as an .hgrm file (see
// WriteHgrm) into dir, creating it if needed, and returns the paths
// written in the order of r.Histograms. Names that collide after
// sanitizing get "-2", "-3", … appended. Each file is written atomically.
func WriteHgrmDir(dir string, r *Result) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("hgrm: %w", err)
	}
	seen := map[string]bool{}
	var paths []string
	for i := range r.Histograms {
		h := &r.Histograms[i]
		name := HgrmFileName(h)
		for n := 2; seen[strings.ToLower(name)]; n++ {
			name = strings.TrimSuffix(HgrmFileName(h), ".hgrm") + fmt.Sprintf("-%d.hgrm", n)
		}
		seen[strings.ToLower(name)] = true
		path := filepath.Join(dir, name)
		if err := WriteFileAtomic(path, func(w io.Writer) error { return WriteHgrm(w, h) }); err != nil {
			return paths, fmt.Errorf("hgrm: %w", err)
		}
		paths = append(paths, path)
	}
	return paths, nil
}
