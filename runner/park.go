package runner

import "time"

// parkAfter is the shortest think time for which a conversation gives up
// its goroutine: shorter waits sleep on the worker (a timer and a hand-off
// cost more than they save).
const parkAfter = time.Millisecond

// park sets cv aside until wake: a timer resumes it on a worker then, or
// wakeParked does as soon as the run stops. It reports false, and parks
// nothing, when the run is stopping (the caller then goes on at once).
// After true, the caller must not touch cv: it may already run elsewhere.
func (r *run) park(cv *convo, wake time.Time) bool {
	r.parkMu.Lock()
	defer r.parkMu.Unlock()
	if r.stopping {
		return false
	}
	if r.parked == nil {
		r.parked = map[*convo]struct{}{}
	}
	r.parked[cv] = struct{}{}
	cv.timer = time.AfterFunc(time.Until(wake), func() { r.resume(cv) })
	return true
}

// resume puts a parked conversation back on a worker, unless it was
// resumed already (the timer and a stop race for it).
func (r *run) resume(cv *convo) {
	r.parkMu.Lock()
	_, ok := r.parked[cv]
	delete(r.parked, cv)
	r.parkMu.Unlock()
	if ok {
		r.pool.start(func() bool { return r.drive(cv) }, cv.done)
	}
}

// wakeParked resumes every parked conversation at once (the run stops:
// they end as cut short) and keeps conversations from parking from now on.
func (r *run) wakeParked() {
	r.parkMu.Lock()
	r.stopping = true
	var wake []*convo
	for cv := range r.parked {
		if cv.timer.Stop() {
			wake = append(wake, cv)
		}
	}
	r.parkMu.Unlock()
	for _, cv := range wake {
		r.resume(cv)
	}
}
