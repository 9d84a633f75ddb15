package agentsim

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFaultsAtOne(t *testing.T) {
	cases := []struct {
		name   string
		faults Faults
		status int
		detail string
		header map[string]string
		check  func(t *testing.T, body []byte)
	}{
		{name: "throttle", faults: Faults{Throttle: 1, RetryAfter: time.Second}, status: 429, detail: `{"detail":"Rate limit exceeded"}`, header: map[string]string{"Retry-After": "1"}},
		{name: "throttle retry at once", faults: Faults{Throttle: 1}, status: 429, detail: `{"detail":"Rate limit exceeded"}`, header: map[string]string{"Retry-After": "0"}},
		{name: "throttle 2.5s", faults: Faults{Throttle: 1, RetryAfter: 2500 * time.Millisecond}, status: 429, detail: `{"detail":"Rate limit exceeded"}`, header: map[string]string{"Retry-After": "3"}},
		{name: "error500", faults: Faults{Error500: 1}, status: 500, detail: `{"detail":"Internal server error"}`},
		{name: "error503", faults: Faults{Error503: 1}, status: 503, detail: `{"detail":"Service temporarily unavailable"}`},
		{name: "malformed", faults: Faults{Malformed: 1}, status: 200, check: func(t *testing.T, body []byte) {
			if json.Valid(body) || len(body) < 10 || !strings.HasPrefix(string(body), `{"agent_id":`) {
				t.Errorf("want a truncated JSON reply, got %q", body)
			}
		}},
		{name: "slow", faults: Faults{Slow: 1, SlowDelay: 20 * time.Millisecond}, status: 200, check: func(t *testing.T, body []byte) {
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil || m["response"] == nil {
				t.Errorf("a slow reply must arrive whole: %v %q", err, body)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := serve(t, baseline(t))
			chat := f.newChat("c") // before the fault is on
			f.s.SetFaults(c.faults)
			for i := 0; i < 3; i++ {
				r := f.do("POST", "/external/agent/v2", bearer, `{"chat_id":"`+chat+`","content":"hello"}`)
				if r.status != c.status {
					t.Fatalf("call %d: status %d, want %d: %s", i, r.status, c.status, r.body)
				}
				if c.detail != "" && string(r.body) != c.detail {
					t.Errorf("body = %s, want %s", r.body, c.detail)
				}
				for k, v := range c.header {
					if got := r.header.Get(k); got != v {
						t.Errorf("%s = %q, want %q", k, got, v)
					}
				}
				if c.check != nil {
					c.check(t, r.body)
				}
			}
			if h := f.do("GET", "/health", "", ""); h.status != 200 {
				t.Errorf("health is faulted too: %d", h.status)
			}
			st := f.s.Stats()
			if st.ByStatus[c.status] < 3 {
				t.Errorf("ByStatus = %v", st.ByStatus)
			}
		})
	}
}

func TestFaultDrop(t *testing.T) {
	a := baseline(t)
	a.Faults = Faults{Drop: 1}
	f := serve(t, a)
	req, _ := http.NewRequest("POST", f.srv.URL+"/external/message/new-chat", strings.NewReader(`{"client_id":"c"}`))
	req.Header.Set("Authorization", bearer)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := client.Do(req)
	if err == nil {
		res.Body.Close()
		t.Fatalf("want a transport error, got HTTP %d", res.StatusCode)
	}
	if !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "EOF") && !strings.Contains(err.Error(), "reset") {
		t.Errorf("error = %v, want the connection closed", err)
	}
	st := f.s.Stats()
	if st.Dropped != 1 || st.AgentCalls != 1 || len(st.ByStatus) != 0 || st.NewChats != 0 {
		t.Errorf("stats = %+v, want one dropped call and nothing else", st)
	}
}

