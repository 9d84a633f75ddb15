package runner

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/scenarios"
)

// Run replays every conversation of suite against opts.Conn and returns a
// Summary once every conversation has ended and every goroutine it started
// has stopped.
//
// The conversations are the suite's in a fixed run order, numbered from 1:
// the first repeat of every scenario, then the second, ... (a scenario's
// repeat: setting), that whole order once, or opts.Repeat times, or — with
// opts.Duration — over and over until the duration is up; opts.MaxConversations
// keeps only the first ones. A conversation starts when the Schedule allows it
// and its worst case (new chat + turns; a chat the transport keeps
// client-side, agent.NewChatCost 0, is no call) is reserved from the Budget; if it
// cannot be reserved it is reported NotRun with reason "budget", except in a
// run with a Duration, which then stops scheduling (Summary.EndedBy is
// EndBudget). It then opens a chat and sends its turns in order,
// each after its think time, evaluating the expectations on every reply. A
// failed turn makes the conversation Failed and, unless its scenario says
// on_fail: continue, ends it. A call that still fails after its retries ends
// the conversation as Throttled (429) or Errored (anything else).
//
// With a Duration, the conversations still going when it is up may finish
// within opts.Grace; then their calls in flight are cancelled and they are
// reported NotRun with reason "grace".
//
// The Observer gets every call after its last attempt and every conversation
// exactly once, including those that never started.
//
// When ctx is cancelled, no conversation starts and no call (or retry) is
// sent any more; calls in flight finish or time out, unless opts.Abort is
// done, which cancels them. Conversations cut short, and those never started,
// are reported NotRun with reason "interrupted", and Run returns an error
// wrapping ErrInterrupted. When the server says the quota is used up, the run
// stops the same way with reason "quota exhausted" and Run returns an error
// wrapping ErrQuotaExhausted. In every case the returned Summary is non-nil.
//
// A conversation's outcome is decided by the first thing that goes wrong in
// it: a conversation Failed on an earlier turn (on_fail: continue) stays
// Failed if it is later cut short or errors.
func Run(ctx context.Context, suite *scenarios.Suite, opts Options) (*Summary, error) {
	begin := time.Now()
	sum := &Summary{RunID: opts.RunID, Outcomes: map[Outcome]int{}}
	if suite == nil {
		return sum, errors.New("runner: suite is nil")
	}
	opts, err := opts.withDefaults(begin)
	if err != nil {
		return sum, err
	}
	if err := checkSimulated(suite, opts.User); err != nil {
		return sum, err
	}
	sum.RunID = opts.RunID
	src := newSource(newOrder(suite), opts)

	r := &run{opts: opts, sum: sum}
	r.stopCtx, r.stop = context.WithCancelCause(ctx)
	defer r.stop(nil)
	var cancelCalls context.CancelFunc
	r.callBase, cancelCalls = context.WithCancel(context.WithoutCancel(ctx))
	defer cancelCalls()
	if opts.Abort != nil {
		unregister := context.AfterFunc(opts.Abort, cancelCalls)
		defer unregister()
	}
	spent0 := opts.Budget.Spent()

	// With a Duration, scheduling stops at the deadline, and the calls of
	// the conversations still going are cancelled a grace period later.
	schedCtx := r.stopCtx
	if opts.Duration > 0 {
		deadline := begin.Add(opts.Duration)
		// The deadline ends the arrivals, without cancelling: an open model
		// that fell behind still starts those due before it (endContext).
		schedCtx = withEnd(r.stopCtx, deadline)
		cut := time.AfterFunc(time.Until(deadline.Add(opts.Grace)), func() {
			r.graceOver.Store(true)
			r.stop(errGraceOver)
			cancelCalls()
		})
		defer cut.Stop()
	}

	var wg sync.WaitGroup
	var schedErr error
	// Parked conversations wake as soon as the run stops.
	unpark := context.AfterFunc(r.stopCtx, r.wakeParked)
	defer unpark()
	for {
		p, ok := src.peek()
		if !ok {
			sum.EndedBy = EndSuite
			break
		}
		scheduled, err := opts.Schedule.Next(schedCtx)
		var missed *MissedArrival
		if errors.As(err, &missed) {
			// Due before the run stopped, never started: reported, with
			// its lag up to now.
			src.advance()
			reason := r.stopReason()
			if missed.Capped {
				reason = ReasonMaxInFlight
			}
			c := p.conversation(NotRun, reason)
			c.Scheduled, c.End = missed.At, time.Now()
			r.finish(c, false)
			continue
		}
		if err != nil {
			switch {
			case r.graceOver.Load():
				sum.EndedBy = EndDuration
			case r.stopCtx.Err() != nil:
			case errors.Is(err, ErrScheduleEnded):
				sum.EndedBy = EndSchedule
			case schedCtx.Err() != nil || (opts.Duration > 0 && errors.Is(err, context.DeadlineExceeded)):
				sum.EndedBy = EndDuration
			default:
				schedErr = fmt.Errorf("runner: schedule: %w", err)
			}
			break
		}
		if r.stopCtx.Err() != nil {
			opts.Schedule.Done()
			if src.looping {
				// Its start was due: report it (a run not bounded by time
				// reports it with the rest below).
				src.advance()
				c := p.conversation(NotRun, r.stopReason())
				c.Scheduled, c.End = scheduled, time.Now()
				r.finish(c, false)
			}
			break
		}
		res, ok := opts.Budget.Reserve(p.calls(opts.newChatCalls))
		if !ok && src.looping {
			// A run bounded by time is bounded by the budget too: it stops
			// scheduling instead of failing conversations.
			opts.Schedule.Done()
			sum.EndedBy = EndBudget
			break
		}
		src.advance()
		if !ok {
			opts.Schedule.Done()
			r.finish(p.conversation(NotRun, ReasonBudget), false)
			continue
		}
		wg.Add(1)
		done := func() {
			opts.Schedule.Done()
			wg.Done()
		}
		r.pool.start(func() bool { return r.converse(p, scheduled, res, done) }, done)
	}
	if sum.EndedBy == "" && !src.looping {
		// The conversations a stop kept from starting are reported too (a
		// run bounded by time has no such conversations: they never existed).
		reason := r.stopReason()
		if schedErr != nil {
			reason = schedErr.Error()
		} else if reason == ReasonInterrupted {
			r.interrupted.Store(true)
		}
		for p, ok := src.peek(); ok; p, ok = src.peek() {
			src.advance()
			r.finish(p.conversation(NotRun, reason), false)
		}
	}
	if st, ok := opts.Schedule.(interface{ Stats() ScheduleStats }); ok {
		sum.Schedule = st.Stats()
	}
	wg.Wait()
	r.pool.stop()

	sum.Attempts = r.attempts.Load()
	if opts.Budget != nil {
		sum.Spent = opts.Budget.Spent() - spent0
	} else {
		sum.Spent = sum.Attempts
	}
	sum.Interrupted = r.interrupted.Load()
	sum.Elapsed = time.Since(begin)
	r.mu.Lock()
	haltErr, haltCause := r.haltErr, r.haltCause
	r.mu.Unlock()
	switch {
	case haltCause == ErrQuotaExhausted:
		sum.StopReason = StopQuotaExhausted
		return sum, fmt.Errorf("runner: %w: %w", ErrQuotaExhausted, haltErr)
	case haltCause == ErrRejected:
		sum.StopReason = StopRejected
		return sum, fmt.Errorf("runner: %w: %w", ErrRejected, haltErr)
	case sum.Interrupted:
		sum.StopReason = StopInterrupted
		return sum, fmt.Errorf("runner: %w: %w", ErrInterrupted, context.Cause(ctx))
	case schedErr != nil:
		return sum, schedErr
	}
	return sum, nil
}

