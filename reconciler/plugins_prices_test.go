package reconciler

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/evals"
	"github.com/cairn-dev/cairn/prices"
)

// The eval runner meters cost with PluginOptions.Prices, and with the
// embedded catalog when none is given.
func TestEvalPluginUsesThePriceCatalog(t *testing.T) {
	ctx := context.Background()
	dir := copyExample(t, "support-assistant")
	// Without the provider's own prices, which would win over any catalog.
	cue := filepath.Join(dir, "cairn.cue")
	src, err := os.ReadFile(cue)
	must(t, err)
	const line = `prices: "gpt-4o-mini": {input_usd_per_mtok: 0.15, output_usd_per_mtok: 0.6}`
	if !strings.Contains(string(src), line) {
		t.Fatalf("%s no longer declares %s", cue, line)
	}
	must(t, os.WriteFile(cue, []byte(strings.Replace(string(src), line, "", 1)), 0o644))
	b := compileExample(t, dir)
	p := b.Prompts["support-answer"]
	req := EvalRequest{Eval: "support-quality", Target: "prompts/support-answer", TargetVersion: p.Version, SubjectHash: p.ContentHash}
	cost := func(cat *prices.Catalog) float64 {
		t.Helper()
		st := newStore(t)
		ep := &EvalPlugin{Store: st, Opts: PluginOptions{Prices: cat}}
		if _, err := ep.RunEval(ctx, b, req); err != nil {
			t.Fatal(err)
		}
		raw, ok, err := st.GetRecord(ctx, evals.KindRun, req.Eval+"@"+b.Hash())
		if err != nil || !ok {
			t.Fatalf("no run recorded: %v", err)
		}
		var run evals.Run
		must(t, json.Unmarshal(raw, &run))
		return run.CostUSD
	}
	def := cost(nil)
	if def <= 0 {
		t.Fatalf("cost with the embedded catalog = %v, want > 0", def)
	}
	dear, err := prices.Parse([]byte(`{"date": "2030-01-01", "source": "test", "commit": "x",
		"models": {"gpt-4o-mini": {"in": 150, "out": 600}}}`)) // 1000× the embedded price
	must(t, err)
	if got := cost(dear); got < def*500 {
		t.Errorf("cost with a 1000× catalog = %v, embedded %v: the catalog was not used", got, def)
	}
}
