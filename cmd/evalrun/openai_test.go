package main

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/report"
)

// TestRunOpenAIExamples runs every example scenario against the simulated
// agent playing an OpenAI-compatible server, streamed and not: they all
// pass (their `tool:` expectations accept the "called" status of tool
// calls), no new-chat call is made (the chats live client-side), and a
// streamed run records time to first token and the longest stall once per
// turn and every gap between chunks.
func TestRunOpenAIExamples(t *testing.T) {
	for _, stream := range []bool{false, true} {
		t.Run("stream="+strconv.FormatBool(stream), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "result.json")
			args := []string{"run", "--quiet", "--kind", "openai", "--out", out, "--transcripts-sample", "1000"}
			if stream {
				args = append(args, "--stream")
			}
			c := &cli{}
			if code := c.run(t, append(args, repoPath("examples"))...); code != exitOK {
				t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, c.stdout.String(), c.stderr.String())
			}
			res := readResult(t, out)
			var convs, turns, gaps int64
			for _, s := range res.Scenarios {
				if s.Status != report.StatusPassed {
					t.Errorf("scenario %s: %s (%+v)", s.Name, s.Status, s.FirstFailure)
				}
				for _, cv := range s.Conversations {
					convs++
					for _, tr := range cv.Turns {
						turns++
						if stream && tr.Chunks < 1 {
							t.Errorf("%s turn %d: %d chunks in a streamed reply", s.Name, tr.Index, tr.Chunks)
						}
						gaps += int64(max(tr.Chunks-1, 0))
					}
				}
			}
			if convs != int64(res.Totals.Conversations) || turns != res.Totals.Turns || turns == 0 {
				t.Fatalf("the result keeps %d conversations and %d turns of %d and %d", convs, turns, res.Totals.Conversations, res.Totals.Turns)
			}
			if res.Totals.Calls != turns {
				t.Errorf("%d calls for %d turns: chats kept client-side make no call", res.Totals.Calls, turns)
			}
			if h := res.Histogram(report.HistCallKind, "new_chat"); h == nil || h.Count != 0 {
				t.Errorf("new_chat histogram %+v, want an empty one", h)
			}
			want := map[string]int64{report.HistTTFT: turns, report.HistChunkGap: gaps, report.HistStall: turns}
			for kind, n := range want {
				h := res.Histogram(kind, report.StreamName)
				switch {
				case !stream && h != nil:
					t.Errorf("%s histogram in a run that did not stream: %+v", kind, h)
				case stream && (h == nil || h.Count != n):
					t.Errorf("%s histogram %+v, want %d values", kind, h, n)
				}
			}
			if stream && gaps <= turns {
				t.Errorf("only %d gaps in %d turns: the simulated stream should send several chunks a reply", gaps, turns)
			}
		})
	}
}

// TestOpenAIQuotaCountsTurnsOnly checks that the quota estimate of an
// openai target counts no new chats: the dry run says so, and a quota of
// exactly the suite's turns (no retry allowance) is enough for the run,
// which spends it to the last call, while the same quota refuses an
// Optimly target, whose new chats are calls.
func TestOpenAIQuotaCountsTurnsOnly(t *testing.T) {
	suite := repoPath("examples/lead-capture.yaml")
	c := &cli{}
	if code := c.run(t, "run", "--dry-run", "--kind", "openai", suite); code != exitOK {
		t.Fatalf("dry run: exit %d\n%s", code, c.stderr.String())
	}
	var expected, chats, turns int64
	for _, line := range strings.Split(c.stdout.String(), "\n") {
		if strings.HasPrefix(line, "calls:") {
			f := strings.Fields(strings.NewReplacer("(", " ", ")", " ").Replace(line))
			// calls: N expected ( C new chats + T turns, ...
			expected, _ = strconv.ParseInt(f[1], 10, 64)
			chats, _ = strconv.ParseInt(f[3], 10, 64)
			turns, _ = strconv.ParseInt(f[7], 10, 64)
		}
	}
	if chats != 0 || turns == 0 || expected != turns {
		t.Fatalf("dry run: %d expected, %d new chats, %d turns; want turns only:\n%s", expected, chats, turns, c.stdout.String())
	}

	quota := strconv.FormatInt(turns, 10)
	out := filepath.Join(t.TempDir(), "result.json")
	c = &cli{}
	if code := c.run(t, "run", "--quiet", "--kind", "openai", "--quota", quota, "--retry-allowance", "0", "--out", out, suite); code != exitOK {
		t.Fatalf("run with a quota of %s turns: exit %d\nstdout:\n%s\nstderr:\n%s", quota, code, c.stdout.String(), c.stderr.String())
	}
	res := readResult(t, out)
	if b := res.Budget; b.Spent != turns || b.Limit != turns || res.Totals.Passed != res.Totals.Conversations {
		t.Errorf("budget %+v, totals %+v: want all passed with %d of %d spent", b, res.Totals, turns, turns)
	}

	c = &cli{}
	if code := c.run(t, "run", "--quiet", "--quota", quota, "--retry-allowance", "0", suite); code != exitUsage ||
		!strings.Contains(c.stderr.String(), "only "+quota+" are left") {
		t.Errorf("optimly with a quota of the turns: exit %d, want %d and a refusal\n%s", code, exitUsage, c.stderr.String())
	}
}

// TestNewChatCallsAgreesWithTransport checks that the cost the CLI works
// out before building a transport is what the transport says it is.
func TestNewChatCallsAgreesWithTransport(t *testing.T) {
	send := agent.HTTPRequestSpec{Method: "POST", Path: "/chat", Body: `{"q": {{ content }}}`}
	create := agent.HTTPRequestSpec{Method: "POST", Path: "/sessions", Body: `{}`}
	for _, spec := range []targetSpec{
		{Kind: agent.TargetOptimly},
		{Kind: agent.TargetOpenAI, OpenAI: &agent.OpenAIConfig{Model: "m"}},
		{Kind: agent.TargetHTTP, HTTP: &agent.HTTPConfig{Send: send, ReplyPath: "reply"}},
		{Kind: agent.TargetHTTP, HTTP: &agent.HTTPConfig{Send: send, ReplyPath: "reply", CreateSession: &create, SessionPath: "id"}},
	} {
		spec.URL = "http://127.0.0.1:1"
		conn, closeConn, err := buildConn(spec)
		if err != nil {
			t.Fatalf("%s: %v", spec.Kind, err)
		}
		if got, want := spec.newChatCalls(), agent.NewChatCost(conn); got != want {
			t.Errorf("%s (create session %v): CLI says %d calls a new chat, the transport %d", spec.Kind, spec.HTTP != nil && spec.HTTP.CreateSession != nil, got, want)
		}
		if spec.HTTP == nil {
			if got, want := kindNewChatCalls(spec.Kind), agent.NewChatCost(conn); got != want {
				t.Errorf("%s: kindNewChatCalls %d, transport %d", spec.Kind, got, want)
			}
		}
		closeConn()
	}
}