// errGraceOver is the cause of a run's stop when its grace period is over.
var errGraceOver = errors.New("the grace period after the duration is over")

// source hands out the conversations of a run in run order, each made as it
// is handed out: the suite's order, repeated (in pass k a scenario of repeat
// r has iterations k×r … k×r+r−1, so each scenario counts 0..n−1), up to
// its limit.
type source struct {
	pass    *order
	limit   int64 // conversations in all; -1 for no limit
	next    int64 // conversations handed out
	looping bool  // bounded by time: conversations not started are not part of the run
	shard   Shard // hand out only this shard's conversations (limit counts them)
}

func newSource(pass *order, o Options) *source {
	s := &source{pass: pass, limit: pass.total, looping: o.Duration > 0}
	switch {
	case o.Repeat > 0:
		s.limit = satMul(pass.total, int64(o.Repeat))
	case s.looping:
		s.limit = -1
	}
	if pass.total == 0 {
		s.limit = 0
	}
	s.shard, s.limit = o.Shard, o.Shard.Conversations(s.limit)
	if m := int64(o.MaxConversations); m > 0 && (s.limit < 0 || m < s.limit) {
		s.limit = m
	}
	return s
}

// peek returns the next conversation without handing it out.
func (s *source) peek() (planned, bool) {
	if s.limit >= 0 && s.next >= s.limit {
		return planned{}, false
	}
	per := s.pass.total
	g := s.shard.global(s.next) // the run-wide index, the same in every shard
	p := s.pass.at(g % per)
	p.ID = int(g + 1)
	// Each scenario counts its own iterations 0..n-1 over the passes: a
	// scenario with repeat: 2 has iterations 2 and 3 in the second pass,
	// whatever the other scenarios' repeat.
	p.Iteration += int(g/per) * repeats(p.Scenario)
	return p, true
}

