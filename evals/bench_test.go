package evals

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/evals/evaltest"
)

// BenchmarkEval1000 runs 1,000 cases against the loopback server at 100 ms
// latency with parallel 16 (ideal: 160 cases/s), then a cached rerun that
// must make zero provider calls.
//
//	go test ./evals -run '^$' -bench Eval1000 -benchtime 1x
func BenchmarkEval1000(b *testing.B) {
	srv := evaltest.New(evaltest.Options{Latency: 100 * time.Millisecond})
	defer srv.Close()
	bundle := fixture(b, srv.URL(), 1000, nil)
	for i := 0; i < b.N; i++ {
		store := NewMemStore()
		o := fastOpts(store)
		o.Parallel = 16
		srv.Reset()
		runtime.GC()
		peak := watchHeap()
		start := time.Now()
		run, err := RunSuite(context.Background(), bundle, "qa", o)
		if err != nil {
			b.Fatal(err)
		}
		el := time.Since(start)
		b.ReportMetric(float64(peak())/(1<<20), "peak-heap-MB")
		if run.Status != Pass {
			b.Fatalf("status %s", run.Status)
		}
		rate := 1000 / el.Seconds()
		b.ReportMetric(rate, "cases/s")
		b.ReportMetric(100*rate/160, "%ideal")
		srv.Reset()
		cstart := time.Now()
		again, err := RunSuite(context.Background(), bundle, "qa", o)
		if err != nil {
			b.Fatal(err)
		}
		if n := srv.Requests(); n != 0 || again.CacheHits != 1000 {
			b.Fatalf("cached rerun: %d provider calls, %d hits", n, again.CacheHits)
		}
		b.ReportMetric(float64(time.Since(cstart).Milliseconds()), "cached-ms")
	}
}

// BenchmarkClassicDataset runs a 100,000-row classic-model suite (logged
// predictions, ~470-byte feature rows, regex scorer) through RunSuite with
// no store, as `cairn eval` does, and reports the live heap after the run
// (the results it returns) and the peak heap during it.
//
//	go test ./evals -run '^$' -bench ClassicDataset -benchtime 1x
func BenchmarkClassicDataset(b *testing.B) {
	const n = 100_000
	bundle := classicFixture(b, n)
	for i := 0; i < b.N; i++ {
		runtime.GC()
		peak := watchHeap()
		start := time.Now()
		run, err := RunSuite(context.Background(), bundle, "holdout", Options{})
		el := time.Since(start)
		maxHeap := peak()
		if err != nil {
			b.Fatal(err)
		}
		if len(run.Cases) != n || run.InputTokens != 0 {
			b.Fatalf("%d cases, %d tokens", len(run.Cases), run.InputTokens)
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(n/el.Seconds(), "cases/s")
		b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "live-MB")
		b.ReportMetric(float64(maxHeap)/(1<<20), "peak-heap-MB")
		runtime.KeepAlive(run)
	}
}

// watchHeap samples the heap in use every 50 ms until the returned function
// is called, which returns the largest sample.
func watchHeap() func() uint64 {
	stop, done := make(chan struct{}), make(chan uint64)
	go func() {
		var peak uint64
		var ms runtime.MemStats
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				done <- peak
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(stop); return <-done }
}

// BenchmarkEvalFaults is Eval1000's server with faults: every 5th request
// is a 429 with Retry-After 0.5 s, every 13th a 500; 400 cases at 100 ms
// latency, parallel 16. It reports the throughput, the wall time and the
// cases lost (ERROR after the retries).
//
//	go test ./evals -run '^$' -bench EvalFaults -benchtime 1x
func BenchmarkEvalFaults(b *testing.B) {
	var n atomic.Int64
	fault := func(i int64) evaltest.Fault {
		switch {
		case i%5 == 0:
			return evaltest.Fault429
		case i%13 == 0:
			return evaltest.Fault500
		}
		return evaltest.FaultNone
	}
	srv := evaltest.New(evaltest.Options{Latency: 100 * time.Millisecond, RetryAfter: "0.5", Faults: func(path, prompt string, attempt int) evaltest.Fault {
		return fault(n.Add(1))
	}})
	bound := faultBound(400, 16, 100*time.Millisecond, 500*time.Millisecond, fault)
	defer srv.Close()
	bundle := fixture(b, srv.URL(), 400, nil)
	for i := 0; i < b.N; i++ {
		o := fastOpts(NewMemStore())
		o.Parallel, o.MaxRetries, o.BackoffBase = 16, 4, 100*time.Millisecond
		srv.Reset()
		n.Store(0)
		start := time.Now()
		run, err := RunSuite(context.Background(), bundle, "qa", o)
		if err != nil {
			b.Fatal(err)
		}
		el := time.Since(start)
		b.ReportMetric(400/el.Seconds(), "cases/s")
		b.ReportMetric(el.Seconds(), "wall-s")
		b.ReportMetric(float64(run.Errors), "lost")
		b.ReportMetric(float64(srv.Requests()), "requests")
		b.ReportMetric(bound.Seconds(), "bound-s")
		b.ReportMetric(el.Seconds()/bound.Seconds(), "x-bound")
	}
}

// faultBound is the least wall time the server's faults allow a client that
// honours every Retry-After it has received and keeps at most parallel
// requests in flight: it sends waves of requests at once, one per case
// still to do, and after a wave that drew a 429 (answered at once) waits
// the Retry-After before the next; a wave without one takes the latency.
// fault(i) is the server's answer to its i-th request.
func faultBound(cases, parallel int, latency, retryAfter time.Duration, fault func(int64) evaltest.Fault) time.Duration {
	var t time.Duration
	var sent int64
	for done := 0; done < cases; {
		throttled := false
		for range min(parallel, cases-done) {
			sent++
			switch fault(sent) {
			case evaltest.Fault429:
				throttled = true
			case evaltest.FaultNone:
				done++
			}
		}
		if throttled {
			t += max(retryAfter, latency)
		} else {
			t += latency
		}
	}
	return t
}