func TestFaultsAtZeroAndMixed(t *testing.T) {
	a := baseline(t)
	a.Faults = Faults{} // all zero
	f := serve(t, a)
	chat := f.newChat("c")
	for i := 0; i < 50; i++ {
		f.send(chat, "hello") // fails the test on anything but 200
	}
	// 30% throttling: some but not all calls are throttled. The draw is
	// pseudo-random from the seed and the call number, so the count is
	// stable for a sequential client.
	f.s.SetFaults(Faults{Throttle: 0.3})
	throttled := 0
	for i := 0; i < 200; i++ {
		r := f.do("POST", "/external/agent/v2", bearer, `{"chat_id":"`+chat+`","content":"hello"}`)
		switch r.status {
		case 429:
			throttled++
		case 200:
		default:
			t.Fatalf("status %d", r.status)
		}
	}
	if throttled < 30 || throttled > 90 {
		t.Errorf("throttled %d of 200 calls at 30%%", throttled)
	}
}

func TestQuota(t *testing.T) {
	a := baseline(t)
	a.Quota = 4
	f := serve(t, a)
	chat := f.newChat("c")                                                            // call 1
	f.send(chat, "hi")                                                                // 2
	if r := f.do("POST", "/external/agent/v2", "Bearer bad", `{}`); r.status != 401 { // 3: counted, too
		t.Fatalf("bad key: %d", r.status)
	}
	f.send(chat, "hi") // 4
	for i := 0; i < 2; i++ {
		r := f.do("POST", "/external/agent/v2", bearer, `{"chat_id":"`+chat+`","content":"hi"}`)
		if r.status != 429 || string(r.body) != `{"detail":"Monthly API call quota exceeded for your plan"}` {
			t.Errorf("over quota: %d %s", r.status, r.body)
		}
		if ra := r.header.Get("Retry-After"); ra != "" {
			t.Errorf("quota exhaustion carries Retry-After %q; it is not a rate limit", ra)
		}
	}
	if h := f.do("GET", "/health", "", ""); h.status != 200 {
		t.Errorf("health over quota: %d", h.status)
	}
	st := f.s.Stats()
	if st.AgentCalls != 6 || st.ByStatus[429] != 2 || st.Turns != 2 {
		t.Errorf("stats = %+v", st)
	}
}

// fakeClock is a settable clock for the rate-limit windows.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestLimits(t *testing.T) {
	type step struct {
		advance time.Duration
		call    string // "chat", "v2", "v1"
		status  int
		retry   string // want Retry-After on a 429
	}
	cases := []struct {
		name   string
		limits Limits
		steps  []step
	}{
		{"per minute", Limits{PerMinute: 3}, []step{
			{0, "chat", 200, ""}, {0, "v2", 200, ""}, {0, "v2", 200, ""},
			{10 * time.Second, "v2", 429, "50"}, {0, "chat", 429, "50"},
			{50 * time.Second, "v2", 200, ""}, {0, "v2", 200, ""}, {0, "v1", 200, ""}, {0, "v2", 429, "60"},
		}},
		{"per hour", Limits{PerHour: 2}, []step{
			{0, "chat", 200, ""}, {0, "v2", 200, ""}, {time.Minute, "v2", 429, "3540"},
			{59 * time.Minute, "v2", 200, ""},
		}},
		{"new chats per minute", Limits{NewChatsPerMinute: 1}, []step{
			{0, "chat", 200, ""}, {0, "chat", 429, "60"}, {0, "v2", 200, ""}, {0, "v2", 200, ""},
			{time.Minute, "chat", 200, ""},
		}},
		{"v1 per minute", Limits{V1PerMinute: 1}, []step{
			{0, "chat", 200, ""}, {0, "v1", 200, ""}, {0, "v1", 429, "60"}, {0, "v2", 200, ""},
			{1500 * time.Millisecond, "v1", 429, "59"},
		}},
		{"off", Limits{}, []step{{0, "chat", 200, ""}, {0, "v2", 200, ""}, {0, "v2", 200, ""}, {0, "v1", 200, ""}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := baseline(t)
			a.Limits = c.limits
			clock := &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
			s := New(a)
			s.now = clock.Now
			if c.limits.any() {
				s.limits = newLimiter(c.limits, clock.Now())
			}
			f := serveServer(t, s)
			chat := ""
			for i, st := range c.steps {
				clock.Add(st.advance)
				var r resp
				switch st.call {
				case "chat":
					r = f.do("POST", "/external/message/new-chat", bearer, `{"client_id":"c"}`)
					if r.status == 200 && chat == "" {
						chat = r.json(t)["chat_id"].(string)
					}
				case "v2":
					r = f.do("POST", "/external/agent/v2", bearer, `{"chat_id":"`+chat+`","content":"hi"}`)
				case "v1":
					r = f.do("POST", "/external/agent", bearer, `{"chat_id":"`+chat+`","content":"hi"}`)
				}
				if r.status != st.status {
					t.Fatalf("step %d (%s): status %d, want %d: %s", i, st.call, r.status, st.status, r.body)
				}
				if st.status == 429 {
					if got := r.header.Get("Retry-After"); got != st.retry {
						t.Errorf("step %d: Retry-After = %q, want %q", i, got, st.retry)
					}
					if string(r.body) != `{"detail":"Rate limit exceeded"}` {
						t.Errorf("step %d: body %s", i, r.body)
					}
				}
			}
		})
	}
}