// advance hands out the conversation peek returned.
func (s *source) advance() { s.next++ }

// run is the state of one Run shared by its conversations.
type run struct {
	opts Options
	sum  *Summary // counts guarded by mu

	// stopCtx is done when no new work may start: Run's context was
	// cancelled or the quota is exhausted.
	stopCtx context.Context
	stop    context.CancelCauseFunc
	// callBase is the parent of every call's context; it is done only when
	// Options.Abort is (calls in flight survive a plain interrupt).
	callBase context.Context

	// pool runs the conversations; parked holds those waiting for a
	// turn's think time without a goroutine (park.go).
	pool     workers
	parkMu   sync.Mutex
	parked   map[*convo]struct{}
	stopping bool // wakeParked ran: park no more

	attempts    atomic.Int64
	halted      atomic.Bool
	interrupted atomic.Bool
	graceOver   atomic.Bool

	mu sync.Mutex
	// The first answer that halted the run, and which halt it was
	// (ErrQuotaExhausted or ErrRejected).
	haltErr   *agent.Error
	haltCause error
}

// conversation returns the record of a conversation that did not start.
func (p planned) conversation(o Outcome, reason string) *Conversation {
	return &Conversation{ID: p.ID, Scenario: p.Scenario, Iteration: p.Iteration, Outcome: o, Reason: reason}
}

// stopReason says why the run is stopping, for conversations it cuts short.
func (r *run) stopReason() string {
	if r.halted.Load() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.haltCause == ErrRejected {
			return ReasonRejected
		}
		return ReasonQuotaExhausted
	}
	if r.graceOver.Load() {
		return ReasonGrace
	}
	return ReasonInterrupted
}

// halt stops the run after an answer that every further call would get too:
// the quota is used up (ErrQuotaExhausted), or the key is rejected
// (ErrRejected).
func (r *run) halt(cause error, err *agent.Error) {
	r.mu.Lock()
	if r.haltErr == nil {
		r.haltErr, r.haltCause = err, cause
	}
	r.mu.Unlock()
	r.halted.Store(true)
	r.stop(cause)
}

