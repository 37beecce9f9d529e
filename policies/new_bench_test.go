package policies

import (
	"testing"
)

// Loading the policies: parsing and compiling the Rego, preparing the
// queries, and with a cache directory the reads, clocks and shards analysis.
func BenchmarkNewWithCache(b *testing.B) {
	d := b.TempDir()
	for b.Loop() {
		if _, err := New(Options{CacheDir: d}); err != nil {
			b.Fatal(err)
		}
	}
}
func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		if _, err := New(Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
