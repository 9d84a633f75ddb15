package agent

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/evalrun/evalrun/internal/backoff"
)

// modelClient is the client core the Judge and the UserModel share: an
// OpenAI-compatible chat completions endpoint (POST
// {BaseURL}/v1/chat/completions, a BaseURL already ending in /v1 not
// doubled) called with its own retries, rate limit and call cap, apart
// from the agent's. op ("judge", "user model") names it in errors.
type modelClient struct {
	*core
	op, url, model string
	backoff        backoff.Policy
	limiter        interface {
		Wait(ctx context.Context) error
	}
	maxCalls int64

	rngMu sync.Mutex
	rng   *rand.Rand // guarded by rngMu
}

// newModelClient returns the client of op; the retry settings have been
// checked not negative, and zero ones take backoff.Policy's defaults.
func newModelClient(op string, o Options, model string, p backoff.Policy, limiter interface {
	Wait(ctx context.Context) error
}, maxCalls int64) (*modelClient, error) {
	c, base, err := newCore(o)
	if err != nil {
		return nil, fmt.Errorf("agent: %s: %w", op, err)
	}
	p, _ = p.WithDefaults()
	m := &modelClient{core: c, op: op, model: model, backoff: p, limiter: limiter, maxCalls: maxCalls,
		rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
	m.url = base + "/v1/chat/completions"
	if strings.HasSuffix(base, "/v1") {
		m.url = base + "/chat/completions"
	}
	return m, nil
}

// retry calls try until it succeeds, fails for good or the attempts are
// spent, waiting the agent calls' backoff (backoff.Policy.Delay) between
// attempts. A model call has no side effect but the model's tokens, so
// unlike an agent call it is re-sent after a timeout or a broken
// connection too.
func (m *modelClient) retry(ctx context.Context, try func() *Error) *Error {
	for attempt := 1; ; attempt++ {
		e := try()
		if e == nil {
			return nil
		}
		resend := e.Retryable() || e.Kind == KindTimeout || e.Kind == KindTransport
		if !resend || attempt >= m.backoff.MaxAttempts {
			return e
		}
		m.rngMu.Lock()
		d := m.backoff.Delay(attempt, e.RetryAfter, m.rng)
		m.rngMu.Unlock()
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return &Error{Op: m.op, Kind: KindCanceled, Err: ctx.Err()}
		case <-t.C:
		}
	}
}

// post sends one request with body, after the rate limit and within the
// call cap; calls adds to the call counter and returns its new value.
func (m *modelClient) post(ctx context.Context, body []byte, calls func(n int64) int64) ([]byte, int, *Error) {
	if m.limiter != nil {
		if err := m.limiter.Wait(ctx); err != nil {
			if ctx.Err() != nil {
				return nil, 0, &Error{Op: m.op, Kind: KindCanceled, Err: ctx.Err()}
			}
			return nil, 0, &Error{Op: m.op, Kind: KindThrottled, Detail: m.op + " rate limit: " + err.Error()}
		}
	}
	if n := calls(1); m.maxCalls > 0 && n > m.maxCalls {
		calls(-1)
		return nil, 0, &Error{Op: m.op, Kind: KindQuotaExhausted, Detail: fmt.Sprintf("the %s's call limit (%d) is reached", m.op, m.maxCalls)}
	}
	data, status, _, _, e := m.roundTrip(ctx, &request{op: m.op, method: http.MethodPost, url: m.url, body: body, limit: m.maxBody})
	return data, status, e
}

// badAnswer is the protocol error of an answer that says d, with the
// start of its body (redacted).
func (m *modelClient) badAnswer(d string, data []byte, status int) *Error {
	if snip := shorten(m.redact(string(data)), 80); snip != "" {
		d += "; body starts: " + snip
	}
	return &Error{Op: m.op, Kind: KindProtocol, Status: status, Detail: m.detail(d)}
}
