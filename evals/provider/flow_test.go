package provider

import (
	"context"
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
