package agentsim

import (
	"sync"
	"time"
)

// limiter enforces the published rate limits with fixed windows aligned to
// the server's start. Only admitted calls count towards a window.
type limiter struct {
	mu        sync.Mutex
	perMinute window
	perHour   window
	newChats  window
	v1        window
}

type window struct {
	limit int64
	size  time.Duration
	start time.Time
	count int64
}

func newLimiter(l Limits, now time.Time) *limiter {
	return &limiter{
		perMinute: window{limit: l.PerMinute, size: time.Minute, start: now},
		perHour:   window{limit: l.PerHour, size: time.Hour, start: now},
		newChats:  window{limit: l.NewChatsPerMinute, size: time.Minute, start: now},
		v1:        window{limit: l.V1PerMinute, size: time.Minute, start: now},
	}
}

// roll moves the window forward to the one holding now.
func (w *window) roll(now time.Time) {
	if w.limit <= 0 {
		return
	}
	if el := now.Sub(w.start); el >= w.size {
		w.start = w.start.Add(el / w.size * w.size)
		w.count = 0
	}
}

// full reports whether the window is at its limit and, if so, how long until
// it resets.
func (w *window) full(now time.Time) (bool, time.Duration) {
	if w.limit <= 0 || w.count < w.limit {
		return false, 0
	}
	return true, w.start.Add(w.size).Sub(now)
}

// admit counts a call to ep at now, or refuses it with the wait until every
// full window it needs has reset.
func (l *limiter) admit(ep endpoint, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ws := [3]*window{&l.perMinute, &l.perHour}
	switch ep {
	case epNewChat:
		ws[2] = &l.newChats
	case epV1:
		ws[2] = &l.v1
	}
	var wait time.Duration
	refused := false
	for _, w := range ws {
		if w == nil {
			continue
		}
		w.roll(now)
		if full, d := w.full(now); full {
			refused = true
			wait = max(wait, d)
		}
	}
	if refused {
		return max(wait, time.Second), false
	}
	for _, w := range ws {
		if w != nil {
			w.count++
		}
	}
	return 0, true
}
