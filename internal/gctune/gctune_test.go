package gctune

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// In each mode: tuned while the heap is small; back to the defaults, for
// good, once the live heap passes half the limit; and never against the
// user's GOGC.
func TestTuning(t *testing.T) {
	defer func() { debug.SetGCPercent(100); debug.SetMemoryLimit(math.MaxInt64) }()
	for _, mode := range []Mode{Steady, Batch} {
		s := settings[mode]
		t.Setenv("GOGC", "150")
		Start(mode)
		if Tuned() || gcPercent() != 100 {
			t.Fatalf("mode %d: tuned against the user's GOGC", mode)
		}
		t.Setenv("GOGC", "")
		Start(mode)
		runtime.GC()
		if !Tuned() || gcPercent() != s.Percent || debug.SetMemoryLimit(-1) != s.Limit {
			t.Fatalf("mode %d: not tuned: percent %d", mode, gcPercent())
		}
		var keep [][]byte
		for range s.Limit/2/(8<<20) + 4 {
			keep = append(keep, make([]byte, 8<<20))
		}
		deadline := time.Now().Add(10 * time.Second)
		for Tuned() && time.Now().Before(deadline) {
			runtime.GC()
			runtime.KeepAlive(keep)
			time.Sleep(10 * time.Millisecond)
		}
		if Tuned() || gcPercent() != 100 || debug.SetMemoryLimit(-1) != math.MaxInt64 {
			t.Fatalf("mode %d: a %d MiB live heap left the tuning in force (percent %d)", mode, len(keep)*8, gcPercent())
		}
		keep = nil
		runtime.GC()
		if Tuned() {
			t.Fatalf("mode %d: tuned again once the heap shrank", mode)
		}
	}
}
