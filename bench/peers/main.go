// Command peers runs the evalrun CLI beside the load generators people use —
// vegeta, hey, wrk and bombardier — against the same plain Go net/http
// server (bench/optimlyserver, the Optimly API shape answered with
// encoding/json) on loopback, and prints one table. It is the Go half of
// bench/peers.sh, which installs the tools and builds the binaries; run that
// rather than this.
//
// evalrun runs what a user runs: `evalrun run --target URL --concurrency N
// --duration D --limit none --quiet --out FILE SCENARIO` on a ten-turn
// conversation with expectations on its last turn (a new chat, then ten
// messages). The peers POST one message to /external/agent/v2 over and over
// with N connections or workers. Every tool gets the same concurrency and
// the same duration; they take turns (A B C D E A B C D E …) for -rounds
// rounds so that a machine whose load drifts treats them alike.
//
// Calls and TCP connections are counted by the server (its /stats before
// and after each run), not taken from the tools; calls/s is the server's
// count over the tool's wall time (start to exit, report included). CPU is
// the tool's user + system time from wait4's rusage, per call counted by the
// server; the server's CPU meanwhile comes from /proc/PID/stat. p50/p99 are
// each tool's own (they measure different spans: docs/performance.md).
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "peers:", err)
		os.Exit(1)
	}
}

var allTools = []string{"evalrun", "vegeta", "hey", "wrk", "bombardier"}

type config struct {
	rounds      int
	duration    time.Duration
	concurrency int
	tools       []string
	pins        []bool
	bin         string // where vegeta, hey and bombardier are
	server      string // the built bench/optimlyserver
	evalrun     string // the built evalrun CLI
	scenario    string
	tmp         string
	key         string
	pause       time.Duration
}

// sample is one run of one tool.
type sample struct {
	wall        time.Duration
	calls       int64 // answered by the server during the run
	connections int64 // TCP connections the server accepted during the run
	maxOpen     int64 // most connections open at once during the run
	errors      int64 // the tool's own count of failed calls, plus the server's 4xx
	p50, p99    time.Duration
	cpu         time.Duration // user + system of the load generator
	maxRSS      int64         // bytes
	serverCPU   time.Duration // the server's CPU meanwhile
	load1       float64       // load average before the run
}

func (s sample) rate() float64 {
	if s.wall <= 0 {
		return 0
	}
	return float64(s.calls) / s.wall.Seconds()
}

func run() error {
	var c config
	var tools, pins string
	flag.IntVar(&c.rounds, "rounds", 3, "rounds (each tool once per round)")
	flag.DurationVar(&c.duration, "duration", 5*time.Second, "length of each tool's run")
	flag.IntVar(&c.concurrency, "concurrency", 50, "conversations (evalrun), connections or workers (the others) in flight")
	flag.StringVar(&tools, "tools", strings.Join(allTools, ","), "tools, in the order they take turns")
	flag.StringVar(&pins, "pin", "off", "configurations: off (both processes on every CPU), on (server on CPU 0, generator on CPU 1), or off,on")
	flag.StringVar(&c.bin, "bin", "bench/.tools/bin", "directory of vegeta, hey and bombardier")
	flag.StringVar(&c.server, "server", "", "the built bench/optimlyserver binary (required)")
	flag.StringVar(&c.evalrun, "evalrun", "", "the built evalrun binary (required)")
	flag.StringVar(&c.scenario, "scenario", "bench/testdata/ten-turn.yaml", "evalrun's suite")
	flag.DurationVar(&c.pause, "pause", time.Second, "pause between runs")
	flag.Parse()
	if c.server == "" || c.evalrun == "" {
		return errors.New("-server and -evalrun are required")
	}
	c.tools = strings.Split(tools, ",")
	for _, t := range c.tools {
		if !slices.Contains(allTools, t) {
			return fmt.Errorf("-tools: unknown tool %q (valid: %s)", t, strings.Join(allTools, ", "))
		}
	}
	for _, p := range strings.Split(pins, ",") {
		switch p {
		case "off":
			c.pins = append(c.pins, false)
		case "on":
			c.pins = append(c.pins, true)
		default:
			return fmt.Errorf("-pin: %q: want off, on or off,on", p)
		}
	}
	if slices.Contains(c.pins, true) && runtime.NumCPU() < 2 {
		return errors.New("-pin on needs 2 CPUs")
	}
	c.key = fmt.Sprintf("peers-%d", time.Now().UnixNano())
	tmp, err := os.MkdirTemp("", "peers")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	c.tmp = tmp
	fmt.Printf("bench/peers: %d rounds × %v per tool, concurrency %d, tools %s (%s, %d CPUs, %s, load average %s)\n",
		c.rounds, c.duration, c.concurrency, tools, time.Now().UTC().Format(time.RFC3339), runtime.NumCPU(), cpuModel(), loadavg())
	for _, pin := range c.pins {
		if err := c.runConfig(pin); err != nil {
			return err
		}
	}
	return nil
}

