package distributed_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/evals"
	"github.com/cairn-dev/cairn/evals/distributed"
	"github.com/cairn-dev/cairn/state"
)

// In process on a SQLite state, the run's records are written in batched
// transactions: all of them land (more than one batch), a rerun is served
// from the cache, and it is fast (one commit per record took ~2.5 ms each).
func TestInProcessRunBatchesStateWrites(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	const n = 2500
	var sb strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, `{"id": "r%d", "vars": {"x": %d}, "output": "%d"}`+"\n", i, i, i%10)
	}
	if err := os.WriteFile(filepath.Join(root, "ds.jsonl"), []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	b := &compiler.Bundle{Root: root,
		Models: map[string]*compiler.Model{"m": {Name: "m", Kind: "classic"}},
		Evals: map[string]*compiler.Eval{"s": {Name: "s", Target: compiler.EvalTarget{Model: "m"}, Dataset: "ds.jsonl", Repeats: 1,
			Metrics: map[string]compiler.Metric{"digit": {Scorer: "regex", Pattern: "^[0-9]$", Threshold: 1}}}}}
	st, err := state.OpenSQLite(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start := time.Now()
	run, err := distributed.RunSuiteAuto(ctx, b, "s", evals.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 20*time.Second {
		t.Errorf("%d cases took %v", n, el)
	}
	cases, err := st.ListRecords(ctx, evals.KindCase, "s@")
	if err != nil || len(cases) != n {
		t.Fatalf("%d case records (%v), want %d", len(cases), err, n)
	}
	gens, _ := st.ListRecords(ctx, evals.KindGen, "")
	if len(gens) != n || run.Status != evals.Pass {
		t.Fatalf("%d cached generations, status %s", len(gens), run.Status)
	}
	again, err := distributed.RunSuiteAuto(ctx, b, "s", evals.Options{Store: st})
	if err != nil || again.CacheHits != n {
		t.Fatalf("rerun: %d hits, %v", again.CacheHits, err)
	}
}
