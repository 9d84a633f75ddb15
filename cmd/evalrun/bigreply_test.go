package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
)

// TestHugeFailingRepliesKeepTheResultSmall: 10 conversations against a
// plain net/http agent that answers every turn with a 4 MB reply failing
// its expectation used to keep every reply (a 420 MB result, GBs of heap).
// The result keeps 4 KiB of each; the heap after the run holds none of
// them; the transcripts stream, asked for, has them whole.
func TestHugeFailingRepliesKeepTheResultSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 40 MB over loopback")
	}
	const convs, size = 10, 4_000_000 // 100 at the aggregator: report.TestFailingHugeRepliesStayBounded
	reply := strings.Repeat("z", size)
	var turns atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/health":
			io.WriteString(w, `{"status":"ok"}`)
		case "/external/message/new-chat":
			fmt.Fprintf(w, `{"chat_id":"c%d"}`, turns.Add(1))
		default:
			io.WriteString(w, `{"response":"`+reply+`"}`)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "big.yaml"), []byte(fmt.Sprintf(
		"name: big\nrepeat: %d\nturns:\n  - user: hi\n    expect: [{contains: \"never there\"}]\n", convs)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "r.json")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var c cli
	c.env = map[string]string{"OPTIMLY_API_KEY": "sk-test-big-replies"}
	code := c.run(t, "run", "--quiet", "--target", srv.URL, "--limit", "none", "--concurrency", "4", "--out", out,
		"--transcripts", "all", filepath.Join(dir, "big.yaml"))
	if code != exitFailed {
		t.Fatalf("exit %d, want %d\n%s", code, exitFailed, c.stderr.String())
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("result %d bytes; heap after the run %+d MB; peak heap in use (sys) %d MB", fi.Size(), grown>>20, after.HeapSys>>20)
	if fi.Size() > 2<<20 {
		t.Errorf("result is %d bytes for %d conversations: replies are kept whole", fi.Size(), convs)
	}
	if grown > 64<<20 {
		t.Errorf("the heap grew by %d MB after the run", grown>>20)
	}
	res := readResult(t, out)
	if res.Totals.Failed != convs {
		t.Fatalf("%d failed conversations, want %d", res.Totals.Failed, convs)
	}
	got := res.Scenarios[0].Conversations[0].Turns[0].Reply
	if !strings.HasSuffix(got, "[cut: 4000000 bytes in all]") {
		t.Errorf("kept reply ends %q", got[max(0, len(got)-40):])
	}
	tfi, err := os.Stat(strings.TrimSuffix(out, ".json") + ".transcripts.jsonl")
	if err != nil || tfi.Size() < convs*size {
		t.Errorf("the transcripts stream does not hold every reply whole: %v, %d bytes", err, tfi.Size())
	}
}
