package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"sync/atomic"
	"time"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/report"
	"github.com/evalrun/evalrun/runner"
	"github.com/evalrun/evalrun/scenarios"
)

// preopened is an Optimly Conn whose chats were opened before the run:
// NewChat hands them out in turn and is no agent call (NewChatCalls is 0,
// as for a transport that keeps chats client-side), so each conversation of
// a one-turn scenario makes exactly one call, POST /external/agent/v2 — the
// call the peers of bench/peers.sh send.
type preopened struct {
	*agent.Optimly
	chats []agent.Chat
	next  atomic.Uint64
}

func (p *preopened) NewChat(context.Context, agent.NewChatRequest) (agent.Chat, error) {
	i := p.next.Add(1) - 1
	return p.chats[i%uint64(len(p.chats))], nil
}

func (p *preopened) NewChatCalls() int { return 0 }

// peer is evalrun's side of bench/peers.sh: the closed model with
// -concurrency conversations in flight for -duration, every conversation
// the scenario of -scenario on a pre-opened chat, with the whole engine at
// work — a quota budget charged per call (large enough never to stop the
// run), no rate limits (--limit none), expectations evaluated on every
// reply, intended-time histograms, the report built at the end. It prints
// one line of key=value pairs that bench/peers parses.
func peer(args []string) error {
	fs := flag.NewFlagSet("peer", flag.ExitOnError)
	url := fs.String("url", "", "the simulated agent (loadbench serve -agent bench/testdata/peers.agent.yaml)")
	n := fs.Int("concurrency", 50, "conversations (calls) in flight")
	d := fs.Duration("duration", 10*time.Second, "how long to start conversations")
	file := fs.String("scenario", "bench/testdata/peers.yaml", "scenario `FILE` (one turn)")
	chats := fs.Int("chats", 0, "chats opened before the run and handed out in turn (0: -concurrency)")
	cpuprof := fs.String("cpuprofile", "", "write a CPU profile of the run to `FILE`")
	memprof := fs.String("memprofile", "", "write an allocation profile of the run to `FILE`")
	_ = fs.Parse(args)
	if *url == "" {
		return fmt.Errorf("peer: -url is required")
	}
	suite, err := scenarios.Load(*file)
	if err != nil {
		return err
	}
	o, err := agent.NewOptimly(agent.Options{BaseURL: *url, APIKey: key(), Timeout: 30 * time.Second, MaxConns: *n})
	if err != nil {
		return err
	}
	defer o.Close()
	pc := &preopened{Optimly: o}
	for range max(*chats, *n, 1) {
		ch, err := o.NewChat(context.Background(), agent.NewChatRequest{ClientID: "peers-bench"})
		if err != nil {
			return fmt.Errorf("peer: pre-opening a chat: %w", err)
		}
		pc.chats = append(pc.chats, ch)
	}
	if *chats > 0 {
		pc.chats = pc.chats[:*chats]
	}
	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	started := time.Now()
	agg := report.NewAggregator(report.Meta{RunID: "peers", Started: started, Load: report.LoadInfo{Model: report.LoadClosed},
		Transcripts: report.Transcripts{Policy: report.TranscriptsFailed}})
	opts := runner.Options{Conn: pc, Observer: agg, RunID: "peers", Seed: 1,
		Budget: runner.NewBudget(1<<40, 1, 1<<36)}
	if err := (runner.Load{Concurrency: *n, Duration: *d, Grace: 10 * time.Second}).Apply(&opts, 1); err != nil {
		return err
	}
	sum, err := runner.Run(context.Background(), suite, opts)
	if err != nil {
		return err
	}
	res := agg.Result(report.Finish{Ended: time.Now(), Schedule: sum.Schedule})
	runtime.ReadMemStats(&m1)
	if *memprof != "" {
		if f, err := os.Create(*memprof); err == nil {
			_ = pprof.Lookup("allocs").WriteTo(f, 0)
			_ = f.Close()
		}
	}
	lat := hist(res, report.HistCallKind, string(runner.CallTurn))
	calls := max(res.Totals.Calls, 1)
	fmt.Printf("calls=%d elapsed=%.3f rate=%.1f p50_us=%d p99_us=%d passed=%d failed=%d errored=%d spent=%d allocs_per_call=%.1f bytes_per_call=%.0f gc=%d\n",
		res.Totals.Calls, sum.Elapsed.Seconds(), float64(res.Totals.Calls)/sum.Elapsed.Seconds(), lat.P50US, lat.P99US,
		sum.Outcomes[runner.Passed], sum.Outcomes[runner.Failed], sum.Outcomes[runner.Errored]+sum.Outcomes[runner.Throttled], sum.Spent,
		float64(m1.Mallocs-m0.Mallocs)/float64(calls), float64(m1.TotalAlloc-m0.TotalAlloc)/float64(calls), m1.NumGC-m0.NumGC)
	return nil
}
