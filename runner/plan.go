package runner

import (
	"math"
	"math/bits"
	"slices"
	"sort"

	"github.com/evalrun/evalrun/scenarios"
)

// planned is one conversation of a run, before it runs.
type planned struct {
	ID        int // 1-based, run-wide
	Scenario  *scenarios.Scenario
	Iteration int // 0-based repeat index
}

// calls returns the worst-case number of first attempts of the conversation
// when opening a chat makes newChat calls (see agent.NewChatCost): its new
// chat, every turn, and each turn's extra calls (a history read).
func (p planned) calls(newChat int) int {
	return newChat + int(turnCalls(p.Scenario))
}

// turnCalls returns the first attempts of one conversation of sc besides
// its new chat: every turn and each turn's extra calls (a history read).
func turnCalls(sc *scenarios.Scenario) int64 {
	n := int64(sc.UserTurns())
	for _, t := range sc.Turns {
		n += int64(t.ExtraCalls())
	}
	if s := sc.Simulate; s != nil {
		n += int64(s.Turn.ExtraCalls() * (s.MaxTurns - len(sc.Turns)))
	}
	return n
}

// fewestTurnCalls is turnCalls of a conversation of sc that ends as early
// as it can: a simulated one after its scripted turns and its opening
// (the simulated user may end it before writing a message); a scripted
// one sends every turn.
func fewestTurnCalls(sc *scenarios.Scenario) int64 {
	s := sc.Simulate
	if s == nil {
		return turnCalls(sc)
	}
	n := int64(len(sc.Turns))
	for _, t := range sc.Turns {
		n += int64(t.ExtraCalls())
	}
	if s.Opening != nil {
		n += 1 + int64(s.Turn.ExtraCalls())
	}
	return n
}

// repeats returns how many conversations a scenario asks for (at least one).
func repeats(sc *scenarios.Scenario) int { return max(sc.Repeat, 1) }

// order is the run order of one pass over a suite, worked out by arithmetic
// instead of being built: a suite of 100 matrix rows with repeat: 1000000
// has 100,000,000 conversations, and neither a plan nor an estimate may hold
// one record per conversation. A conversation is made (at) when it starts.
//
// The order is iteration-major: the first repeat of every scenario (in suite
// order), then the second repeat of those that have one, and so on. A run cut
// short (--partial, an interrupt, a quota stop) thus covers as many scenarios
// as it can instead of exhausting the first scenario's repeats first, and a
// load mix stays a mix from the start.
//
// The iterations fall into segments in which the same scenarios take part:
// with repeats r1 < r2 < … (the distinct values), iterations [0, r1) have
// every scenario, [r1, r2) those whose repeat is above r1, and so on. A
// segment is a block of identical rows, so counts and sums over any prefix
// of the order are a few multiplications per segment.
//
// An order is not safe for concurrent use (at caches a segment's scenarios).
type order struct {
	scs   []*scenarios.Scenario // the suite's scenarios, nil ones left out
	turns []int64               // turnCalls of each of scs
	segs  []iterSpan
	total int64 // conversations in one pass
	most  int   // iterations in one pass: the largest repeat

	cur    int   // the segment whose scenarios active holds; -1 for none
	active []int // indexes into scs of segment cur's scenarios, in suite order

	// fewest is the same order counting fewestTurnCalls; nil when no
	// scenario is simulated (every conversation then sends its turns).
	fewest *order
}

// iterSpan is a segment of the order: a run of iterations in which the same
// scenarios take part.
type iterSpan struct {
	from, to int64 // iterations [from, to)
	start    int64 // index in the pass of the segment's first conversation
	width    int64 // scenarios per iteration
	turns    int64 // Σ turnCalls over one iteration
}

// newOrder works out the run order of one pass over suite: O(S log S) time
// and O(S) memory for S scenarios, whatever their repeats.
func newOrder(suite *scenarios.Suite) *order {
	o := &order{cur: -1}
	if suite == nil {
		return o
	}
	for _, sc := range suite.Scenarios {
		if sc != nil {
			o.scs = append(o.scs, sc)
			o.turns = append(o.turns, turnCalls(sc))
		}
	}
	// By repeat, largest first: the scenarios of the segment ending at
	// repeat r are those with a repeat of r or more, a prefix of byRepeat.
	byRepeat := make([]int, len(o.scs))
	for i := range byRepeat {
		byRepeat[i] = i
	}
	slices.SortStableFunc(byRepeat, func(a, b int) int { return repeats(o.scs[b]) - repeats(o.scs[a]) })
	var width, turns int64
	type step struct{ to, width, turns int64 }
	var steps []step // from the largest repeat down
	for i, s := range byRepeat {
		width++
		turns = satAdd(turns, o.turns[s])
		r := int64(repeats(o.scs[s]))
		if i+1 == len(byRepeat) || int64(repeats(o.scs[byRepeat[i+1]])) != r {
			steps = append(steps, step{to: r, width: width, turns: turns})
		}
	}
	var from, start int64
	for i := len(steps) - 1; i >= 0; i-- {
		st := steps[i]
		o.segs = append(o.segs, iterSpan{from: from, to: st.to, start: start, width: st.width, turns: st.turns})
		start = satAdd(start, satMul(st.to-from, st.width))
		from = st.to
	}
	o.total = start
	o.most = int(from)
	if slices.ContainsFunc(o.scs, (*scenarios.Scenario).Simulated) {
		o.fewest = o.withTurns(fewestTurnCalls)
	}
	return o
}

