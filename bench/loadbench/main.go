// Command loadbench measures evalrun's load engine (runner + report) against
// the simulated agent on loopback. It is the Go half of the scripts in
// bench/ (rate.sh, co.sh, memory.sh); run them rather than this directly.
//
//	loadbench serve    [-latency D] [-agent FILE] [-stall-every D -stall-for D -stall-first D]
//	loadbench rate     [-rate R] [-duration D]
//	loadbench co       [-rate R] [-duration D] [-concurrency N] [-stall-every D -stall-for D]
//	loadbench inflight -url URL [-conversations N] [-turns N] [-think D] [-duration D]
//	loadbench soak     -url URL [-calls N] [-call-rate R]
//
// Every network address is 127.0.0.1; every run is bounded by its duration
// (and a grace period). The API key of the simulated agent is
// LOADBENCH_KEY, a throwaway value shared by the server and the client.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/agentsim"
	"github.com/evalrun/evalrun/report"
	"github.com/evalrun/evalrun/runner"
	"github.com/evalrun/evalrun/scenarios"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: loadbench serve|rate|co|inflight|soak [flags]")
		os.Exit(2)
	}
	cmds := map[string]func([]string) error{"serve": serve, "rate": rate, "co": co, "inflight": inflight, "soak": soak}
	cmd := cmds[os.Args[1]]
	if cmd == nil {
		fmt.Fprintf(os.Stderr, "loadbench: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
	if err := cmd(os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(1)
	}
}

func key() string {
	if k := os.Getenv("LOADBENCH_KEY"); k != "" {
		return k
	}
	return "loadbench-sim-key"
}

// stall freezes the agent for stallFor once every stallEvery, the first time
// stallFirst after start: a call that arrives during a freeze is answered
// when it ends (as a server in a GC pause or a failover would).
type stall struct {
	h                             http.Handler
	start                         time.Time
	stallFirst, stallEvery, stall time.Duration
}

// end returns the end of the freeze t falls in.
func (s *stall) end(t time.Time) (time.Time, bool) {
	if s == nil || s.stallEvery <= 0 || s.stall <= 0 {
		return time.Time{}, false
	}
	off := t.Sub(s.start) - s.stallFirst
	if off < 0 {
		return time.Time{}, false
	}
	ws := s.start.Add(s.stallFirst + off/s.stallEvery*s.stallEvery)
	if we := ws.Add(s.stall); t.Before(we) {
		return we, true
	}
	return time.Time{}, false
}

func (s *stall) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/health" {
		if end, ok := s.end(time.Now()); ok {
			t := time.NewTimer(time.Until(end))
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
	}
	s.h.ServeHTTP(w, r)
}

// startAgent serves the simulated agent on a free loopback port.
func startAgent(latency time.Duration, st *stall) (string, func(), error) {
	ag := &agentsim.Agent{Name: "loadbench", APIKeys: []string{key()}, Seed: 1, Latency: agentsim.LatencyModel{Fixed: latency}}
	return startAgentFrom(ag, st)
}

