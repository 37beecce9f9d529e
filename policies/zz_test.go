package policies

import (
	"testing"
)

func BenchmarkZZNewCached(b *testing.B) {
	d := b.TempDir()
	for b.Loop() {
		if _, err := New(Options{CacheDir: d}); err != nil {
			b.Fatal(err)
		}
	}
}
func BenchmarkZZNewPlain(b *testing.B) {
	for b.Loop() {
		if _, err := New(Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