// withTurns returns the order with turns counted by f instead of
// turnCalls: the same conversations in the same order.
func (o *order) withTurns(f func(*scenarios.Scenario) int64) *order {
	c := &order{scs: o.scs, segs: slices.Clone(o.segs), total: o.total, most: o.most, cur: -1, turns: make([]int64, len(o.scs))}
	for i, sc := range o.scs {
		c.turns[i] = f(sc)
	}
	for j := range c.segs {
		var t int64
		for _, i := range c.activeOf(j) {
			t = satAdd(t, c.turns[i])
		}
		c.segs[j].turns = t
	}
	return c
}

// at returns the conversation at index i (0 <= i < total) of the pass,
// numbered i+1.
func (o *order) at(i int64) planned {
	j := sort.Search(len(o.segs), func(j int) bool { return o.segs[j].start > i }) - 1
	sg := o.segs[j]
	k := i - sg.start
	act := o.activeOf(j)
	return planned{ID: int(i + 1), Scenario: o.scs[act[k%sg.width]], Iteration: int(sg.from + k/sg.width)}
}

// activeOf returns the indexes into scs of segment j's scenarios, in suite
// order, caching the last segment asked for (a run asks in order).
func (o *order) activeOf(j int) []int {
	if o.cur == j {
		return o.active
	}
	from := o.segs[j].from
	o.active = o.active[:0]
	for i, sc := range o.scs {
		if int64(repeats(sc)) > from {
			o.active = append(o.active, i)
		}
	}
	o.cur = j
	return o.active
}

// sel counts the conversations of one pass among indexes [0, limit) with
// index ≡ off (mod stride), 0 <= off < stride, and sums their turnCalls.
// Per segment it is a few multiplications, plus one walk over the
// segment's scenarios where the limit or the stride cuts an iteration.
func (o *order) sel(limit, stride, off int64) (n, turns int64) {
	for j, sg := range o.segs {
		if sg.start >= limit {
			break
		}
		end := min(satAdd(sg.start, satMul(sg.to-sg.from, sg.width)), limit)
		span := end - sg.start
		if stride == 1 {
			n += span
			turns = satAdd(turns, satMul(span/sg.width, sg.turns))
			if r := span % sg.width; r > 0 {
				for _, s := range o.activeOf(j)[:r] {
					turns = satAdd(turns, o.turns[s])
				}
			}
			continue
		}
		// The first selected index of the segment.
		g0 := sg.start + mod(off-sg.start, stride)
		if g0 >= end {
			continue
		}
		n += (end-1-g0)/stride + 1
		// Over lcm(width, stride) consecutive indexes the selected ones
		// fall once on each position p ≡ g0-start (mod gcd) of an
		// iteration: such blocks all sum to the same.
		g := gcd(sg.width, stride)
		act := o.activeOf(j)
		var blocks, block int64
		if w := sg.width / g; w <= math.MaxInt64/stride {
			blocks = span / (w * stride)
		}
		if blocks > 0 {
			for p := (g0 - sg.start) % g; p < sg.width; p += g {
				block = satAdd(block, o.turns[act[p]])
			}
			turns = satAdd(turns, satMul(blocks, block))
		}
		for x := g0 + blocks*(sg.width/g)*stride; x < end; x += stride {
			turns = satAdd(turns, o.turns[act[(x-sg.start)%sg.width]])
		}
	}
	return n, turns
}

// prefix counts the conversations among the first upto of the run order
// repeated pass after pass (run-wide indexes [0, upto)) with index ≡ off
// (mod stride), and sums their turnCalls: the cost of a shard's part of a
// run (stride 1, off 0 for the whole run).
func (o *order) prefix(upto, stride, off int64) (n, turns int64) {
	if o.total == 0 || upto <= 0 {
		return 0, 0
	}
	passes, rest := upto/o.total, upto%o.total
	// Pass q selects its indexes ≡ off - q×total (mod stride); the offsets
	// come back every period passes.
	shift := mod(o.total, stride)
	period := stride / gcd(shift, stride)
	at := off
	for q := int64(0); q < min(passes, period); q++ {
		pn, pt := o.sel(o.total, stride, at)
		times := (passes-1-q)/period + 1
		n, turns = satAdd(n, satMul(times, pn)), satAdd(turns, satMul(times, pt))
		at = mod(at-shift, stride)
	}
	at = mod(off-mulMod(passes, shift, stride), stride)
	rn, rt := o.sel(rest, stride, at)
	return satAdd(n, rn), satAdd(turns, rt)
}

// estimate is the cost of the conversations prefix selects.
func (o *order) estimate(cc costConfig, upto, stride, off, costPerCall int64, retryFraction float64) Estimate {
	n, turns := o.prefix(upto, stride, off)
	e := Estimate{Conversations: n, CostPerCall: max(costPerCall, 1)}
	if cc.fewest && o.fewest != nil {
		_, turns = o.fewest.prefix(upto, stride, off)
	}
	e.NewChats = satMul(n, int64(cc.newChat))
	e.Calls = satAdd(turns, e.NewChats)
	e.Cost = satMul(e.Calls, e.CostPerCall)
	e.RetryAllowance = retryAllowance(e.Cost, retryFraction)
	e.WorstCase = satAdd(e.Cost, e.RetryAllowance)
	return e
}

// mulMod is a×b mod m for a, b >= 0, without overflow.
func mulMod(a, b, m int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	return int64(bits.Rem64(hi, lo, uint64(m)))
}

// mod is a mod m in [0, m).
func mod(a, m int64) int64 {
	r := a % m
	if r < 0 {
		r += m
	}
	return r
}
