package classic

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/data"
)

// writePredictions writes n binary-classification predictions to a Parquet
// file: label, a four-decimal score, and three slice columns.
func writePredictions(b *testing.B, n int) string {
	p := filepath.Join(b.TempDir(), fmt.Sprintf("p%d.parquet", n))
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, uint64(n)))
	regions, bands, channels := []string{"north", "south", "west", "east", "island"}, []string{"18-25", "26-40", "41-65", "65+"}, []string{"web", "app", "pos"}
	i := 0
	err = data.WriteParquet(f, []data.ColumnSpec{{Name: "label", DType: "int"}, {Name: "score", DType: "float"},
		{Name: "region", DType: "string"}, {Name: "band", DType: "string"}, {Name: "channel", DType: "string"}}, 0, func(row []data.Value) bool {
		if i == n {
			return false
		}
		i++
		label := r.Float64() < 0.1
		s := r.Float64() * 0.7
		if label {
			s += 0.3
		}
		row[0] = data.Value{Kind: data.KindInt, Int: map[bool]int64{true: 1}[label]}
		row[1] = data.Value{Kind: data.KindFloat, Float: float64(int(s*10000)) / 10000}
		row[2] = data.Value{Kind: data.KindString, Str: regions[r.IntN(5)]}
		row[3] = data.Value{Kind: data.KindString, Str: bands[r.IntN(4)]}
		row[4] = data.Value{Kind: data.KindString, Str: channels[r.IntN(3)]}
		return true
	})
	if err != nil {
		b.Fatal(err)
	}
	f.Close()
	return p
}

// peakHeap samples the live heap every 20 ms while f runs.
func peakHeap(f func()) uint64 {
	runtime.GC()
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	f()
	close(done)
	return peak.Load()
}

func benchFile(b *testing.B, rows int) {
	p := writePredictions(b, rows)
	spec := Spec{Label: "label", Score: "score", Slices: []string{"region", "band", "channel"}, Sensitive: []string{"region"}}
	var reqs []Request
	for _, m := range append(append([]string{}, Classification...), DemographicParityDifference, EqualizedOddsDifference, DisparateImpactRatio) {
		reqs = append(reqs, Request{Name: m, Metric: m, Threshold: 0.5})
	}
	b.ResetTimer()
	var peak uint64
	for range b.N {
		peak = peakHeap(func() {
			if _, err := EvaluateFile(p, spec, reqs, 30); err != nil {
				b.Fatal(err)
			}
		})
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}

// Streamed (past BootstrapRows): every metric, slice and group, no intervals.
func BenchmarkPredictions10M(b *testing.B) { benchFile(b, 10_000_000) }
func BenchmarkPredictions1M(b *testing.B)  { benchFile(b, 1_000_000) }

// In memory with 200 bootstrap resamples of every metric: what intervals cost.
func BenchmarkPredictionsBootstrap50k(b *testing.B) { benchFile(b, BootstrapRows) }
