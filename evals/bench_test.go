package evals

import (
	"context"
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
		start := time.Now()
		run, err := RunSuite(context.Background(), bundle, "qa", o)
		if err != nil {
			b.Fatal(err)
		}
		el := time.Since(start)
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
