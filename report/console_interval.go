package report

import (
	"math"
	"slices"
	"strconv"
)

// rateIntervalCol is the column the 95% interval takes in the console's
// scenario table: after the observed rate.
const rateIntervalCol = 4

// addRateIntervals inserts the "95% CI" column into the scenario table t
// (one row per scenario, in order) when some scenario ran more than once,
// and only when the table then still fits the printer's width without
// cutting a column: the result file, Markdown and HTML always carry the
// interval, and a note such as "1 error, 1 throttled" matters more.
func (p *printer) addRateIntervals(t *table, scs []ScenarioResult, indent int) {
	if !slices.ContainsFunc(scs, func(s ScenarioResult) bool { return s.PassRateCI != nil }) || len(t.rows) != len(scs) {
		return
	}
	header := slices.Insert(slices.Clone(t.header), rateIntervalCol, "95% CI")
	right := slices.Insert(slices.Clone(t.right), rateIntervalCol, true)
	rows := make([][]cell, len(t.rows))
	for i, row := range t.rows {
		text := ""
		if iv := scs[i].PassRateCI; iv != nil {
			text = iv.compact()
		}
		rows[i] = slices.Insert(slices.Clone(row), rateIntervalCol, cell{text: text})
	}
	wide := &table{header: header, right: right, rows: rows, lastOptional: t.lastOptional}
	if wide.naturalWidth(indent) <= p.width {
		*t = *wide
	}
}

// naturalWidth is the width the table takes with no column cut.
func (t *table) naturalWidth(indent int) int {
	_, _, total := t.measure(indent)
	return total
}

// compact formats the interval in whole percents rounded outwards (so it
// never looks narrower than it is): "23–89%".
func (iv RateInterval) compact() string {
	lo := math.Floor(iv.Low*100 + 1e-9)
	hi := math.Ceil(iv.High*100 - 1e-9)
	return strconv.FormatFloat(lo, 'f', 0, 64) + "–" + strconv.FormatFloat(hi, 'f', 0, 64) + "%"
}