// haltCause says whether an answer must stop the whole run: nil when not.
func haltCause(err *agent.Error) error {
	switch {
	case err.Kind == agent.KindQuotaExhausted:
		return ErrQuotaExhausted
	case err.Kind == agent.KindClient && (err.Status == 401 || err.Status == 403):
		return ErrRejected
	}
	return nil
}

// finish counts a conversation and reports it to the Observer.
func (r *run) finish(c *Conversation, started bool) {
	r.mu.Lock()
	r.sum.Outcomes[c.Outcome]++
	r.sum.Conversations++
	if started {
		r.sum.Started++
	}
	if c.Outcome != NotRun {
		r.sum.Completed++
	}
	r.mu.Unlock()
	r.opts.Observer.ConversationDone(c)
}

// converse starts one conversation that has its reservation, on a worker,
// and reports true when it is over. A conversation that must wait for a
// turn's think time longer than parkAfter is parked (park.go): the worker
// is free meanwhile and the conversation resumes on a worker when the time
// comes, so a conversation in its think time holds no goroutine.
func (r *run) converse(p planned, scheduled time.Time, res *Reservation, done func()) bool {
	// One allocation for the conversation's record and its state.
	cv := &convo{res: res, done: done}
	cv.rec = Conversation{ID: p.ID, Scenario: p.Scenario, Iteration: p.Iteration, Scheduled: scheduled, Start: time.Now(),
		Turns: make([]TurnResult, 0, p.Scenario.UserTurns())}
	cv.c = &cv.rec
	if p.Scenario.Simulate != nil {
		cv.rec.Simulation = &Simulation{Ended: EndStopped, Reason: "a turn ended the conversation before the simulated user judged its goal"}
	}
	if so, ok := r.opts.Observer.(StartObserver); ok {
		so.ConversationStarted(cv.c)
	}
	return r.drive(cv)
}

// drive advances a conversation until it ends (true) or is parked (false).
func (r *run) drive(cv *convo) bool {
	for {
		wake, over := r.replay(cv)
		if over {
			cv.res.Release()
			cv.c.End = time.Now()
			r.finish(cv.c, true)
			return true
		}
		if time.Until(wake) >= parkAfter && r.park(cv, wake) {
			return false
		}
		sleepUntil(r.stopCtx, wake) // replay sees a stop itself
	}
}

// settle gives the conversation its outcome unless it already has one.
func settle(c *Conversation, o Outcome, reason string) {
	if c.Outcome == "" {
		c.Outcome, c.Reason = o, reason
	}
}

// convo is a conversation in progress: replay's state between turns.
type convo struct {
	c    *Conversation // &rec
	res  *Reservation
	done func() // frees the conversation's slot once it is over

	// rec, and the values behind rng and env, are kept here to save
	// allocations; obs is the current turn's observation.
	rec     Conversation
	pcg     rand.PCG
	rngv    rand.Rand
	envv    scenarios.Env
	obs     scenarios.Observation
	rng     *rand.Rand
	env     *scenarios.Env
	session string // the metadata session id of its messages
	chat    agent.Chat
	prevEnd time.Time
	opened  bool // the chat is open
	next    int  // the next turn
	waited  bool // the next turn's think time is over

	timer *time.Timer // while parked

	// sim is the simulated user's state (simulate.go).
	sim simState
}