// server is a running bench/optimlyserver.
type server struct {
	cmd      *exec.Cmd
	url      string
	statsURL string
}

// stats is the server's GET /stats.
type stats struct {
	Requests    int64 `json:"requests"`
	Errors      int64 `json:"errors"`
	Connections int64 `json:"connections"`
	Open        int64 `json:"open"`
	MaxOpen     int64 `json:"max_open"`
}

func (s *server) stats(reset bool) (stats, error) {
	u := s.statsURL + "/stats"
	if reset {
		u += "?reset=1"
	}
	var st stats
	resp, err := http.Get(u)
	if err != nil {
		return st, fmt.Errorf("server stats: %w", err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("server stats: %w", err)
	}
	return st, nil
}

func (c *config) runConfig(pin bool) error {
	name := "server and generator share every CPU"
	if pin {
		name = "server pinned to CPU 0, generator to CPU 1 (taskset)"
	}
	fmt.Printf("\n== %s\n", name)
	srv, err := c.startServer(pin)
	if err != nil {
		return err
	}
	defer func() {
		_ = srv.cmd.Process.Signal(syscall.SIGTERM)
		_ = srv.cmd.Wait()
	}()
	chat, err := c.newChat(srv.url)
	if err != nil {
		return err
	}
	body := fmt.Sprintf(`{"chat_id":%q,"content":"What does the Growth plan cost?","metadata":{"client_id":"evalrun-peers-1","session_id":"peers-1","source":"evalrun"}}`, chat)
	bodyFile := filepath.Join(c.tmp, "body.json")
	if err := os.WriteFile(bodyFile, []byte(body), 0o600); err != nil {
		return err
	}
	target := srv.url + "/external/agent/v2"
	samples := map[string][]sample{}
	for round := 1; round <= c.rounds; round++ {
		for _, tool := range c.tools {
			time.Sleep(c.pause)
			s, err := c.runTool(tool, pin, srv, target, bodyFile)
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", round, tool, err)
			}
			fmt.Printf("   round %d %-10s %7.0f calls/s  conns %6d (most open %4d)  CPU %5.1f µs/call  server %5.1f µs/call  p50 %-9v p99 %-9v RSS %5.1f MB  errors %d  (load %.2f)\n",
				round, tool, s.rate(), s.connections, s.maxOpen, perCall(s.cpu, s.calls), perCall(s.serverCPU, s.calls),
				s.p50.Round(time.Microsecond), s.p99.Round(time.Microsecond), float64(s.maxRSS)/(1<<20), s.errors, s.load1)
			samples[tool] = append(samples[tool], s)
		}
	}
	c.table(samples)
	return nil
}

