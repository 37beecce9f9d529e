package data

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/compiler"
)

// benchSample writes an n-row, 20-feature Parquet file: 14 float, 4 int and
// 2 string features; shift moves the floats (the current sample drifts).
func benchSample(b *testing.B, dir, name string, n int, shift float64, seed uint64) string {
	var cols []ColumnSpec
	for i := range 20 {
		dt := "float"
		switch {
		case i >= 18:
			dt = "string"
		case i >= 14:
			dt = "int"
		}
		cols = append(cols, ColumnSpec{Name: fmt.Sprintf("f%02d", i), DType: dt})
	}
	p := filepath.Join(dir, name)
	if d := os.Getenv("CAIRN_BENCH_DATA"); d != "" {
		// Reuse samples across runs, so that repeated timings (and the CPU
		// time of the whole binary) measure reading, not writing.
		p = filepath.Join(d, fmt.Sprintf("%d-%s", n, name))
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	r := rand.New(rand.NewPCG(seed, 9))
	cats := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	row := 0
	err = WriteParquet(f, cols, 0, func(v []Value) bool {
		if row == n {
			return false
		}
		row++
		for i := range v {
			switch cols[i].DType {
			case "float":
				v[i] = Value{Kind: KindFloat, Float: r.NormFloat64() + shift}
			case "int":
				v[i] = Value{Kind: KindInt, Int: int64(r.IntN(1000))}
			default:
				v[i] = Value{Kind: KindString, Str: cats[r.IntN(len(cats))]}
			}
		}
		return true
	})
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func benchFeatures() (map[string]*compiler.Feature, *compiler.Model) {
	fs := map[string]*compiler.Feature{}
	var names []string
	for i := range 20 {
		dt := "float"
		switch {
		case i >= 18:
			dt = "string"
		case i >= 14:
			dt = "int"
		}
		n := fmt.Sprintf("f%02d", i)
		q := &compiler.Quality{NotNull: ptr(true), Min: ptr(-3.0), Max: ptr(3.0)}
		if dt == "string" {
			q = &compiler.Quality{Allowed: []any{"a", "b", "c", "d", "e", "f", "g"}}
		}
		fs[n] = &compiler.Feature{Name: n, DType: dt, Quality: q}
		names = append(names, n)
	}
	return fs, &compiler.Model{Name: "bench", Monitoring: &compiler.Monitoring{Drift: &compiler.Drift{Features: names, Method: "psi", Threshold: 0.2}}}
}

// peakHeap samples the live heap every 5 ms while fn runs.
func peakHeap(fn func()) uint64 {
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	fn()
	close(done)
	return peak.Load()
}

// BenchmarkValidateAndDrift: validation of one sample plus drift of all 20
// features between two samples, at 100k and 1M rows (memory must stay flat).
//
//	go test ./data -run '^$' -bench ValidateAndDrift -benchtime 1x
//
// CAIRN_BENCH_DATA=dir keeps the generated samples in dir between runs.
func BenchmarkValidateAndDrift(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			ref := benchSample(b, dir, "ref.parquet", n, 0, 1)
			cur := benchSample(b, dir, "cur.parquet", n, 0.1, 2)
			fs, m := benchFeatures()
			// Collect the writer's garbage first (pooled buffers too): the peak is what
			// validation and drift hold, not what generating the files left.
			runtime.GC()
			runtime.GC() // a second time for what sync.Pools kept
			b.ResetTimer()
			var peak uint64
			for range b.N {
				p := peakHeap(func() {
					r, err := Open(cur, nil)
					if err != nil {
						b.Fatal(err)
					}
					rep, err := Validate(fs, r)
					r.Close()
					if err != nil || rep.Rows != n {
						b.Fatal(err)
					}
					res, err := Drift(m, fs, ref, cur, DriftOptions{})
					if err != nil || len(res.Features) != 20 {
						b.Fatal(err)
					}
				})
				peak = max(peak, p)
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
			b.ReportMetric(float64(n*20*3)/b.Elapsed().Seconds()*float64(b.N)/1e6, "Mvalues/s")
		})
	}
}

// TestBenchSampleAccuracy compares the one-pass drift of the 1M-row bench
// samples with the exact computation (all values in memory: ~350 MB). Opt-in:
//
//	CAIRN_BENCH_DATA=/tmp/s go test ./data -run '^$' -bench ValidateAndDrift -benchtime 1x  # writes the samples
//	CAIRN_BENCH_DATA=/tmp/s go test ./data -run BenchSampleAccuracy -v
func TestBenchSampleAccuracy(t *testing.T) {
	d := os.Getenv("CAIRN_BENCH_DATA")
	ref, cur := filepath.Join(d, "1000000-ref.parquet"), filepath.Join(d, "1000000-cur.parquet")
	if _, err := os.Stat(cur); d == "" || err != nil {
		t.Skip("set CAIRN_BENCH_DATA to a directory holding the benchmark's samples")
	}
	fs, m := benchFeatures()
	a, err := Drift(m, fs, ref, cur, DriftOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := Drift(m, fs, ref, cur, DriftOptions{ExactLimit: 2_000_000})
	if err != nil {
		t.Fatal(err)
	}
	var bound, dErr, psiErr float64
	for i, fa := range a.Features {
		fe := e.Features[i]
		psiErr = max(psiErr, math.Abs(fa.PSI-fe.PSI))
		if fa.KS == nil {
			continue
		}
		bound = max(bound, fa.KS.ErrorBound)
		dErr = max(dErr, math.Abs(fe.KS.Statistic-fa.KS.Statistic))
		if fe.KS.Statistic < fa.KS.Statistic-1e-12 || fe.KS.Statistic > fa.KS.Statistic+fa.KS.ErrorBound+1e-12 {
			t.Errorf("%s: exact D %g outside [%g, +%g]", fa.Feature, fe.KS.Statistic, fa.KS.Statistic, fa.KS.ErrorBound)
		}
	}
	t.Logf("max KS error bound %.6f (%.2f/1024), max |D − exact D| %.6f, max |PSI − exact PSI| %.6f", bound, bound*1024, dErr, psiErr)
	if bound > 4.0/1024 {
		t.Errorf("KS error bound %g above 4/1024", bound)
	}
}