// replay opens the chat and sends the turns, filling in cv.c. It returns
// over when the conversation is over, or the time the next turn is due
// (its think time after the previous reply) for the caller to wait for,
// after which it goes on.
func (r *run) replay(cv *convo) (wake time.Time, over bool) {
	c, res := cv.c, cv.res
	sc := c.Scenario
	if !cv.opened {
		cv.opened = true
		cv.pcg.Seed(uint64(r.opts.Seed), uint64(c.ID))
		cv.rngv = *rand.New(&cv.pcg)
		cv.rng = &cv.rngv
		cv.envv = scenarios.Env{
			Vars:         sc.Vars,
			Captures:     map[string]string{},
			RunID:        r.opts.RunID,
			Scenario:     sc.Name,
			Iteration:    c.Iteration,
			Conversation: c.ID,
			Seed:         r.opts.Seed,
			Now:          r.opts.start,
		}
		cv.env = &cv.envv
		cv.session = r.opts.RunID + "-" + strconv.Itoa(c.ID)
		c.ClientID = "evalrun-" + cv.session
		if sc.ClientID != nil {
			id, err := sc.ClientID.Render(cv.env)
			if err != nil {
				settle(c, Errored, fmt.Sprintf("client_id: %v", err))
				return time.Time{}, true
			}
			c.ClientID = id
		}

		chat, prevEnd, ok := r.openChat(c, res, cv.rng)
		if !ok {
			return time.Time{}, true
		}
		c.ChatID = chat.ID
		cv.chat, cv.prevEnd = chat, prevEnd
	}
	rng, env, chat := cv.rng, cv.env, cv.chat

	for ; cv.next < sc.UserTurns(); cv.next++ {
		i, turn := cv.next, turnAt(sc, cv.next)
		if i >= len(sc.Turns) && !cv.sim.ready {
			// The simulated user writes (or ends) before the think time.
			if over := r.simulatedMessage(cv, i); over {
				return time.Time{}, true
			}
			if cv.sim.done {
				break
			}
		}
		// A turn is meant to be sent its think time after the previous reply.
		intended := cv.prevEnd.Add(turn.Think)
		if !cv.waited && time.Until(intended) > 0 {
			cv.waited = true
			return intended, false
		}
		cv.waited = false
		if r.stopCtx.Err() != nil {
			settle(c, NotRun, r.cutShort())
			return time.Time{}, true
		}
		text, by := cv.sim.message, cv.sim.by
		if i < len(sc.Turns) {
			var err error
			if text, err = turn.User.Render(env); err != nil {
				settle(c, Errored, fmt.Sprintf("turn %d: render user message: %v", i+1, err))
				return time.Time{}, true
			}
			by = ""
			if sc.Simulate != nil {
				by = ByScript
			}
		}
		cv.sim.ready = false
		msg := agent.Message{
			Content:     text,
			ClientID:    c.ClientID,
			SessionID:   cv.session,
			Source:      "evalrun",
			ToolResults: turn.ToolResults,
		}
		if o := sc.OpenAI; o != nil {
			msg.Options = &agent.RequestOptions{Body: o.Body, Headers: o.Headers}
		}
		var reply agent.Reply
		out := r.call(c, CallTurn, i, intended, res, rng, func(ctx context.Context) error {
			var err error
			reply, err = r.opts.Conn.Send(ctx, chat, msg)
			return err
		})
		if out.call == nil { // nothing was sent
			r.fail(c, out, fmt.Sprintf("turn %d: ", i+1))
			return time.Time{}, true
		}
		tr := TurnResult{Index: i, Sent: text, By: by, Attempts: out.call.Attempts, Latency: out.call.Latency, Service: out.call.Service}
		if !out.ok() {
			tr.Outcome, tr.Error = r.fail(c, out, fmt.Sprintf("turn %d: ", i+1))
			c.Turns = append(c.Turns, tr)
			return time.Time{}, true
		}
		obs := observation(&cv.obs, &reply, out.call.Service)
		obs.User = text
		tr.Reply, tr.Tools, tr.Handoff, tr.Tokens = reply.Text, reply.Tools, reply.Handoff, reply.TokensUsed
		tr.RequestID, tr.TraceID = reply.RequestID, reply.TraceID
		tr.TTFT, tr.Chunks, tr.Gaps, tr.MaxGap = reply.TTFT, reply.Chunks, reply.Gaps, reply.MaxGap
		tr.OutputTokens = reply.CompletionTokens
		tr.Raw = reply.Raw // not copied: the Conn hands its reply over (agent.Reply.Raw)
		if turn.NeedsHistory() {
			if stop := r.readHistory(c, chat, i, res, rng, obs); stop {
				c.Turns = append(c.Turns, tr)
				return time.Time{}, true
			}
		}
		if r.opts.evaluate != nil {
			tr.Verdicts = r.opts.evaluate(turn, obs, env.Captures)
		} else if len(turn.Expect) > 0 || len(turn.Captures) > 0 {
			tr.Verdicts = turn.EvaluateContext(r.callBase, obs, env.Captures, r.opts.Judge)
		}
		// A failed expectation is a verdict on the agent; one that could
		// not be decided (the judge failed) is an error, unless another
		// expectation failed anyway.
		tr.Outcome = Passed
		if o, v := verdictsOutcome(tr.Verdicts); o != Passed {
			tr.Outcome = o
			settle(c, o, fmt.Sprintf("turn %d: %s", i+1, verdictWhy(v)))
		}
		c.Turns = append(c.Turns, tr)
		if tr.Outcome == Errored || (tr.Outcome == Failed && sc.OnFail != scenarios.OnFailContinue) {
			return time.Time{}, true
		}
		cv.prevEnd = out.end
	}
	if over := r.endSimulation(cv); over {
		return time.Time{}, true
	}
	r.checkConversation(cv)
	settle(c, Passed, "")
	return time.Time{}, true
}

