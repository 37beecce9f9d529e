package specgen

import (
	"testing"

	"github.com/cairn-dev/cairn/compiler"
)

// The generated repo must be valid, or the benchmarks measure error paths.
func TestSmallRepoCompiles(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir, Small); err != nil {
		t.Fatal(err)
	}
	b, ds := compiler.Compile(dir, compiler.Options{})
	for _, d := range ds {
		t.Error(d)
	}
	if b == nil {
		t.FailNow()
	}
	if len(b.Models) != Small.Models || len(b.Prompts) != Small.Prompts || len(b.Evals) != Small.Evals ||
		len(b.Deployments) != Small.Deployments || len(b.Features) != Small.Features {
		t.Fatalf("counts: %d models %d prompts %d evals %d deployments %d features",
			len(b.Models), len(b.Prompts), len(b.Evals), len(b.Deployments), len(b.Features))
	}
}
