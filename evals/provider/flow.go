package provider

import (
	"context"
	"sync"
	"time"
)

// flow is a provider's admission control for one run, shared by all its
// cases:
//   - a 429's Retry-After pauses every request to the provider, not just
//     the one that was throttled (the server's limit is the provider's),
//     and the requests it held go out together, as one round, when it ends;
//   - the in-flight limit adapts: +1/limit per success (about one more per
//     round of requests), halved on overload without a Retry-After (a 503,
//     a timeout), at most once a second, between 1 and the configured
//     concurrency;
//   - retries come from a budget for the run (a floor, plus a share of the
//     requests made) rather than a fixed count per case, so that transient
//     faults cost time, not cases, while a provider that fails everything
//     still stops being retried.
type flow struct {
	mu         sync.Mutex
	inflight   int
	limit      float64
	max        int
	pauseUntil time.Time
	resume     *time.Timer // wakes every waiter when the pause is over
	resumed    int         // how many pauses have ended
	lastCut    time.Time
	wake       chan struct{}
	requests   int
	retries    int
	floor      int     // retries always allowed
	share      float64 // plus this share of the requests made
	now        func() time.Time
}

func newFlow(concurrency, retryFloor int) *flow {
	return &flow{limit: float64(concurrency), max: concurrency, wake: make(chan struct{}), floor: retryFloor, share: 0.5, now: time.Now}
}

// acquire waits for a slot: until any pause is over and fewer requests than
// the limit are in flight. The requests a pause held go out together when
// it ends, as one round, woken by one timer: each on its own timer, they
// went out over a few milliseconds, and a throttle answered within them
// paused the rest again, leaving rounds of two or three requests per
// pause. (A round's requests were all held until the server's time; none
// is sent while a pause that began before it was released holds.)
func (f *flow) acquire(ctx context.Context) error {
	held := -1 // the pause this request is waiting out, while it is
	for {
		f.mu.Lock()
		now := f.now()
		released := held >= 0 && f.resumed > held
		held = -1
		if wait := f.pauseUntil.Sub(now); wait > 0 && !released {
			if f.resume == nil {
				f.resume = time.AfterFunc(wait, f.resumeAll)
			}
			held = f.resumed
			wake := f.wake
			f.mu.Unlock()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-wake:
			}
			continue
		}
		if f.inflight < max(1, int(f.limit)) {
			f.inflight++
			f.requests++
			f.mu.Unlock()
			return nil
		}
		wake := f.wake
		f.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		}
	}
}

// release ends a request: ok (a success); backoff, a sign of overload
// (a throttle with the server's Retry-After, 0 when it gave none, a 503, a
// timeout); or another failure, which changes nothing.
func (f *flow) release(ok, backoff bool, retryAfter time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inflight--
	now := f.now()
	switch {
	case ok:
		f.limit = min(float64(f.max), f.limit+1/f.limit)
	case backoff && retryAfter > 0:
		// The server said how long: every request waits that long; the
		// limit stays (it is the server's window, not congestion).
		if until := now.Add(retryAfter); until.After(f.pauseUntil) {
			f.pauseUntil = until
		}
	case backoff:
		// A fault without a Retry-After is congestion: halve the limit, at
		// most once a second (the requests in flight then are the same
		// congestion, not several).
		if now.After(f.lastCut) {
			f.limit = max(1, f.limit/2)
			f.lastCut = now.Add(time.Second)
		}
	}
	close(f.wake)
	f.wake = make(chan struct{})
}

// resumeAll wakes every waiter at the end of a pause (one that was extended
// meanwhile arms the timer again).
func (f *flow) resumeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resume = nil
	if !f.now().Before(f.pauseUntil) {
		f.resumed++ // else the pause was extended: the waiters arm it again
	}
	close(f.wake)
	f.wake = make(chan struct{})
}

// retry takes one retry from the run's budget; false when it is spent.
func (f *flow) retry() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.retries >= f.floor+int(f.share*float64(f.requests)) {
		return false
	}
	f.retries++
	return true
}