// verdictsOutcome is the outcome that verdicts decide, and the verdict
// that decides it: the first failed one (Failed: a verdict on the agent),
// else the first undecided one (Errored: the judge failed), else Passed.
func verdictsOutcome(vs []scenarios.Verdict) (Outcome, scenarios.Verdict) {
	o, why := Passed, scenarios.Verdict{}
	for _, v := range vs {
		switch {
		case v.Undecided:
			if o == Passed {
				o, why = Errored, v
			}
		case !v.Passed:
			return Failed, v
		}
	}
	return o, why
}

// verdictWhy is a failed verdict on one line: the expectation and why.
func verdictWhy(v scenarios.Verdict) string {
	if v.Reason != "" {
		return v.Expectation + ": " + v.Reason
	}
	return v.Expectation
}

// observation sets obs (the conversation's, reused from turn to turn) to
// what the expectations of a turn see of a reply, and returns it. Its
// latency is the agent's own answer time (the last attempt's service time),
// so that max_latency judges the agent, not the run's pacing.
func observation(obs *scenarios.Observation, reply *agent.Reply, service time.Duration) *scenarios.Observation {
	*obs = scenarios.Observation{
		Text:       reply.Text,
		Handoff:    reply.Handoff,
		TokensUsed: reply.TokensUsed,
		Latency:    service,
		Raw:        reply.Raw,
		Tools:      toolsOf(reply.Tools),
	}
	return obs
}

// toolsOf is what expectations and the simulated user see of a reply's
// tool executions; nil when there are none.
func toolsOf(ts []agent.ToolExecution) []scenarios.Tool {
	if len(ts) == 0 {
		return nil
	}
	out := make([]scenarios.Tool, len(ts))
	for i, t := range ts {
		out[i] = scenarios.Tool{Name: t.Tool, Status: t.Status, Data: t.Data}
	}
	return out
}

// callOutcome is how one call (all its attempts) ended.
type callOutcome struct {
	call    *Call        // nil when no attempt was sent
	err     *agent.Error // the last attempt's error; nil on success
	other   error        // a failure before sending (e.g. a broken limiter)
	stopped bool         // the run stopped or calls were aborted before it could succeed
	budget  bool         // the reservation did not cover the first attempt
	end     time.Time    // when the last attempt ended
}

