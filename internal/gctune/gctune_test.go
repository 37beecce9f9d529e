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

// Tuned while the heap is small; back to the defaults, for good, once the
// live heap passes the ceiling; and never against the user's GOGC.
func TestTuning(t *testing.T) {
	defer func() { debug.SetGCPercent(100); debug.SetMemoryLimit(math.MaxInt64) }()

	t.Setenv("GOGC", "150")
	Start()
	if Tuned() || gcPercent() != 100 {
		t.Fatal("tuned against the user's GOGC")
	}

	t.Setenv("GOGC", "")
	Start()
	runtime.GC()
	if !Tuned() || gcPercent() != Percent {
		t.Fatalf("not tuned: percent %d", gcPercent())
	}
	var keep [][]byte
	for range Ceiling/(8<<20) + 4 {
		keep = append(keep, make([]byte, 8<<20))
	}
	deadline := time.Now().Add(10 * time.Second)
	for Tuned() && time.Now().Before(deadline) {
		runtime.GC()
		runtime.KeepAlive(keep)
		time.Sleep(10 * time.Millisecond)
	}
	if Tuned() || gcPercent() != 100 || debug.SetMemoryLimit(-1) != math.MaxInt64 {
		t.Fatalf("a %d MiB live heap left the tuning in force (percent %d)", len(keep)*8, gcPercent())
	}
	keep = nil
	runtime.GC()
	if Tuned() {
		t.Fatal("tuned again once the heap shrank")
	}
}
