// Command peers runs evalrun's load engine beside the load generators people
// use — wrk, hey and vegeta — against the same zero-latency simulated agent
// on loopback, and prints one table. It is the Go half of bench/peers.sh,
// which installs the tools and builds loadbench; run that rather than this.
//
// Every tool POSTs the same body to /external/agent/v2 with the same
// concurrency for the same time; the tools take turns (A B C D A B C D …)
// for -rounds rounds so that a machine whose load drifts treats them alike.
// Per run it records the tool's own calls/s, p50 and p99, and from the
// kernel (wait4's rusage) the load generator's CPU time and peak RSS; and
// the CPU the server spent meanwhile (/proc/PID/stat). With -pin, the server
// runs on CPU 0 and the generator on CPU 1 (taskset), so they do not fight.
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

type config struct {
	rounds      int
	duration    time.Duration
	concurrency int
	tools       []string
	pins        []bool
	bin         string // where hey and vegeta are
	loadbench   string
	agentFile   string
	scenario    string
	tmp         string
	key         string
	pause       time.Duration
}

// sample is one run of one tool.
type sample struct {
	rate      float64 // calls per second, as the tool counts them
	calls     int64
	errors    int64
	p50, p99  time.Duration
	cpu       time.Duration // user + system of the load generator
	maxRSS    int64         // bytes
	serverCPU time.Duration // the server's CPU meanwhile
	load1     float64       // load average before the run
}