func (o callOutcome) ok() bool {
	return o.call != nil && o.err == nil && o.other == nil && !o.stopped && !o.budget
}

// cutShort returns the reason for a conversation the run's stop cuts short,
// noting that the run was interrupted when it was.
func (r *run) cutShort() string {
	reason := r.stopReason()
	if reason == ReasonInterrupted {
		r.interrupted.Store(true)
	}
	return reason
}

// fail settles the conversation after an unsuccessful call and returns the
// call's own outcome and reason. Reasons of NotRun are the bare Reason*
// constants; others are prefixed with where it happened.
func (r *run) fail(c *Conversation, o callOutcome, where string) (Outcome, string) {
	outcome, reason := r.failure(o)
	if outcome == NotRun {
		settle(c, outcome, reason)
	} else {
		settle(c, outcome, where+reason)
	}
	return outcome, reason
}

// failure turns an unsuccessful call into an outcome and a reason.
func (r *run) failure(o callOutcome) (Outcome, string) {
	switch {
	case o.err != nil && o.err.Kind == agent.KindQuotaExhausted:
		return NotRun, ReasonQuotaExhausted
	case o.stopped:
		return NotRun, r.cutShort()
	case o.budget:
		return NotRun, ReasonBudget
	case o.other != nil:
		return Errored, o.other.Error()
	case o.err != nil && o.err.Kind == agent.KindThrottled:
		return Throttled, describe(o.err, o.call)
	case o.err != nil:
		return Errored, describe(o.err, o.call)
	}
	return Errored, "call failed"
}