// startAgentFrom serves ag on a free loopback port.
func startAgentFrom(ag *agentsim.Agent, st *stall) (string, func(), error) {
	var h http.Handler = agentsim.New(ag)
	if st != nil {
		st.h = h
		h = st
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	if st != nil {
		st.start = time.Now()
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	latency := fs.Duration("latency", 0, "fixed latency of every call")
	every := fs.Duration("stall-every", 0, "freeze the agent once every D (0: never)")
	dur := fs.Duration("stall-for", time.Second, "length of a freeze")
	first := fs.Duration("stall-first", 5*time.Second, "first freeze this long after start")
	file := fs.String("agent", "", "serve the agent `FILE` (its api_keys replaced by $LOADBENCH_KEY; -latency, when set, replaces its latency)")
	_ = fs.Parse(args)
	var st *stall
	if *every > 0 {
		st = &stall{stallFirst: *first, stallEvery: *every, stall: *dur}
	}
	ag := &agentsim.Agent{Name: "loadbench", APIKeys: []string{key()}, Seed: 1, Latency: agentsim.LatencyModel{Fixed: *latency}}
	if *file != "" {
		var err error
		if ag, err = agentsim.LoadAgent(*file); err != nil {
			return err
		}
		ag.APIKeys = []string{key()}
		if *latency > 0 {
			ag.Latency = agentsim.LatencyModel{Fixed: *latency}
		}
	}
	url, stop, err := startAgentFrom(ag, st)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Println(url)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	return nil
}

// suite returns one scenario of turns turns, each after think, that expects
// nothing (every conversation passes unless a call fails).
func suite(turns int, think time.Duration) (*scenarios.Suite, error) {
	sc := &scenarios.Scenario{Name: "load", Repeat: 1, MinPassRate: 1, OnFail: scenarios.OnFailStop}
	for i := range turns {
		tpl, err := scenarios.ParseTemplate("What does the Growth plan cost?")
		if err != nil {
			return nil, err
		}
		sc.Turns = append(sc.Turns, &scenarios.Turn{Index: i, User: tpl, Think: think})
	}
	return &scenarios.Suite{Scenarios: []*scenarios.Scenario{sc}}, nil
}

func conn(url string, pool int) (*agent.Optimly, error) {
	return agent.NewOptimly(agent.Options{BaseURL: url, APIKey: key(), Timeout: 60 * time.Second, MaxConns: pool})
}

// probe is an Observer that keeps what the benchmarks need besides the
// report: conversation starts and new-chat calls.
type probe struct {
	next runner.Observer
	keep bool // keep the starts and new-chat calls (not in memory benchmarks)

	started atomic.Int64

	mu       sync.Mutex
	starts   []time.Time // actual starts
	intended []time.Time // new-chat intended send times
	service  []time.Duration
	failed   atomic.Int64
}

func (p *probe) CallDone(c *runner.Call) {
	p.next.CallDone(c)
	if p.keep && c.Kind == runner.CallNewChat {
		p.mu.Lock()
		p.intended = append(p.intended, c.Intended)
		p.service = append(p.service, c.Service)
		p.mu.Unlock()
	}
}

func (p *probe) ConversationDone(c *runner.Conversation) {
	p.next.ConversationDone(c)
	if c.Outcome != runner.Passed {
		p.failed.Add(1)
	}
	if !c.Start.IsZero() {
		p.started.Add(1)
	}
	if p.keep && !c.Start.IsZero() {
		p.mu.Lock()
		p.starts = append(p.starts, c.Start)
		p.mu.Unlock()
	}
}

// counting wraps a Schedule and counts the conversations in flight.
type counting struct {
	runner.Schedule
	now, peak atomic.Int64
}

func (c *counting) Next(ctx context.Context) (time.Time, error) {
	t, err := c.Schedule.Next(ctx)
	if err == nil {
		n := c.now.Add(1)
		for p := c.peak.Load(); n > p && !c.peak.CompareAndSwap(p, n); p = c.peak.Load() {
		}
	}
	return t, err
}

func (c *counting) Done() { c.now.Add(-1); c.Schedule.Done() }

func (c *counting) Stats() runner.ScheduleStats {
	if s, ok := c.Schedule.(interface{ Stats() runner.ScheduleStats }); ok {
		return s.Stats()
	}
	return runner.ScheduleStats{}
}

// runLoad runs suite against url with the load and returns the result.
func runLoad(url string, s *scenarios.Suite, ld runner.Load, pool int, info report.LoadInfo, keep bool) (*report.Result, *probe, *runner.Summary, *counting, error) {
	c, err := conn(url, pool)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	defer c.Close()
	started := time.Now()
	agg := report.NewAggregator(report.Meta{RunID: "bench", Started: started, Load: info, Transcripts: report.Transcripts{Policy: report.TranscriptsFailed}})
	pr := &probe{next: agg, keep: keep}
	opts := runner.Options{Conn: c, Observer: pr, RunID: "bench", Seed: 1, Retry: runner.RetryPolicy{MaxAttempts: 1}}
	if err := ld.Apply(&opts, 1); err != nil {
		return nil, nil, nil, nil, err
	}
	cs := &counting{Schedule: opts.Schedule}
	opts.Schedule = cs
	sum, err := runner.Run(context.Background(), s, opts)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	res := agg.Result(report.Finish{Ended: time.Now(), Schedule: sum.Schedule})
	return res, pr, sum, cs, nil
}

func us(v int64) time.Duration { return time.Duration(v) * time.Microsecond }

func hist(res *report.Result, kind, name string) report.HistogramResult {
	if h := res.Histogram(kind, name); h != nil {
		return *h
	}
	return report.HistogramResult{}
}

func header(what string, params ...any) {
	fmt.Printf("== %s\n", what)
	fmt.Printf("   machine: %d CPUs, GOMAXPROCS %d, %s\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version())
	fmt.Printf("   parameters:")
	for i := 0; i+1 < len(params); i += 2 {
		fmt.Printf(" %v=%v", params[i], params[i+1])
	}
	fmt.Println()
}

func rate(args []string) error {
	fs := flag.NewFlagSet("rate", flag.ExitOnError)
	r := fs.Float64("rate", 2000, "conversations per second (one turn each)")
	d := fs.Duration("duration", 10*time.Second, "how long to schedule")
	_ = fs.Parse(args)
	header("rate accuracy: open model, constant arrivals, zero-latency agent in-process", "rate", *r, "duration", *d, "turns", 1)
	url, stop, err := startAgent(0, nil)
	if err != nil {
		return err
	}
	defer stop()
	s, err := suite(1, 0)
	if err != nil {
		return err
	}
	res, pr, sum, cs, err := runLoad(url, s, runner.Load{Rate: *r, Duration: *d, Grace: 10 * time.Second}, 1024, report.LoadInfo{Model: report.LoadOpen, PeakRate: *r}, true)
	if err != nil {
		return err
	}
	slices.SortFunc(pr.starts, func(a, b time.Time) int { return a.Compare(b) })
	n := len(pr.starts)
	achieved := 0.0
	if n > 1 {
		achieved = float64(n-1) / pr.starts[n-1].Sub(pr.starts[0]).Seconds()
	}
	lag := hist(res, report.HistScheduleLag, report.ScheduleLagName)
	svc := hist(res, report.HistService, "new_chat")
	fmt.Printf("   conversations started %d (target %.0f), not passed %d, ended by %s, peak in flight %d\n", n, *r*d.Seconds(), pr.failed.Load(), sum.EndedBy, cs.peak.Load())
	fmt.Printf("   achieved rate %.2f/s vs target %.2f/s: %+.3f%% (goal ±0.5%%)\n", achieved, *r, 100*(achieved-*r) / *r)
	fmt.Printf("   schedule lag p50 %v  p99 %v  p99.9 %v  max %v (goal p99 < 2ms)\n", us(lag.P50US), us(lag.P99US), us(lag.P999US), us(lag.MaxUS))
	fmt.Printf("   new-chat service p50 %v  p99 %v\n", us(svc.P50US), us(svc.P99US))
	printWarnings(res)
	return nil
}

func printWarnings(res *report.Result) {
	if len(res.Warnings) == 0 {
		fmt.Println("   warnings: none")
	}
	for _, w := range res.Warnings {
		fmt.Println("   warning:", w)
	}
}

// percentile returns the p-th percentile (0–100) of ds, sorting it.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(p / 100 * float64(len(ds)))
	return ds[min(i, len(ds)-1)]
}

func co(args []string) error {
	fs := flag.NewFlagSet("co", flag.ExitOnError)
	r := fs.Float64("rate", 100, "open model: new-chat calls (conversations) per second")
	d := fs.Duration("duration", 30*time.Second, "length of each run")
	n := fs.Int("concurrency", 10, "closed model: conversations in flight")
	every := fs.Duration("stall-every", 10*time.Second, "the agent freezes once every D")
	dur := fs.Duration("stall-for", time.Second, "for this long")
	_ = fs.Parse(args)
	header("coordinated omission: the agent freezes, open vs closed model", "rate", *r, "duration", *d, "concurrency", *n,
		"stall-every", *every, "stall-for", *dur, "first-stall", *every/2)
	s, err := suite(1, 0)
	if err != nil {
		return err
	}
	// trueP99 is the p99 of the new-chat latency had each call been sent
	// at its intended time: the freeze it runs into plus the agent's
	// ordinary service time (the median outside freezes).
	trueP99 := func(st *stall, intended []time.Time, base time.Duration) time.Duration {
		var ds []time.Duration
		for _, t := range intended {
			wait := time.Duration(0)
			if end, ok := st.end(t); ok {
				wait = end.Sub(t)
			}
			ds = append(ds, wait+base)
		}
		return percentile(ds, 99)
	}
	for _, model := range []string{"open", "closed"} {
		st := &stall{stallFirst: *every / 2, stallEvery: *every, stall: *dur}
		url, stop, err := startAgent(0, st)
		if err != nil {
			return err
		}
		ld := runner.Load{Rate: *r, Duration: *d, Grace: 5 * time.Second}
		info := report.LoadInfo{Model: report.LoadOpen, PeakRate: *r}
		if model == "closed" {
			ld = runner.Load{Concurrency: *n, Duration: *d, Grace: 5 * time.Second}
			info = report.LoadInfo{Model: report.LoadClosed}
		}
		res, pr, _, _, err := runLoad(url, s, ld, 1024, info, true)
		stop()
		if err != nil {
			return err
		}
		base := percentile(slices.Clone(pr.service), 50)
		nc := hist(res, report.HistCallKind, "new_chat")
		svc := hist(res, report.HistService, "new_chat")
		var truth time.Duration
		what := "the intended send times"
		if model == "open" {
			truth = trueP99(st, pr.intended, base)
		} else {
			// The closed model has no schedule: the truth is that of the
			// same number of calls spread evenly over the run (its mean
			// rate), each sent at its time.
			slices.SortFunc(pr.intended, func(a, b time.Time) int { return a.Compare(b) })
			first, last := pr.intended[0], pr.intended[len(pr.intended)-1]
			grid := make([]time.Time, len(pr.intended))
			for i := range grid {
				grid[i] = first.Add(time.Duration(float64(last.Sub(first)) * float64(i) / float64(len(grid))))
			}
			truth = trueP99(st, grid, base)
			what = fmt.Sprintf("a schedule at its mean rate, %.0f/s", float64(len(grid))/last.Sub(first).Seconds())
		}
		fmt.Printf("-- %s model: %d new-chat calls\n", model, nc.Count)
		fmt.Printf("   reported new-chat p50 %v  p90 %v  p99 %v  max %v   (service p99 %v)\n", us(nc.P50US), us(nc.P90US), us(nc.P99US), us(nc.MaxUS), us(svc.P99US))
		fmt.Printf("   true p99 from %s: %v\n", what, truth.Round(time.Microsecond))
		if truth > 0 {
			fmt.Printf("   reported/true p99: %.3f\n", float64(us(nc.P99US))/float64(truth))
		}
		printWarnings(res)
	}
	return nil
}

// rss reads a field (VmRSS, VmHWM) of /proc/self/status, in bytes.
func rss(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// memStats prints the Go memory statistics (and writes a heap profile to
// prof, when set) after d, to tell where the memory of a run goes.
func memStats(d time.Duration, prof string) func() {
	t := time.AfterFunc(d, func() {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		fmt.Printf("   at +%v: RSS %s, heap in use %s, stacks %s, other Go %s, goroutines %d\n", d, mb(rss("VmRSS")),
			mb(int64(m.HeapInuse)), mb(int64(m.StackInuse)), mb(int64(m.Sys-m.HeapSys-m.StackSys)), runtime.NumGoroutine())
		if prof != "" {
			if f, err := os.Create(prof); err == nil {
				_ = pprof.WriteHeapProfile(f)
				_ = f.Close()
			}
		}
	})
	return func() { t.Stop() }
}

// liveHeap collects garbage and returns the live heap, writing a heap
// profile to prefix-name.prof when prefix is set.
func liveHeap(prefix, name string) uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	if prefix != "" {
		if f, err := os.Create(prefix + "-" + name + ".prof"); err == nil {
			_ = pprof.WriteHeapProfile(f)
			_ = f.Close()
		}
	}
	return m.HeapAlloc
}

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }

func inflight(args []string) error {
	fs := flag.NewFlagSet("inflight", flag.ExitOnError)
	url := fs.String("url", "", "the agent (bench/optimlyserver -latency 1s, or loadbench serve -latency 1s)")
	n := fs.Int("conversations", 10000, "conversations in flight")
	model := fs.String("model", "open", "open: arrivals spread so that n are in flight once the first end; closed: n start at once")
	latency := fs.Duration("latency", time.Second, "the agent's latency (of the server at -url), to size the open model's rate")
	turns := fs.Int("turns", 3, "turns per conversation")
	think := fs.Duration("think", 5*time.Second, "think time before each turn")
	d := fs.Duration("duration", 40*time.Second, "how long to schedule")
	prof := fs.String("heap-profile", "", "write a heap profile to `FILE` halfway through")
	_ = fs.Parse(args)
	stopStats := memStats(*d/2, *prof)
	defer stopStats()
	// A conversation lives turns × (think + call); the agent (optimlyserver
	// or the simulated agent) answers new chats at once.
	life := time.Duration(*turns) * (*think + *latency)
	ld := runner.Load{Concurrency: *n, Duration: *d, Grace: time.Minute}
	info := report.LoadInfo{Model: report.LoadClosed}
	if *model == "open" {
		r := float64(*n) / life.Seconds()
		ld = runner.Load{Rate: r, MaxInFlight: *n + *n/10, Duration: *d, Grace: time.Minute}
		info = report.LoadInfo{Model: report.LoadOpen, PeakRate: r}
	}
	header("memory with conversations in flight (agent in another process)", "model", *model, "conversations", *n, "turns", *turns, "think", *think,
		"latency", *latency, "conversation-life", life, "arrival-rate", ld.Rate, "duration", *d)
	s, err := suite(*turns, *think)
	if err != nil {
		return err
	}
	res, pr, _, cs, err := runLoad(*url, s, ld, *n, info, false)
	if err != nil {
		return err
	}
	fmt.Printf("   conversations %d, not passed %d, calls %d, peak in flight %d\n", pr.started.Load(), pr.failed.Load(), res.Totals.Calls, cs.peak.Load())
	fmt.Printf("   peak RSS (VmHWM) %s (goal < 300 MB)\n", mb(rss("VmHWM")))
	return nil
}

func soak(args []string) error {
	fs := flag.NewFlagSet("soak", flag.ExitOnError)
	url := fs.String("url", "", "the agent (bench/optimlyserver, or loadbench serve)")
	calls := fs.Int("calls", 1_000_000, "calls in all (2 per conversation)")
	callRate := fs.Float64("call-rate", 5000, "calls per second")
	prof := fs.String("heap-profile", "", "write heap profiles to `PREFIX`-60s.prof and PREFIX-end.prof")
	pool := fs.Int("pool", 1024, "idle HTTP connections kept (agent.Options.MaxConns)")
	_ = fs.Parse(args)
	convRate := *callRate / 2
	d := time.Duration(float64(*calls) / *callRate * float64(time.Second))
	header("soak: open model, one-turn conversations, agent in another process", "calls", *calls, "call-rate", *callRate, "duration", d, "pool", *pool)
	s, err := suite(1, 0)
	if err != nil {
		return err
	}
	var samples []int64 // VmRSS once a second
	var fds, gors []int // open files and goroutines once a second
	var live60 uint64   // live heap after a GC at 60 s
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				samples = append(samples, rss("VmRSS"))
				ents, _ := os.ReadDir("/proc/self/fd")
				fds, gors = append(fds, len(ents)), append(gors, runtime.NumGoroutine())
				if len(samples) == 60 {
					live60 = liveHeap(*prof, "60s")
				}
			case <-done:
				return
			}
		}
	}()
	res, pr, _, _, err := runLoad(*url, s, runner.Load{Rate: convRate, Duration: d, Grace: 30 * time.Second, MaxConversations: *calls / 2}, *pool, report.LoadInfo{Model: report.LoadOpen, PeakRate: convRate}, false)
	close(done)
	if err != nil {
		return err
	}
	time.Sleep(10 * time.Millisecond)
	lag := hist(res, report.HistScheduleLag, report.ScheduleLagName)
	fmt.Printf("   calls %d, conversations %d, not passed %d, schedule lag p99 %v\n", res.Totals.Calls, pr.started.Load(), pr.failed.Load(), us(lag.P99US))
	if len(samples) < 61 {
		fmt.Printf("   run shorter than 61 s (%d samples): no first-minute baseline; RSS now %s, peak %s\n", len(samples), mb(rss("VmRSS")), mb(rss("VmHWM")))
		return nil
	}
	liveEnd := liveHeap(*prof, "end")
	fmt.Printf("   live heap after a GC: at 60 s %s, at the end %s\n", mb(int64(live60)), mb(int64(liveEnd)))
	if len(fds) >= 60 {
		fmt.Printf("   open files (connections) at 60 s %d, at the end %d, most %d; goroutines at 60 s %d, at the end %d, most %d\n",
			fds[59], fds[len(fds)-1], slices.Max(fds), gors[59], gors[len(gors)-1], slices.Max(gors))
	}
	at60, end := samples[59], samples[len(samples)-1]
	peak := slices.Max(samples[59:])
	fmt.Printf("   RSS after the first minute %s, at the end %s, highest after the first minute %s, peak %s\n", mb(at60), mb(end), mb(peak), mb(rss("VmHWM")))
	fmt.Printf("   growth from the first minute: end %+.1f%%, highest %+.1f%% (goal < 10%%)\n",
		100*float64(end-at60)/float64(at60), 100*float64(peak-at60)/float64(at60))
	printWarnings(res)
	return nil
}
