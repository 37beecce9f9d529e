package lineage

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/internal/biglog"
	"github.com/cairn-dev/cairn/state"
)

const (
	benchEntries = biglog.Entries
	benchModels  = biglog.Models
)

var (
	bigT0   = biglog.T0
	bigStep = biglog.Step
)

// openBig opens the generated 1,000,000-entry log, written once per test binary.
func openBig(b *testing.B) state.Store { return biglog.Open(b) }

// BenchmarkLineageAt1M: what a deployment served at a moment, in a warm
// process, over a 1,000,000-entry log.
//
//	go test ./lineage -run '^$' -bench 'Lineage' -benchtime 200x
func BenchmarkLineageAt1M(b *testing.B) {
	st := openBig(b)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		at := bigT0.Add(time.Duration((i*7919)%benchEntries) * bigStep)
		f, err := At(ctx, st, fmt.Sprintf("d-%03d", i%benchModels), at)
		if err != nil {
			b.Fatal(err)
		}
		if f.Entry == nil && f.First == nil {
			b.Fatal("no answer")
		}
	}
}

// BenchmarkLineageVersion1M: one version's lineage (its moves and the
// intervals it served) over the same log.
func BenchmarkLineageVersion1M(b *testing.B) {
	st := openBig(b)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		v, err := OfVersion(ctx, st, "models", fmt.Sprintf("m-%03d", i%benchModels), fmt.Sprint(1+i%100))
		if err != nil {
			b.Fatal(err)
		}
		if len(v.Served) == 0 || len(v.Moves) == 0 {
			b.Fatalf("version %s of m-%03d: %d intervals, %d moves", v.Version, i%benchModels, len(v.Served), len(v.Moves))
		}
	}
}

// TestMain removes the generated log (400 MB) when the benchmarks are done.
func TestMain(m *testing.M) {
	code := m.Run()
	biglog.Remove()
	os.Exit(code)
}
