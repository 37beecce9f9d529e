package distributed_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/evals"
	"github.com/cairn-dev/cairn/evals/distributed"
	"github.com/cairn-dev/cairn/evals/evaltest"
	"github.com/cairn-dev/cairn/state/postgres/pgtest"
)

// BenchmarkWorkers measures distributed eval throughput: 500 cases against
// the loopback server at 100 ms latency, with 1, 2 and 4 workers of
// concurrency 8 each (ideal: 80 cases/s per worker), plus the in-process
// runner on the same PostgreSQL state at the same total concurrency as 4
// workers for reference. Workers run in this process with a pool each, as
// separate processes would.
//
//	go test ./evals/distributed -run '^$' -bench Workers -benchtime 1x
func BenchmarkWorkers(b *testing.B) {
	const n = 500
	const latency = 100 * time.Millisecond
	srv := evaltest.New(evaltest.Options{Latency: latency})
	defer srv.Close()
	for _, workers := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			u, _ := pgtest.Schema(b)
			store := openStore(b, u)
			startWorkers(b, u, workers, func(i int) distributed.WorkerOptions { return testWorkerOpts(fmt.Sprint("bench-", i)) })
			time.Sleep(500 * time.Millisecond) // let a River leader be elected
			for i := 0; i < b.N; i++ {
				bundle := fixture(b, srv.URL(), n) // fresh rows: no cache hits
				start := time.Now()
				run, err := distributed.RunSuite(context.Background(), store.Pool(), bundle, "qa", evalOpts(store))
				if err != nil {
					b.Fatal(err)
				}
				if len(run.Cases) != n || run.Errors != 0 {
					b.Fatalf("%d cases, %d errors", len(run.Cases), run.Errors)
				}
				rate := n / time.Since(start).Seconds()
				b.ReportMetric(rate, "cases/s")
				b.ReportMetric(100*rate/(float64(workers*8)/latency.Seconds()), "%ideal")
			}
		})
	}
	// The in-process runner at one worker's and at four workers' concurrency.
	for _, parallel := range []int{8, 32} {
		b.Run(fmt.Sprintf("inprocess-parallel=%d", parallel), func(b *testing.B) {
			u, _ := pgtest.Schema(b)
			store := openStore(b, u)
			for i := 0; i < b.N; i++ {
				bundle := fixture(b, srv.URL(), n)
				o := evalOpts(store)
				o.Parallel = parallel
				start := time.Now()
				if _, err := evals.RunSuite(context.Background(), bundle, "qa", o); err != nil {
					b.Fatal(err)
				}
				rate := n / time.Since(start).Seconds()
				b.ReportMetric(rate, "cases/s")
				b.ReportMetric(100*rate/(float64(parallel)/latency.Seconds()), "%ideal")
			}
		})
	}
}
