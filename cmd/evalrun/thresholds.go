package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/evalrun/evalrun/report"
	"github.com/evalrun/evalrun/runner"
	"github.com/evalrun/evalrun/scenarios"
)

// exprList is a repeatable string flag; a list in evalrun.yaml
// (thresholds:) sets it once per element.
type exprList []string

func (l *exprList) Repeatable() bool { return true }

func (l *exprList) String() string { return strings.Join(*l, ", ") }
func (l *exprList) Set(s string) error {
	*l = append(*l, s)
	return nil
}

// gateFlags are the gate and shard flags of "evalrun run" (and the
// threshold flags of "merge"): --threshold and --shard.
type gateFlags struct {
	thresholdExprs exprList
	shardSpec      string
	shardIndex     string // --shard-index I/N: 0-based, as Kubernetes numbers pods

	thresholds []report.Threshold // parsed by check
	shard      runner.Shard       // parsed by check
}

func (g *gateFlags) registerThresholds(fs *flag.FlagSet) {
	fs.Var(&g.thresholdExprs, "threshold", "a gate such as 'p95<2s', 'pass_rate>=0.95', 'scenario:NAME p99<5s' (repeatable; see docs/gates.md)")
}

func (g *gateFlags) register(fs *flag.FlagSet) {
	g.registerThresholds(fs)
	fs.StringVar(&g.shardSpec, "shard", "", "run shard `i/n` of the conversations, with 1/n of the rate and quota (merge the shards with evalrun merge)")
	fs.StringVar(&g.shardIndex, "shard-index", "", "run the shard of 0-based index `I/N`, e.g. $(JOB_COMPLETION_INDEX)/4 in a Kubernetes Indexed Job: the same as --shard I+1/N")
}

// check parses the thresholds and the shard: a malformed one is a usage
// error naming the column of the mistake.
func (g *gateFlags) check() error {
	ts, err := parseThresholds(g.thresholdExprs)
	if err != nil {
		return err
	}
	g.thresholds = ts
	if g.shard, err = runner.ParseShard(g.shardSpec); err != nil {
		return usageErr("--shard: %v", err)
	}
	if g.shardIndex != "" {
		if g.shardSpec != "" {
			return usageErr("--shard and --shard-index both given; give one")
		}
		is, ns, ok := strings.Cut(g.shardIndex, "/")
		i, err1 := strconv.Atoi(strings.TrimSpace(is))
		n, err2 := strconv.Atoi(strings.TrimSpace(ns))
		if !ok || err1 != nil || err2 != nil || i < 0 || i >= n {
			return usageErr("--shard-index %q: want I/N with 0 <= I < N, e.g. 0/4 (the first of 4 shards)", g.shardIndex)
		}
		if g.shard, err = runner.ShardFromIndex(i, n); err != nil {
			return usageErr("--shard-index: %v", err)
		}
	}
	return nil
}

// parseThresholds parses threshold expressions (--threshold or the
// thresholds: list of evalrun.yaml); errors are usage errors.
func parseThresholds(exprs []string) ([]report.Threshold, error) {
	ts, err := report.ParseThresholds(exprs)
	if err != nil {
		return nil, usageErr("--threshold: %v", err)
	}
	return ts, nil
}

// headroom is the shard's share of the quota headroom (all of it when not
// sharded); the n shares add up to the headroom exactly.
func (g *gateFlags) headroom(h int64) int64 { return g.shard.Share(h) }

// settings records the shard in the result's settings, with the suite's
// digest so that merge can refuse shards of different suites.
func (g *gateFlags) settings(s map[string]any, suite *scenarios.Suite) {
	if g.shard.Whole() {
		return
	}
	s[report.SettingShard] = g.shard.String()
	s[report.SettingSuite] = runner.SuiteDigest(suite)
}

// printThresholds prints each threshold with its measured value and ✓/✗.
func printThresholds(w io.Writer, res *report.Result) {
	if len(res.Thresholds) == 0 {
		return
	}
	width := 0
	for _, t := range res.Thresholds {
		width = max(width, utf8.RuneCountInString(t.Expr))
	}
	fmt.Fprintln(w, "\nThresholds")
	for _, t := range res.Thresholds {
		mark := "✓"
		if !t.Passed {
			mark = "✗"
		}
		fmt.Fprintf(w, "  %s %s%s  %s\n", mark, t.Expr, strings.Repeat(" ", width-utf8.RuneCountInString(t.Expr)), t.Value)
	}
}

// errNoMessage is the error of an exit code whose reason was printed.
var errNoMessage = errors.New("")
