package runner

import "sync"

// workers runs the conversations of one Run on goroutines that are reused:
// a goroutine that has finished a conversation waits for the next one
// instead of exiting. A conversation's goroutine grows its stack through
// the HTTP client and the JSON decoder; a new goroutine per conversation
// paid for that growth (copying the stack several times) on every
// conversation, a reused one pays once. At most as many goroutines exist as
// conversations are running (not parked), plus maxIdleWorkers.
type workers struct {
	mu   sync.Mutex
	idle []*worker // waiting for work, most recently idle last
	wg   sync.WaitGroup
}

type worker struct{ jobs chan job }

// maxIdleWorkers caps the goroutines kept waiting for work: when most
// conversations are parked in their think time (park.go), the workers that
// ran them end instead of keeping their stacks.
const maxIdleWorkers = 64

// job is one conversation, or a part of one: run reports whether the
// conversation is over; then done is called once the worker is ready for
// the next job. A conversation that is not over (parked) calls nothing: it
// is started again when it resumes.
type job struct {
	run  func() bool
	done func()
}

// start runs run on an idle worker or a new goroutine, then, if run
// reports true, calls done.
func (ws *workers) start(run func() bool, done func()) {
	j := job{run: run, done: done}
	ws.mu.Lock()
	if n := len(ws.idle); n > 0 {
		w := ws.idle[n-1]
		ws.idle[n-1] = nil
		ws.idle = ws.idle[:n-1]
		ws.mu.Unlock()
		w.jobs <- j // buffered: an idle worker's channel is empty
		return
	}
	ws.mu.Unlock()
	w := &worker{jobs: make(chan job, 1)}
	ws.wg.Add(1)
	go ws.loop(w, j)
}

func (ws *workers) loop(w *worker, j job) {
	defer ws.wg.Done()
	for {
		over := j.run()
		// Become idle before done (which frees the schedule's slot), so
		// the conversation that slot lets start finds this goroutine.
		ws.mu.Lock()
		if len(ws.idle) >= maxIdleWorkers {
			ws.mu.Unlock()
			if over {
				j.done()
			}
			return
		}
		ws.idle = append(ws.idle, w)
		ws.mu.Unlock()
		if over {
			j.done()
		}
		var ok bool
		if j, ok = <-w.jobs; !ok {
			return
		}
	}
}

// stop ends the idle workers and waits for every worker to end. Call it
// once every conversation is over (every done called); start must not be
// called after.
func (ws *workers) stop() {
	ws.mu.Lock()
	idle := ws.idle
	ws.idle = nil
	ws.mu.Unlock()
	for _, w := range idle {
		close(w.jobs)
	}
	ws.wg.Wait()
}
