package distributed_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/evals"
	"github.com/cairn-dev/cairn/evals/distributed"
	"github.com/cairn-dev/cairn/rag"
	"github.com/cairn-dev/cairn/state/postgres/pgtest"
)

// fixedRetriever returns one article for every query and counts calls.
type fixedRetriever struct{ calls atomic.Int32 }

func (f *fixedRetriever) Retrieve(_ context.Context, source, query string, k int) ([]rag.Chunk, error) {
	f.calls.Add(1)
	return []rag.Chunk{{ID: "c1", Source: source, Document: "kb/refunds.md",
		Text: "You can request a refund within 30 days of purchase from the Orders page."}}, nil
}

// ragBundle is a RAG prompt whose rows bring no context, replayed from
// logged outputs and scored by faithfulness against the retrieved context.
func ragBundle(t *testing.T) *compiler.Bundle {
	t.Helper()
	root := t.TempDir()
	ds := `{"id": "faithful", "vars": {"question": "How long do I have to request a refund?"}, "output": "You can request a refund within 30 days of purchase from the Orders page."}
{"id": "invented", "vars": {"question": "How long do I have to request a refund?"}, "output": "Refunds are granted for a full year and paid in gift vouchers."}
`
	if err := os.WriteFile(filepath.Join(root, "ds.jsonl"), []byte(ds), 0o644); err != nil {
		t.Fatal(err)
	}
	return &compiler.Bundle{
		Root:      root,
		Providers: map[string]*compiler.Provider{"logged": {Name: "logged", Kind: "replay"}},
		RAG:       map[string]*compiler.RAG{"kb": {Name: "kb", Retrieval: compiler.Retrieval{TopK: 1}}},
		Prompts: map[string]*compiler.Prompt{"answer": {Name: "answer", RAG: "kb", Inputs: []string{"question"},
			Template: "Articles:\n{{ context }}\n\nQuestion: {{ question }}",
			Model:    compiler.PromptModel{Provider: "logged", ID: "gpt-4o-mini", MaxTokens: 64}}},
		Evals: map[string]*compiler.Eval{"grounded": {Name: "grounded", Target: compiler.EvalTarget{Prompt: "answer"}, Dataset: "ds.jsonl", Repeats: 1,
			Metrics: map[string]compiler.Metric{"faithfulness": {Scorer: "faithfulness", Threshold: 0.5, Aggregate: "pass_rate"}}}},
	}
}

// The distributed path plans with the retriever like evals.RunSuite: the
// retrieved chunks travel in the job to the worker, which scores
// faithfulness against them, so both runners agree case by case.
func TestDistributedRetrievesContext(t *testing.T) {
	u, _ := pgtest.Schema(t)
	b := ragBundle(t)
	local := &fixedRetriever{}
	o := evalOpts(evals.NewMemStore())
	o.Retriever = local
	want, err := evals.RunSuite(context.Background(), b, "grounded", o)
	if err != nil {
		t.Fatal(err)
	}
	status := func(r *evals.Run) string {
		s := ""
		for _, c := range r.Cases {
			s += fmt.Sprintf("%s=%s(%s) ", c.ID, c.Status, c.Metrics["faithfulness"].Status)
		}
		return s
	}
	if got := status(want); got != "faithful=PASS(PASS) invented=FAIL(FAIL) " {
		t.Fatalf("in-process run with retrieval: %s", got)
	}

	store := openStore(t, u)
	startWorkers(t, u, 1, func(int) distributed.WorkerOptions { return testWorkerOpts("rag") })
	dist := &fixedRetriever{}
	o = evalOpts(store)
	o.Retriever = dist
	got, err := distributed.RunSuite(context.Background(), store.Pool(), b, "grounded", o)
	if err != nil {
		t.Fatal(err)
	}
	if dist.calls.Load() == 0 {
		t.Fatal("the distributed path did not call the retriever")
	}
	sameRun(t, got, want)
	if status(got) != status(want) {
		t.Fatalf("distributed %s, in-process %s", status(got), status(want))
	}

	// Without a retriever nothing fills {{ context }}: a different subject,
	// so different cache keys and no faithfulness verdict from context.
	o.Retriever = nil
	bare, err := distributed.RunSuite(context.Background(), store.Pool(), b, "grounded", o)
	if err != nil {
		t.Fatal(err)
	}
	if bare.Cases[0].Key == got.Cases[0].Key || status(bare) == status(got) {
		t.Errorf("a run without retrieval looks like one with it: %s", status(bare))
	}
}
