package policies

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/internal/specgen"
)

// BenchmarkCheckLarge is the policy half of 'cairn check' on the generated
// large repo (1,000 models, 2,000 prompts, 500 evals, 500 deployments, 300
// features); compare with compiler's BenchmarkCompile on the same repo.
func BenchmarkCheckLarge(b *testing.B) {
	dir, err := os.MkdirTemp("", "cairn-large-*")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := specgen.Write(dir, specgen.Large); err != nil {
		b.Fatal(err)
	}
	bd, ds := compiler.Compile(dir, compiler.Options{})
	if len(ds) > 0 {
		b.Fatal(ds)
	}
	eng, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := eng.Evaluate(context.Background(), bd, now, nil); err != nil {
			b.Fatal(err)
		}
	}
}