func run() error {
	var c config
	var tools, pins string
	flag.IntVar(&c.rounds, "rounds", 3, "rounds (each tool once per round)")
	flag.DurationVar(&c.duration, "duration", 10*time.Second, "length of each tool's run")
	flag.IntVar(&c.concurrency, "concurrency", 50, "calls in flight (connections, workers, conversations)")
	flag.StringVar(&tools, "tools", "wrk,hey,vegeta,evalrun", "tools, in the order they take turns")
	flag.StringVar(&pins, "pin", "off,on", "configurations: off (both processes on every CPU), on (server on CPU 0, generator on CPU 1)")
	flag.StringVar(&c.bin, "bin", "bench/.tools/bin", "directory of hey and vegeta")
	flag.StringVar(&c.loadbench, "loadbench", "", "the built bench/loadbench binary (required)")
	flag.StringVar(&c.agentFile, "agent", "bench/testdata/peers.agent.yaml", "agent file of the simulated agent")
	flag.StringVar(&c.scenario, "scenario", "bench/testdata/peers.yaml", "evalrun's one-turn scenario")
	flag.DurationVar(&c.pause, "pause", time.Second, "pause between runs")
	flag.Parse()
	if c.loadbench == "" {
		return errors.New("-loadbench is required")
	}
	c.tools = strings.Split(tools, ",")
	for _, t := range c.tools {
		if !slices.Contains([]string{"wrk", "hey", "vegeta", "evalrun"}, t) {
			return fmt.Errorf("-tools: unknown tool %q (valid: wrk, hey, vegeta, evalrun)", t)
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

func (c *config) runConfig(pin bool) error {
	name := "server and generator share every CPU"
	if pin {
		name = "server pinned to CPU 0, generator to CPU 1 (taskset)"
	}
	fmt.Printf("\n== %s\n", name)
	srv, url, err := c.startServer(pin)
	if err != nil {
		return err
	}
	defer func() {
		_ = srv.Process.Signal(syscall.SIGTERM)
		_ = srv.Wait()
	}()
	chat, err := c.newChat(url)
	if err != nil {
		return err
	}
	body := fmt.Sprintf(`{"chat_id":%q,"content":"What does the Growth plan cost?","metadata":{"client_id":"evalrun-peers-1","session_id":"peers-1","source":"evalrun"}}`, chat)
	bodyFile := filepath.Join(c.tmp, "body.json")
	if err := os.WriteFile(bodyFile, []byte(body), 0o600); err != nil {
		return err
	}
	target := url + "/external/agent/v2"
	samples := map[string][]sample{}
	for round := 1; round <= c.rounds; round++ {
		for _, tool := range c.tools {
			time.Sleep(c.pause)
			s, err := c.runTool(tool, pin, url, target, bodyFile, srv.Process.Pid)
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", round, tool, err)
			}
			fmt.Printf("   round %d %-8s %8.0f calls/s  p50 %-9v p99 %-9v CPU %5.3f s/1k calls  RSS %5.1f MB  server CPU %5.3f s/1k  errors %d  (load %.2f)\n",
				round, tool, s.rate, s.p50.Round(time.Microsecond), s.p99.Round(time.Microsecond), perK(s.cpu, s.calls), float64(s.maxRSS)/(1<<20),
				perK(s.serverCPU, s.calls), s.errors, s.load1)
			samples[tool] = append(samples[tool], s)
		}
	}
	c.table(samples)
	return nil
}

func perK(d time.Duration, calls int64) float64 {
	if calls == 0 {
		return 0
	}
	return d.Seconds() / float64(calls) * 1000
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
	tool                              string
	rate, p50, p99, cpuK, rss, srvCPU float64
	errors                            int64
	loads                             []float64
}

func (c *config) table(samples map[string][]sample) {
	var rows []row
	for _, tool := range c.tools {
		ss := samples[tool]
		var rates, p50s, p99s, cpus, rsss, srv, loads []float64
		r := row{tool: tool}
		for _, s := range ss {
			rates = append(rates, s.rate)
			p50s = append(p50s, float64(s.p50.Microseconds())/1000)
			p99s = append(p99s, float64(s.p99.Microseconds())/1000)
			cpus = append(cpus, perK(s.cpu, s.calls))
			rsss = append(rsss, float64(s.maxRSS)/(1<<20))
			srv = append(srv, perK(s.serverCPU, s.calls))
			loads = append(loads, s.load1)
			r.errors += s.errors
		}
		r.rate, r.p50, r.p99, r.cpuK, r.srvCPU = median(rates), median(p50s), median(p99s), median(cpus), median(srv)
		r.rss = slices.Max(rsss)
		r.loads = loads
		rows = append(rows, r)
	}
	var ev *row
	for i := range rows {
		if rows[i].tool == "evalrun" {
			ev = &rows[i]
		}
	}
	fmt.Printf("\n   | tool | calls/s (median of %d) | p50 ms | p99 ms | generator CPU s / 1,000 calls | peak RSS MB | server CPU s / 1,000 calls | errors | evalrun calls/s ÷ tool | evalrun CPU/call ÷ tool | load average at the runs |\n", c.rounds)
	fmt.Println("   |---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		ratio, cpuRatio := "—", "—"
		if ev != nil && r.tool != "evalrun" && r.rate > 0 && r.cpuK > 0 {
			ratio = fmt.Sprintf("%.2f", ev.rate/r.rate)
			cpuRatio = fmt.Sprintf("%.2f", ev.cpuK/r.cpuK)
		}
		var ls []string
		for _, l := range r.loads {
			ls = append(ls, fmt.Sprintf("%.1f", l))
		}
		fmt.Printf("   | %s | %.0f | %.2f | %.2f | %.4f | %.1f | %.4f | %d | %s | %s | %s |\n",
			r.tool, r.rate, r.p50, r.p99, r.cpuK, r.rss, r.srvCPU, r.errors, ratio, cpuRatio, strings.Join(ls, " "))
	}
	if ev == nil {
		return
	}
	goals := map[string]float64{"vegeta": 1.5, "hey": 1.2, "wrk": 0.6}
	for _, r := range rows {
		g, ok := goals[r.tool]
		if !ok || r.rate == 0 {
			continue
		}
		verdict := "met"
		if ev.rate/r.rate < g {
			verdict = "MISSED"
		}
		fmt.Printf("   goal evalrun ≥ %.1f× %s's calls/s: %.2f× — %s\n", g, r.tool, ev.rate/r.rate, verdict)
		if r.tool == "vegeta" {
			verdict = "met"
			if ev.cpuK > r.cpuK {
				verdict = "MISSED"
			}
			fmt.Printf("   goal evalrun CPU per call ≤ vegeta's: %.4f vs %.4f s / 1,000 calls — %s\n", ev.cpuK, r.cpuK, verdict)
		}
	}
}

// startServer starts `loadbench serve -agent FILE` (on CPU 0 when pinned)
// and returns it with its URL.
func (c *config) startServer(pin bool) (*exec.Cmd, string, error) {
	args := []string{c.loadbench, "serve", "-agent", c.agentFile}
	if pin {
		args = append([]string{"taskset", "-c", "0"}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "LOADBENCH_KEY="+c.key)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	url := strings.TrimSpace(line)
	if err != nil || !strings.HasPrefix(url, "http://127.0.0.1:") {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, "", fmt.Errorf("the simulated agent did not start (read %q: %v)", line, err)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return cmd, url, nil
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

// runTool runs one tool once and returns what it measured.
func (c *config) runTool(tool string, pin bool, url, target, bodyFile string, serverPID int) (sample, error) {
	n := strconv.Itoa(c.concurrency)
	d := c.duration.String()
	threads := runtime.NumCPU()
	if pin {
		threads = 1
	}
	var args []string
	env := os.Environ()
	var resultFile string
	switch tool {
	case "wrk":
		args = []string{"wrk", "-t", strconv.Itoa(min(threads, c.concurrency)), "-c", n, "-d", d, "-s", "bench/peers/post.lua", target}
		env = append(env, "PEERS_BODY="+bodyFile, "PEERS_KEY="+c.key)
	case "hey":
		args = []string{filepath.Join(c.bin, "hey"), "-z", d, "-c", n, "-m", "POST", "-T", "application/json",
			"-H", "Authorization: Bearer " + c.key, "-D", bodyFile, target}
	case "vegeta":
		targets := filepath.Join(c.tmp, "targets.txt")
		if err := os.WriteFile(targets, []byte("POST "+target+"\n"), 0o600); err != nil {
			return sample{}, err
		}
		resultFile = filepath.Join(c.tmp, "vegeta.bin")
		args = []string{filepath.Join(c.bin, "vegeta"), "attack", "-targets", targets, "-body", bodyFile,
			"-header", "Authorization: Bearer " + c.key, "-header", "Content-Type: application/json",
			"-rate", "0", "-workers", n, "-max-workers", n, "-duration", d, "-output", resultFile}
	case "evalrun":
		args = []string{c.loadbench, "peer", "-url", url, "-concurrency", n, "-duration", d, "-scenario", c.scenario}
		env = append(env, "LOADBENCH_KEY="+c.key)
	}
	if pin {
		args = append([]string{"taskset", "-c", "1"}, args...)
	}
	s := sample{load1: load1()}
	srv0 := procCPU(serverPID)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return s, fmt.Errorf("%s: %w: %s%s", strings.Join(args, " "), err, stderr.String(), stdout.String())
	}
	s.serverCPU = procCPU(serverPID) - srv0
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	s.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	s.maxRSS = ru.Maxrss * 1024
	var err error
	switch tool {
	case "wrk", "evalrun":
		err = parseKV(stdout.String(), &s)
	case "hey":
		err = parseHey(stdout.String(), &s)
	case "vegeta":
		err = c.parseVegeta(resultFile, &s)
	}
	if err != nil {
		return s, fmt.Errorf("%s: %w\n%s", tool, err, stdout.String())
	}
	return s, nil
}

// parseKV reads the line of key=value pairs that post.lua and loadbench
// peer print.
func parseKV(out string, s *sample) error {
	kv := map[string]string{}
	for _, f := range strings.Fields(out) {
		if k, v, ok := strings.Cut(f, "="); ok {
			kv[k] = v
		}
	}
	num := func(k string) (float64, error) {
		v, ok := kv[k]
		if !ok {
			return 0, fmt.Errorf("no %s= in the output", k)
		}
		return strconv.ParseFloat(v, 64)
	}
	var errs []error
	get := func(k string) float64 {
		f, err := num(k)
		errs = append(errs, err)
		return f
	}
	s.calls = int64(get("calls"))
	s.rate = get("rate")
	s.p50 = time.Duration(get("p50_us")) * time.Microsecond
	s.p99 = time.Duration(get("p99_us")) * time.Microsecond
	if _, ok := kv["errors"]; ok {
		s.errors = int64(get("errors"))
	} else {
		s.errors = int64(get("failed") + get("errored"))
	}
	return errors.Join(errs...)
}

var (
	heyRate    = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	heyPct     = regexp.MustCompile(`(?m)^\s+(\d+)%+ in ([0-9.]+) secs`)
	heyStatus  = regexp.MustCompile(`(?m)^\s+\[(\d+)\]\s+(\d+) responses`)
	heyErrLine = regexp.MustCompile(`(?m)^\s+\[(\d+)\]\s+Post `)
)

func parseHey(out string, s *sample) error {
	m := heyRate.FindStringSubmatch(out)
	if m == nil {
		return errors.New("no Requests/sec in hey's output")
	}
	s.rate, _ = strconv.ParseFloat(m[1], 64)
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
		s.calls += n
		if m[1] != "200" {
			s.errors += n
		}
	}
	for _, m := range heyErrLine.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		s.calls += n
		s.errors += n
	}
	if s.calls == 0 {
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
		Rate        float64          `json:"rate"`
		StatusCodes map[string]int64 `json:"status_codes"`
	}
	if err := json.Unmarshal(out, &m); err != nil {
		return err
	}
	s.calls, s.rate = m.Requests, m.Rate
	s.p50, s.p99 = time.Duration(m.Latencies.P50), time.Duration(m.Latencies.P99)
	s.errors = m.Requests - m.StatusCodes["200"]
	return nil
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