func TestLatencyModel(t *testing.T) {
	if d := (LatencyModel{}).sample(1, 1); d != 0 {
		t.Errorf("zero model: %v", d)
	}
	if d := (LatencyModel{Fixed: 15 * time.Millisecond}).sample(1, 7); d != 15*time.Millisecond {
		t.Errorf("fixed: %v", d)
	}
	m := LatencyModel{Median: 40 * time.Millisecond, P99: 200 * time.Millisecond}
	const n = 20000
	below50, below99 := 0, 0
	for i := uint64(0); i < n; i++ {
		d := m.sample(42, i)
		if d <= 0 || d > 10*m.P99 {
			t.Fatalf("sample %d = %v out of range", i, d)
		}
		if d <= m.Median {
			below50++
		}
		if d <= m.P99 {
			below99++
		}
		if d != m.sample(42, i) {
			t.Fatalf("sample %d not deterministic", i)
		}
	}
	if p := float64(below50) / n; p < 0.47 || p > 0.53 {
		t.Errorf("fraction at or below the median = %.3f, want about 0.5", p)
	}
	if p := float64(below99) / n; p < 0.985 || p > 0.995 {
		t.Errorf("fraction at or below p99 = %.4f, want about 0.99", p)
	}
}

func TestLatencyReportedAndCancelable(t *testing.T) {
	a := baseline(t)
	a.Latency = LatencyModel{Fixed: 20 * time.Millisecond}
	f := serve(t, a)
	id := f.newChat("c")
	r := f.send(id, "hi")
	if pt := r["metadata"].(map[string]any)["processing_time"]; pt != 0.02 {
		t.Errorf("processing_time = %v, want 0.02", pt)
	}
	// A call whose client gives up during the latency is abandoned.
	a.Latency = LatencyModel{Fixed: time.Hour}
	s := New(a)
	s.chats[id] = &chat{id: id}
	f = serveServer(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", f.srv.URL+"/external/agent/v2", strings.NewReader(`{"chat_id":"`+id+`","content":"hi"}`))
	req.Header.Set("Authorization", bearer)
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("want a timeout, got HTTP %d", res.StatusCode)
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.s.Stats().Canceled != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the server did not abandon the call: %+v", f.s.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestStart(t *testing.T) {
	a := baseline(t)
	run, err := Start(a, "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(run.URL, "http://127.0.0.1:") {
		t.Errorf("URL = %q", run.URL)
	}
	res, err := http.Get(run.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || run.Server.Stats().Health != 1 {
		t.Errorf("health: %d, stats %+v", res.StatusCode, run.Server.Stats())
	}
	if err := run.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := http.Get(run.URL + "/health"); err == nil {
		t.Errorf("still serving after Close")
	}

	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:0", "example.com:80"} {
		if _, err := Start(a, addr); !errors.Is(err, ErrNotLoopback) {
			t.Errorf("Start(%q) = %v, want ErrNotLoopback", addr, err)
		}
	}
	if _, err := Start(a, "127.0.0.1"); err == nil || !strings.Contains(err.Error(), "host:port") {
		t.Errorf("Start without a port: %v", err)
	}
	run, err = StartWith(a, "localhost:0", false)
	if err != nil {
		t.Fatalf("localhost: %v", err)
	}
	run.Close()
	run, err = StartWith(a, "0.0.0.0:0", true)
	if err != nil {
		t.Fatalf("allowed non-loopback: %v", err)
	}
	run.Close()
}
