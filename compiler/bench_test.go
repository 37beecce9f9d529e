package compiler

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
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

// BenchmarkCompileOneEdit is the pull-request loop: the compile cache holds
// every file's value and one file has changed since (a model's owner).
func BenchmarkCompileOneEdit(b *testing.B) {
	dir := b.TempDir()
	if err := specgen.Write(dir, specgen.Large); err != nil {
		b.Fatal(err)
	}
	opts := Options{CacheDir: b.TempDir(), CacheSalt: "bench"}
	if _, ds := Compile(dir, opts); len(ds) > 0 {
		b.Fatal(ds)
	}
	f := filepath.Join(dir, "specs", "models-003.cue")
	src, err := os.ReadFile(f)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		edited := strings.Replace(string(src), "@acme/team-", fmt.Sprintf("@acme/edit%d-", i), 1)
		if err := os.WriteFile(f, []byte(edited), 0o644); err != nil {
			b.Fatal(err)
		}
		if _, ds := Compile(dir, opts); len(ds) > 0 {
			b.Fatal(ds)
		}
	}
}

// BenchmarkCompileColdCache is a first check with the cache on: every
// object evaluated on its own, then stored.
func BenchmarkCompileColdCache(b *testing.B) {
	dir := largeRepo(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, ds := Compile(dir, Options{CacheDir: b.TempDir(), CacheSalt: "bench"}); len(ds) > 0 {
			b.Fatal(ds)
		}
	}
}
