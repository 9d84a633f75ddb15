// Command limitsrv is the agent of bench/limits.sh: a plain net/http server
// with Optimly's endpoints (new chat, message v2, health) that answers at
// once and logs the arrival time of every agent call, as the agent's own
// rate-limit counter would. It is deliberately not agentsim: the limits are
// checked by a server that shares no code with evalrun.
//
//	limitsrv [-windows 1s=20,1m=300] [-chat-windows 1s=6] [-min D] [-where]
//
// It listens on 127.0.0.1 (an ephemeral port), prints its URL, and on
// SIGTERM or SIGINT prints one line of results and exits:
//
//	calls=240 new_chats=40 span=12.24s first_turn=+50ms max_1s=20/20 chat_max_1s=4/6 min=11.95s ratio=1.024 server_late_max=3ms
//
// span is the time from the first call to the last; first_turn when the
// first turn (not a new chat) came, after the first call; max_W the most
// calls it saw in any closed window of length W, whatever its alignment (a
// window starting at every arrival), then the limit given with -windows;
// chat_max_W the same for new chats; ratio span divided by -min (the least
// time the limits allow, from `evalrun run --dry-run`); server_late_max the
// most this process ran late (a 5 ms sleep overslept): a server that was
// itself descheduled stamps the requests that queued meanwhile as arriving
// together.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	windows := flag.String("windows", "1s", "comma-separated `windows` to count all calls in, each with its limit: 1s=20,1m=300")
	chatWindows := flag.String("chat-windows", "", "comma-separated `windows` to count new chats in, each with its limit: 1s=6")
	minimum := flag.Duration("min", 0, "the least time the limits allow, for the ratio")
	where := flag.Bool("where", false, "say where the busiest window of all calls starts (max_1s=20@+3.5s)")
	flag.Parse()
	ws, err := durations(*windows)
	if err != nil {
		fmt.Fprintln(os.Stderr, "limitsrv: -windows:", err)
		os.Exit(2)
	}
	cws, err := durations(*chatWindows)
	if err != nil {
		fmt.Fprintln(os.Stderr, "limitsrv: -chat-windows:", err)
		os.Exit(2)
	}

	var (
		mu          sync.Mutex
		calls, chat []time.Time
		firstTurn   time.Time
		chats       atomic.Int64
	)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/health"):
			fmt.Fprint(w, `{"status":"ok"}`)
		case strings.HasSuffix(r.URL.Path, "/new-chat"):
			mu.Lock()
			calls, chat = append(calls, now), append(chat, now)
			mu.Unlock()
			fmt.Fprintf(w, `{"chat_id":"c%d","status":"active"}`, chats.Add(1))
		default:
			mu.Lock()
			calls = append(calls, now)
			if firstTurn.IsZero() {
				firstTurn = now
			}
			mu.Unlock()
			fmt.Fprint(w, `{"response":"ok"}`)
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "limitsrv:", err)
		os.Exit(1)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("http://%s\n", ln.Addr())

	// How late this process itself runs: a sleeper that measures its
	// oversleep. A server descheduled for 100 ms stamps the requests that
	// queued meanwhile as arriving together.
	var lateMax atomic.Int64
	go func() {
		for {
			t0 := time.Now()
			time.Sleep(5 * time.Millisecond)
			if late := int64(time.Since(t0) - 5*time.Millisecond); late > lateMax.Load() {
				lateMax.Store(late)
			}
		}
	}()

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	_ = srv.Close()

	mu.Lock()
	defer mu.Unlock()
	slices.SortFunc(calls, time.Time.Compare)
	slices.SortFunc(chat, time.Time.Compare)
	var span time.Duration
	if len(calls) > 1 {
		span = calls[len(calls)-1].Sub(calls[0])
	}
	out := fmt.Sprintf("calls=%d new_chats=%d span=%v", len(calls), len(chat), span.Round(time.Millisecond))
	if !firstTurn.IsZero() {
		out += fmt.Sprintf(" first_turn=+%v", firstTurn.Sub(calls[0]).Round(time.Millisecond))
	}
	for _, w := range ws {
		n, at := maxInWindow(calls, w.d)
		out += fmt.Sprintf(" max_%v=%d%s", w.d, n, w.limit)
		if *where && n > 0 {
			out += fmt.Sprintf("@%v", at.Sub(calls[0]).Round(time.Millisecond))
		}
	}
	for _, w := range cws {
		n, _ := maxInWindow(chat, w.d)
		out += fmt.Sprintf(" chat_max_%v=%d%s", w.d, n, w.limit)
	}
	if *minimum > 0 {
		out += fmt.Sprintf(" min=%v ratio=%.3f", *minimum, float64(span)/float64(*minimum))
	}
	out += fmt.Sprintf(" server_late_max=%v", time.Duration(lateMax.Load()).Round(time.Millisecond))
	fmt.Println(out)
}

// maxInWindow returns the most arrivals in any closed window [t, t+w] and
// the first such window's start; the most is reached by a window starting
// at an arrival.
func maxInWindow(ts []time.Time, w time.Duration) (int, time.Time) {
	most, j := 0, 0
	var at time.Time
	for i := range ts {
		for j < len(ts) && ts[j].Sub(ts[i]) <= w {
			j++
		}
		if j-i > most {
			most, at = j-i, ts[i]
		}
	}
	return most, at
}

// window is a window length to count calls in and, when given, the
// limit's count ("/20", printed after the most seen).
type window struct {
	d     time.Duration
	limit string
}

func durations(s string) ([]window, error) {
	var out []window
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		ds, n, hasLimit := strings.Cut(f, "=")
		d, err := time.ParseDuration(ds)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("%q: want a positive duration such as 1s or 1m, and optionally =LIMIT", f)
		}
		w := window{d: d}
		if hasLimit {
			if _, err := strconv.Atoi(n); err != nil {
				return nil, fmt.Errorf("%q: limit %q is not a whole number", f, n)
			}
			w.limit = "/" + n
		}
		out = append(out, w)
	}
	return out, nil
}
