package runner

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/scenarios"
)

// BenchmarkRunTenTurns measures the runner's own cost per call on the suite
// of bench/peers.sh (a new chat and ten turns, three expectations on the
// last) against an in-memory agent that answers at once: what the runner
// spends per call besides the HTTP client (contexts, timers, records,
// expectations). One op is one conversation of 11 calls; ns/call and
// allocs/call are reported too.
func BenchmarkRunTenTurns(b *testing.B) {
	data, err := os.ReadFile("../bench/testdata/ten-turn.yaml")
	if err != nil {
		b.Fatal(err)
	}
	scs, err := scenarios.Parse("ten-turn.yaml", data)
	if err != nil {
		b.Fatal(err)
	}
	sc := scs[0]
	sc.Repeat = 1
	const growth = "The Growth plan costs $99/mo and includes 10 agent seats."
	conn := &fakeConn{reply: func(string) agent.Reply { return agent.Reply{Text: growth} }}
	for _, timeout := range []time.Duration{0, 30 * time.Second} {
		b.Run("timeout="+timeout.String(), func(b *testing.B) {
			sc.Repeat = b.N
			b.ReportAllocs()
			b.ResetTimer()
			sum, err := Run(context.Background(), suiteOf(sc), Options{Conn: conn, Concurrency: 4, CallTimeout: timeout})
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if got := sum.Outcomes[Passed]; got != b.N {
				b.Fatalf("%d of %d conversations passed: %v", got, b.N, sum.Outcomes)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(11*b.N), "ns/call")
		})
	}
}
