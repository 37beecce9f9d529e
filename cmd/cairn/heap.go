package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
)

// startHeap lets the heap grow to n bytes before the first collection and
// then hands pacing back to GOGC, as the Go compiler does for itself
// (cmd/compile's AdjustStartingHeap): a check of the large repo collected
// its small young heap 12 times in its first 0.2 s. The peak is no higher —
// later the heap is larger than n anyway. GOGC or GOMEMLIMIT in the
// environment win; CAIRN_START_HEAP=0 turns it off.
func startHeap(n int64) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	if s, ok := os.LookupEnv("CAIRN_START_HEAP"); ok {
		mib, err := strconv.ParseInt(s, 10, 64)
		if err != nil || mib <= 0 {
			return
		}
		n = mib << 20
	}
	pct := debug.SetGCPercent(-1)
	limit := debug.SetMemoryLimit(n)
	// The first collection comes at the limit; finalizers run after it.
	type sentinel [32]byte // not a tiny allocation, which could share a block
	runtime.SetFinalizer(new(sentinel), func(*sentinel) {
		debug.SetGCPercent(pct)
		debug.SetMemoryLimit(limit)
	})
}