// describe says what went wrong with a call, without the operation (the
// caller says where), e.g. "throttled (HTTP 429) after 4 attempts".
func describe(e *agent.Error, c *Call) string {
	s := e.Kind.String()
	if (e.Kind == agent.KindTransport || e.Kind == agent.KindTimeout) && !e.Unsent {
		s += ", not re-sent (the agent may have processed it)"
	}
	if e.Status != 0 {
		s += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	if c != nil && c.Attempts > 1 {
		s += fmt.Sprintf(" after %d attempts", c.Attempts)
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// call sends one agent call with its retries: each attempt waits for the
// limiters, is charged to the budget (the first to the conversation's
// reservation, retries to the retry allowance) and only then is sent. The
// call is reported to the Observer when at least one attempt was sent.
func (r *run) call(c *Conversation, kind CallKind, turn int, intended time.Time, res *Reservation, rng *rand.Rand, send func(context.Context) error) callOutcome {
	var own Limiter // paces this kind of call only
	if kind == CallNewChat {
		own = r.opts.NewChatLimiter
	}
	rec := &Call{Kind: kind, Scenario: c.Scenario.Name, Conversation: c.ID, Turn: turn, Intended: intended}
	var out callOutcome
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			if attempt > r.opts.Retry.MaxAttempts || !r.opts.Budget.hasRetryAllowance() {
				break
			}
			if !sleepUntil(r.stopCtx, time.Now().Add(r.opts.Retry.delay(attempt-1, out.err.RetryAfter, rng))) {
				out.stopped = true
				break
			}
		}
		if r.stopCtx.Err() != nil {
			out.stopped = true
			break
		}
		if err := waitCall(r.stopCtx, r.opts.Limiters, own); err != nil {
			if r.stopCtx.Err() != nil {
				out.stopped = true
			} else {
				out.other = fmt.Errorf("rate limiter: %w", err)
			}
			break
		}
		if attempt == 1 && !res.Charge() {
			out.budget = true
			break
		}
		if attempt > 1 && !r.opts.Budget.ChargeRetry() {
			break
		}
		ctx, cancel := r.callContext()
		start := time.Now()
		err := send(ctx)
		out.end = time.Now()
		cancel()
		r.attempts.Add(1)
		rec.Attempts = attempt
		rec.Service = out.end.Sub(start)
		if err == nil {
			out.err = nil
			rec.Status = 200
			break
		}
		out.err = asAgentError(err, kind)
		if out.err.Kind == agent.KindCanceled && r.callBase.Err() == nil && ctx.Err() == context.DeadlineExceeded {
			// The per-call timeout (CallTimeout), not the caller, ended it.
			out.err = callTimedOut(out.err, r.opts.CallTimeout)
		}
		rec.Status = out.err.Status
		if cause := haltCause(out.err); cause != nil {
			r.halt(cause, out.err)
			break
		}
		if r.callBase.Err() != nil {
			out.stopped = true
			break
		}
		if !out.err.Retryable() {
			break
		}
	}
	if rec.Attempts > 0 {
		rec.Latency = out.end.Sub(intended)
		rec.Err = out.err
		out.call = rec
		r.opts.Observer.CallDone(rec)
	}
	return out
}

// callContext returns the context of one call attempt: cancelled by Abort,
// bounded by CallTimeout.
func (r *run) callContext() (context.Context, context.CancelFunc) {
	if r.opts.CallTimeout > 0 {
		return context.WithTimeout(r.callBase, r.opts.CallTimeout)
	}
	// The base itself: a derived context per call would cost an allocation
	// and a registration with the base for nothing.
	return r.callBase, func() {}
}

// callTimedOut reports a call that CallTimeout cut short as a timeout: the
// Conn saw only its context end. Unsent is kept: a call that timed out
// before its request was written may still be re-sent.
func callTimedOut(e *agent.Error, d time.Duration) *agent.Error {
	t := *e
	t.Kind = agent.KindTimeout
	t.Err = fmt.Errorf("no complete response within %v: %w", d, context.DeadlineExceeded)
	return &t
}

// asAgentError returns err as an *agent.Error; errors of a Conn that does
// not classify them count as transport failures (timeouts as timeouts).
func asAgentError(err error, kind CallKind) *agent.Error {
	var ae *agent.Error
	if errors.As(err, &ae) {
		return ae
	}
	op := "send"
	if kind == CallNewChat {
		op = "new-chat"
	}
	k := agent.KindTransport
	if errors.Is(err, context.DeadlineExceeded) {
		k = agent.KindTimeout
	}
	return &agent.Error{Kind: k, Op: op, Err: err}
}

// sleepUntil waits until t and reports true, or reports false as soon as ctx
// is done.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return ctx.Err() == nil
	case <-ctx.Done():
		return false
	}
}

// readHistory reads the chat's history back from the server into obs for a
// turn with a history expectation: one more agent call, charged to the
// conversation's reservation like any other. A failed read becomes
// obs.HistoryError (the expectation fails with it); it reports true when
// the conversation must end instead (budget, quota, interrupt).
func (r *run) readHistory(c *Conversation, chat agent.Chat, turn int, res *Reservation, rng *rand.Rand, obs *scenarios.Observation) bool {
	hr, ok := r.opts.Conn.(agent.HistoryReader)
	if !ok {
		obs.HistoryError = "this target's transport cannot read a chat's history (only Optimly targets can)"
		return false
	}
	var msgs []agent.HistoryMessage
	out := r.call(c, CallHistory, turn, time.Now(), res, rng, func(ctx context.Context) error {
		var err error
		msgs, err = hr.History(ctx, chat)
		return err
	})
	if out.ok() {
		for _, m := range msgs {
			obs.History = append(obs.History, scenarios.HistoryEntry{Sender: m.Sender, Content: m.Content})
		}
		return false
	}
	if outcome, _ := r.failure(out); outcome == NotRun || out.call == nil {
		r.fail(c, out, fmt.Sprintf("turn %d: history: ", turn+1))
		return true
	}
	if out.err != nil {
		obs.HistoryError = describe(out.err, out.call)
	} else {
		obs.HistoryError = "call failed"
	}
	return false
}
