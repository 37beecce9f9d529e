package provider

import (
	"context"
	"sync"
	"testing"
	"time"
)

// A throttle's Retry-After pauses every request, not only the throttled
// one; overload without one halves the in-flight limit (once a second) and
// successes grow it back; retries come from the run's budget.
func TestFlow(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	f := newFlow(8, 2)
	f.now = func() time.Time { return now }
	ctx := context.Background()
	for range 8 {
		if err := f.acquire(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// The ninth waits for a slot.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	if err := f.acquire(short); err == nil {
		t.Error("a ninth request got a slot at concurrency 8")
	}
	cancel()
	// A 429 with Retry-After 30 s: the limit stays, everything pauses.
	f.release(false, true, 30*time.Second)
	if f.limit != 8 || !f.pauseUntil.Equal(now.Add(30*time.Second)) {
		t.Fatalf("after a throttle: limit %v, pause until %v", f.limit, f.pauseUntil)
	}
	short, cancel = context.WithTimeout(ctx, 20*time.Millisecond)
	if err := f.acquire(short); err == nil {
		t.Error("a request went out during the server's pause")
	}
	cancel()
	now = now.Add(31 * time.Second)
	// Overload without a Retry-After (a 503, a timeout): halved, once a second.
	f.release(false, true, 0)
	f.release(false, true, 0)
	if f.limit != 4 {
		t.Fatalf("two overloads in a second: limit %v, want 4", f.limit)
	}
	now = now.Add(2 * time.Second)
	f.release(false, true, 0)
	if f.limit != 2 {
		t.Fatalf("an overload a second later: limit %v, want 2", f.limit)
	}
	// A plain failure changes nothing; successes grow the limit by 1/limit.
	f.release(false, false, 0)
	f.release(true, false, 0)
	if f.limit != 2.5 || f.inflight != 2 {
		t.Fatalf("after a failure and a success: limit %v, in flight %d", f.limit, f.inflight)
	}
	// Budget: the floor (2) plus half the 8 requests made.
	n := 0
	for f.retry() {
		n++
	}
	if n != 2+4 {
		t.Errorf("retries allowed %d, want 6", n)
	}
}

// The requests a pause held go out together when it ends, even when one
// of them is throttled before the others are on their way; a request that
// comes after that throttle waits for the new pause.
func TestFlowReleasesAPauseAsOneRound(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	var clock sync.Mutex
	f := newFlow(8, 2)
	f.now = func() time.Time { clock.Lock(); defer clock.Unlock(); return now }
	ctx := context.Background()
	if err := f.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	f.release(false, true, time.Hour) // a 429: pause for an hour (of the fake clock)
	admitted := make(chan int, 4)
	for i := range 3 {
		go func() {
			if f.acquire(ctx) == nil {
				admitted <- i
			}
		}()
	}
	// Wait until all three are held by the pause.
	for deadline := time.Now().Add(2 * time.Second); ; {
		f.mu.Lock()
		held := f.resume != nil
		f.mu.Unlock()
		if held && len(admitted) == 0 {
			time.Sleep(20 * time.Millisecond) // the other two reach their wait too
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the requests were not held by the pause")
		}
		time.Sleep(time.Millisecond)
	}
	if len(admitted) != 0 {
		t.Fatal("a request went out during the pause")
	}
	// The pause ends; before the held requests run, one of the round is
	// throttled again (the server answers a 429 at once).
	clock.Lock()
	now = now.Add(time.Hour + time.Millisecond)
	clock.Unlock()
	f.mu.Lock()
	f.resume.Stop()
	f.mu.Unlock()
	f.resumeAll()
	f.mu.Lock()
	f.pauseUntil = now.Add(time.Hour)
	f.mu.Unlock()
	for range 3 {
		select {
		case <-admitted:
		case <-time.After(2 * time.Second):
			t.Fatal("a request held by the pause did not go out with its round")
		}
	}
	// A new request meets the new pause.
	late, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := f.acquire(late); err == nil {
		t.Error("a request after the throttle went out during its pause")
	}
}
