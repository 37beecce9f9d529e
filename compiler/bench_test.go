package compiler

import (
	"os"
	"sync"
	"testing"

	"github.com/cairn-dev/cairn/internal/specgen"
)

var (
	largeOnce sync.Once
	largeDir  string
	largeErr  error
)

// largeRepo generates the benchmark repo once per test binary.
func largeRepo(b *testing.B) string {
	largeOnce.Do(func() {
		largeDir, largeErr = os.MkdirTemp("", "cairn-large-*")
		if largeErr == nil {
			largeErr = specgen.Write(largeDir, specgen.Large)
		}
	})
	if largeErr != nil {
		b.Fatal(largeErr)
	}
	return largeDir
}

// BenchmarkVet is 'cairn vet' on the large repo: load, schema, references, files.
func BenchmarkVet(b *testing.B) {
	dir := largeRepo(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, ds := Compile(dir, Options{SkipProjection: true}); len(ds) > 0 {
			b.Fatal(ds)
		}
	}
}

// BenchmarkCompile adds cost projection and the canonical JSON and hash.
func BenchmarkCompile(b *testing.B) {
	dir := largeRepo(b)
	b.ReportAllocs()
	for b.Loop() {
		bd, ds := Compile(dir, Options{})
		if len(ds) > 0 {
			b.Fatal(ds)
		}
		if bd.Hash() == "" {
			b.Fatal("no hash")
		}
	}
}
