package report

import (
	"math"
	"strconv"
	"strings"
)

// The latency percentile plot of the HTML report: latency (y) against
// percentile on HdrHistogram's "nines" scale (x), where x = log10(1/(1-p))
// puts 0%, 90%, 99%, 99.9%, … at equal distances, as HdrHistogram's
// plotter draws .hgrm files. It is computed from the histograms, drawn as
// inline SVG.

// plotSeries is one line of the plot.
type plotSeries struct {
	Label  string
	Legend string // Label cut to fit, with the count
	Count  int64
	Color  string
	Width  float64 // stroke width
	Dash   string  // stroke-dasharray, empty for solid
	// LegendY is the y of its legend entry.
	LegendY float64
	pts     [][2]float64
	// Points is pts mapped to the drawing, "x,y x,y …".
	Points string
}

// plotTick is one labelled tick of an axis, at Pos in drawing coordinates.
type plotTick struct {
	Pos   float64
	Label string
}

// plotData is everything the SVG template draws.
type plotData struct {
	W, H                            float64
	Left, Right, Top, Bot           float64 // plot area
	XTicks, YTicks                  []plotTick
	Series                          []plotSeries
	LegendX1, LegendX2, LegendTextX float64
	Nines                           int
	XLabelY, YLabelX, MidX, MidY    float64
	// YUnit is the unit of the latency axis and its ticks: µs, ms or s.
	YUnit string
}

// plotLegendMax is the most runes of a legend entry; the legend runs
// under the plot across the whole width, so a long target name fits.
const plotLegendMax = 100

// plotUnit picks the latency axis unit for an axis reaching top µs: the
// largest of µs, ms and s in which the top is at least 1.
func plotUnit(top float64) (unit string, div float64) {
	switch {
	case top >= 10_000_000:
		return "s", 1e6
	case top >= 1000:
		return "ms", 1e3
	}
	return "µs", 1
}

// plotPalette is a colour-blind-friendly palette (Okabe–Ito, then greys).
var plotPalette = []string{"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000", "#999999"}

// nines maps a percentile (0–100) to the x value of the nines scale,
// capped at limit.
func nines(p float64, limit float64) float64 {
	if p >= 100 {
		return limit
	}
	return min(math.Log10(100/(100-p)), limit)
}

// ninesLabel labels x = n on the nines scale: 0%, 90%, 99%, 99.9%, …
func ninesLabel(n int) string {
	switch {
	case n <= 0:
		return "0%"
	case n == 1:
		return "90%"
	case n == 2:
		return "99%"
	}
	return "99." + strings.Repeat("9", n-2) + "%"
}

// newPlot lays out the series (points as percentile, microseconds) in a
// w×h drawing. maxCount decides how many nines the x axis shows: enough
// to reach the rarest percentile the data resolves, between 2 (99%) and 6.
func newPlot(series []plotSeries, maxCount int64) *plotData {
	// The legend is under the plot, one entry per line, so the plot
	// takes the whole width and no legend text is cut at the edge.
	p := &plotData{W: 960, Left: 76, Top: 16, Bot: 348}
	p.Right = p.W - 24
	p.H = p.Bot + 64 + 22*float64(len(series))
	p.Nines = 2
	if maxCount > 1 {
		p.Nines = min(max(2, int(math.Ceil(math.Log10(float64(maxCount))))), 6)
	}
	maxUS := 0.0
	for _, s := range series {
		for _, pt := range s.pts {
			maxUS = max(maxUS, pt[1])
		}
	}
	step, top := niceScale(maxUS, 5)
	xs := (p.Right - p.Left) / float64(p.Nines)
	ys := (p.Bot - p.Top) / top
	for i := 0; i <= p.Nines; i++ {
		p.XTicks = append(p.XTicks, plotTick{Pos: p.Left + float64(i)*xs, Label: ninesLabel(i)})
	}
	unit, div := plotUnit(top)
	p.YUnit = unit
	for k := 0; float64(k)*step <= top+step/2; k++ {
		v := float64(k) * step
		label := strconv.FormatFloat(math.Round(v/div*1e6)/1e6, 'f', -1, 64)
		p.YTicks = append(p.YTicks, plotTick{Pos: p.Bot - v*ys, Label: label})
	}
	for i := range series {
		s := &series[i]
		var b strings.Builder
		for j, pt := range s.pts {
			if j > 0 {
				b.WriteByte(' ')
			}
			x := p.Left + nines(pt[0], float64(p.Nines))*xs
			y := p.Bot - pt[1]*ys
			b.WriteString(coord(x) + "," + coord(y))
		}
		s.Points = b.String()
		s.LegendY = p.Bot + 70 + 22*float64(i)
	}
	p.Series = series
	p.LegendX1 = p.Left
	p.LegendX2 = p.LegendX1 + 26
	p.LegendTextX = p.LegendX2 + 8
	p.XLabelY = p.Bot + 38
	p.YLabelX = 18
	p.MidX = (p.Left + p.Right) / 2
	p.MidY = (p.Top + p.Bot) / 2
	return p
}

func coord(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) }

// niceScale returns a tick step of 1, 2 or 5 times a power of ten and the
// axis top (a multiple of the step ≥ v), for about n ticks.
func niceScale(v float64, n int) (step, top float64) {
	if v <= 0 {
		return 1000, 1000 * float64(n) // an empty plot shows 0–5ms
	}
	raw := v / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step = 10 * mag
	for _, m := range []float64{1, 2, 5} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	step = max(step, 1)
	return step, math.Ceil(v/step) * step
}