// perCall is CPU microseconds per call.
func perCall(d time.Duration, calls int64) float64 {
	if calls == 0 {
		return 0
	}
	return float64(d.Microseconds()) / float64(calls)
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

type row struct {
	tool                                    string
	rate, p50, p99, cpu, rss, srvCPU, conns float64
	maxOpen                                 int64
	errors                                  int64
	loads                                   []float64
}

func (c *config) table(samples map[string][]sample) {
	var rows []row
	for _, tool := range c.tools {
		ss := samples[tool]
		var rates, p50s, p99s, cpus, rsss, srv, conns, loads []float64
		r := row{tool: tool}
		for _, s := range ss {
			rates = append(rates, s.rate())
			p50s = append(p50s, float64(s.p50.Microseconds())/1000)
			p99s = append(p99s, float64(s.p99.Microseconds())/1000)
			cpus = append(cpus, perCall(s.cpu, s.calls))
			rsss = append(rsss, float64(s.maxRSS)/(1<<20))
			srv = append(srv, perCall(s.serverCPU, s.calls))
			conns = append(conns, float64(s.connections))
			loads = append(loads, s.load1)
			r.maxOpen = max(r.maxOpen, s.maxOpen)
			r.errors += s.errors
		}
		r.rate, r.p50, r.p99, r.cpu, r.srvCPU, r.conns = median(rates), median(p50s), median(p99s), median(cpus), median(srv), median(conns)
		r.rss = slices.Max(rsss)
		r.loads = loads
		rows = append(rows, r)
	}
	var ev, vg *row
	for i := range rows {
		switch rows[i].tool {
		case "evalrun":
			ev = &rows[i]
		case "vegeta":
			vg = &rows[i]
		}
	}
	fmt.Printf("\n   | tool | calls/s (median of %d) | TCP connections per run (median) | most open at once | CPU µs / call | server CPU µs / call | p50 ms | p99 ms | peak RSS MB | errors | evalrun calls/s ÷ tool | evalrun CPU/call ÷ tool | load average at the runs |\n", c.rounds)
	fmt.Println("   |---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		ratio, cpuRatio := "—", "—"
		if ev != nil && r.tool != "evalrun" && r.rate > 0 && r.cpu > 0 {
			ratio = fmt.Sprintf("%.2f", ev.rate/r.rate)
			cpuRatio = fmt.Sprintf("%.2f", ev.cpu/r.cpu)
		}
		var ls []string
		for _, l := range r.loads {
			ls = append(ls, fmt.Sprintf("%.1f", l))
		}
		fmt.Printf("   | %s | %.0f | %.0f | %d | %.1f | %.1f | %.2f | %.2f | %.1f | %d | %s | %s | %s |\n",
			r.tool, r.rate, r.conns, r.maxOpen, r.cpu, r.srvCPU, r.p50, r.p99, r.rss, r.errors, ratio, cpuRatio, strings.Join(ls, " "))
	}
	if ev == nil {
		return
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	if vg != nil && vg.rate > 0 {
		fmt.Printf("   goal evalrun calls/s ≥ 1.0× vegeta's: %.2f× — %s (stretch 1.5×: %s)\n", ev.rate/vg.rate, verdict(ev.rate >= vg.rate), verdict(ev.rate >= 1.5*vg.rate))
		fmt.Printf("   goal evalrun CPU per call ≤ vegeta's: %.1f vs %.1f µs — %s\n", ev.cpu, vg.cpu, verdict(ev.cpu <= vg.cpu))
	}
	limit := 1.1 * float64(c.concurrency)
	fmt.Printf("   goal evalrun TCP connections ≤ 1.1× conversations in flight (%.0f): %.0f per run (median), at most %d open at once — %s\n",
		limit, ev.conns, ev.maxOpen, verdict(ev.conns <= limit))
}

// startServer starts bench/optimlyserver (on CPU 0 when pinned).
func (c *config) startServer(pin bool) (*server, error) {
	args := []string{c.server, "-key-env", "PEERS_KEY"}
	if pin {
		args = append([]string{"taskset", "-c", "0"}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "PEERS_KEY="+c.key)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	f := strings.Fields(line)
	if err != nil || len(f) != 2 || !strings.HasPrefix(f[0], "http://127.0.0.1:") {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("optimlyserver did not start (read %q: %v)", line, err)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return &server{cmd: cmd, url: f[0], statsURL: f[1]}, nil
}

// newChat opens the chat that the peers' body names.
func (c *config) newChat(url string) (string, error) {
	req, err := http.NewRequest(http.MethodPost, url+"/external/message/new-chat", strings.NewReader(`{"client_id":"peers-bench"}`))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		ChatID string `json:"chat_id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.ChatID == "" {
		return "", fmt.Errorf("new chat: HTTP %d, %v", resp.StatusCode, err)
	}
	return out.ChatID, nil
}

// runTool runs one tool once and returns what it and the server measured.
func (c *config) runTool(tool string, pin bool, srv *server, target, bodyFile string) (sample, error) {
	n := strconv.Itoa(c.concurrency)
	d := c.duration.String()
	threads := runtime.NumCPU()
	if pin {
		threads = 1
	}
	var args []string
	env := os.Environ()
	var resultFile string
	auth := "Authorization: Bearer " + c.key
	switch tool {
	case "wrk":
		args = []string{"wrk", "-t", strconv.Itoa(min(threads, c.concurrency)), "-c", n, "-d", d, "-s", "bench/peers/post.lua", target}
		env = append(env, "PEERS_BODY="+bodyFile, "PEERS_KEY="+c.key)
	case "hey":
		args = []string{filepath.Join(c.bin, "hey"), "-z", d, "-c", n, "-m", "POST", "-T", "application/json",
			"-H", auth, "-D", bodyFile, target}
	case "vegeta":
		targets := filepath.Join(c.tmp, "targets.txt")
		if err := os.WriteFile(targets, []byte("POST "+target+"\n"), 0o600); err != nil {
			return sample{}, err
		}
		resultFile = filepath.Join(c.tmp, "vegeta.bin")
		args = []string{filepath.Join(c.bin, "vegeta"), "attack", "-targets", targets, "-body", bodyFile,
			"-header", auth, "-header", "Content-Type: application/json",
			"-rate", "0", "-workers", n, "-max-workers", n, "-duration", d, "-output", resultFile}
	case "bombardier":
		args = []string{filepath.Join(c.bin, "bombardier"), "-c", n, "-d", d, "-m", "POST", "-f", bodyFile,
			"-H", auth, "-H", "Content-Type: application/json", "-l", "-p", "r", "-o", "json", target}
	case "evalrun":
		resultFile = filepath.Join(c.tmp, "evalrun.json")
		args = []string{c.evalrun, "run", "--target", srv.url, "--concurrency", n, "--duration", d, "--limit", "none",
			"--quiet", "--out", resultFile, "--ledger", filepath.Join(c.tmp, "ledger.json"), c.scenario}
		env = append(env, "OPTIMLY_API_KEY="+c.key)
	}
	if pin {
		args = append([]string{"taskset", "-c", "1"}, args...)
	}
	// Let the previous run's connections close first, so that the peak of
	// open connections is this run's own.
	for wait := 0; wait < 30; wait++ {
		st, err := srv.stats(false)
		if err != nil {
			return sample{}, err
		}
		if st.Open == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	s := sample{load1: load1()}
	before, err := srv.stats(true)
	if err != nil {
		return s, err
	}
	srv0 := procCPU(srv.cmd.Process.Pid)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return s, fmt.Errorf("%s: %w: %s%s", strings.Join(args, " "), err, stderr.String(), stdout.String())
	}
	s.wall = time.Since(start)
	s.serverCPU = procCPU(srv.cmd.Process.Pid) - srv0
	after, err := srv.stats(false)
	if err != nil {
		return s, err
	}
	s.calls = after.Requests - before.Requests
	s.connections = after.Connections - before.Connections
	s.maxOpen = after.MaxOpen
	s.errors = after.Errors - before.Errors
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	s.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	s.maxRSS = ru.Maxrss * 1024
	switch tool {
	case "wrk":
		err = parseWrk(stdout.String(), &s)
	case "hey":
		err = parseHey(stdout.String(), &s)
	case "vegeta":
		err = c.parseVegeta(resultFile, &s)
	case "bombardier":
		err = parseBombardier(stdout.Bytes(), &s)
	case "evalrun":
		err = parseEvalrun(resultFile, &s)
	}
	if err != nil {
		return s, fmt.Errorf("%s: %w\n%s", tool, err, stdout.String())
	}
	return s, nil
}

// parseWrk reads the line of key=value pairs that post.lua prints.
func parseWrk(out string, s *sample) error {
	kv := map[string]string{}
	for _, f := range strings.Fields(out) {
		if k, v, ok := strings.Cut(f, "="); ok {
			kv[k] = v
		}
	}
	var errs []error
	get := func(k string) float64 {
		v, ok := kv[k]
		if !ok {
			errs = append(errs, fmt.Errorf("no %s= in the output", k))
			return 0
		}
		f, err := strconv.ParseFloat(v, 64)
		errs = append(errs, err)
		return f
	}
	s.p50 = time.Duration(get("p50_us")) * time.Microsecond
	s.p99 = time.Duration(get("p99_us")) * time.Microsecond
	s.errors += int64(get("errors"))
	return errors.Join(errs...)
}

var (
	heyPct     = regexp.MustCompile(`(?m)^\s+(\d+)%+ in ([0-9.]+) secs`)
	heyStatus  = regexp.MustCompile(`(?m)^\s+\[(\d+)\]\s+(\d+) responses`)
	heyErrLine = regexp.MustCompile(`(?m)^\s+\[(\d+)\]\s+Post `)
)

func parseHey(out string, s *sample) error {
	var answered int64
	for _, m := range heyPct.FindAllStringSubmatch(out, -1) {
		secs, _ := strconv.ParseFloat(m[2], 64)
		d := time.Duration(secs * float64(time.Second))
		switch m[1] {
		case "50":
			s.p50 = d
		case "99":
			s.p99 = d
		}
	}
	for _, m := range heyStatus.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.ParseInt(m[2], 10, 64)
		answered += n
		if m[1] != "200" {
			s.errors += n
		}
	}
	for _, m := range heyErrLine.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		s.errors += n
	}
	if answered == 0 {
		return errors.New("no status code counts in hey's output")
	}
	return nil
}

// parseVegeta runs `vegeta report -type json` on the attack's results (the
// report is not part of the generator's CPU: vegeta attack does the load).
func (c *config) parseVegeta(results string, s *sample) error {
	out, err := exec.Command(filepath.Join(c.bin, "vegeta"), "report", "-type", "json", results).Output()
	if err != nil {
		return fmt.Errorf("vegeta report: %w", err)
	}
	var m struct {
		Latencies struct {
			P50 int64 `json:"50th"`
			P99 int64 `json:"99th"`
		} `json:"latencies"`
		Requests    int64            `json:"requests"`
		StatusCodes map[string]int64 `json:"status_codes"`
	}
	if err := json.Unmarshal(out, &m); err != nil {
		return err
	}
	s.p50, s.p99 = time.Duration(m.Latencies.P50), time.Duration(m.Latencies.P99)
	s.errors += m.Requests - m.StatusCodes["200"]
	return nil
}

// parseBombardier reads `bombardier -p r -o json` (latencies in µs).
func parseBombardier(out []byte, s *sample) error {
	var m struct {
		Result struct {
			Req2xx  int64 `json:"req2xx"`
			Req1xx  int64 `json:"req1xx"`
			Req3xx  int64 `json:"req3xx"`
			Req4xx  int64 `json:"req4xx"`
			Req5xx  int64 `json:"req5xx"`
			Others  int64 `json:"others"`
			Latency struct {
				Percentiles map[string]float64 `json:"percentiles"`
			} `json:"latency"`
		} `json:"result"`
	}
	if err := json.Unmarshal(out, &m); err != nil {
		return err
	}
	r := m.Result
	if r.Req2xx == 0 {
		return errors.New("no 2xx answers in bombardier's output")
	}
	s.errors += r.Req1xx + r.Req3xx + r.Req4xx + r.Req5xx + r.Others
	s.p50 = time.Duration(r.Latency.Percentiles["50"] * float64(time.Microsecond))
	s.p99 = time.Duration(r.Latency.Percentiles["99"] * float64(time.Microsecond))
	return nil
}

// parseEvalrun reads the run's JSON result: the p50/p99 of all calls, and
// the conversations that did not pass.
func parseEvalrun(file string, s *sample) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var m struct {
		Totals struct {
			Conversations, Passed int64
		} `json:"totals"`
		Histograms []struct {
			Name  string `json:"name"`
			Kind  string `json:"kind"`
			P50US int64  `json:"p50_us"`
			P99US int64  `json:"p99_us"`
		} `json:"histograms"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if m.Totals.Conversations == 0 {
		return fmt.Errorf("%s: no conversations", file)
	}
	s.errors += m.Totals.Conversations - m.Totals.Passed
	for _, h := range m.Histograms {
		if h.Kind == "overall" {
			s.p50, s.p99 = time.Duration(h.P50US)*time.Microsecond, time.Duration(h.P99US)*time.Microsecond
			return nil
		}
	}
	return fmt.Errorf("%s: no overall histogram", file)
}

// procCPU returns the user + system CPU time of a running process.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces) in parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64) // field 14 utime
	st, _ := strconv.ParseInt(f[12], 10, 64) // field 15 stime
	const ticks = 100                        // sysconf(_SC_CLK_TCK) on Linux
	return time.Duration(ut+st) * time.Second / ticks
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func load1() float64 {
	f, _ := strconv.ParseFloat(strings.Fields(loadavg() + " 0")[0], 64)
	return f
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
