package evals

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/rag"
)

// ragFixture is a spec repo with two help-centre articles, a RAG prompt
// replayed from logged outputs, and a suite scored by faithfulness.
func ragFixture(t *testing.T) *compiler.Bundle {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"kb/refunds.md": "# Refunds\n\nYou can request a refund within 30 days of purchase from the Orders page. " +
			"The money returns to your original payment method within 5 to 7 business days.\n",
		"kb/passwords.md": "# Passwords\n\nTo reset your password, open the sign-in page and choose Forgot password. " +
			"We email a reset link that expires after one hour.\n",
		"ds.jsonl": `{"id": "refund", "vars": {"question": "How long do I have to request a refund?"}, "output": "You can request a refund within 30 days of purchase from the Orders page."}
{"id": "invented", "vars": {"question": "How long do I have to request a refund?"}, "output": "Refunds are granted for a full year and paid in gift vouchers."}
{"id": "own-context", "vars": {"question": "How do I reset my password?"}, "context": "Resets are done by phone only.", "output": "Resets are done by phone only."}
`,
	}
	for p, c := range files {
		must := os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755)
		if must == nil {
			must = os.WriteFile(filepath.Join(root, p), []byte(c), 0o644)
		}
		if must != nil {
			t.Fatal(must)
		}
	}
	return &compiler.Bundle{
		Root:      root,
		Providers: map[string]*compiler.Provider{"logged": {Name: "logged", Kind: "replay"}},
		RAG: map[string]*compiler.RAG{"kb": {Name: "kb",
			Sources:   []compiler.RAGSourceFile{{Path: "kb/*.md", License: "CC-BY-4.0", Classification: "public", Files: []string{"kb/passwords.md", "kb/refunds.md"}}},
			Chunking:  compiler.Chunking{Size: 400, Overlap: 0},
			Embedding: compiler.Embedding{Provider: "builtin", Model: "hash-384"},
			Retrieval: compiler.Retrieval{TopK: 1}}},
		Prompts: map[string]*compiler.Prompt{"answer": {Name: "answer", RAG: "kb", Inputs: []string{"question"},
			Template: "Articles:\n{{ context }}\n\nQuestion: {{ question }}",
			Model:    compiler.PromptModel{Provider: "logged", ID: "gpt-4o-mini", MaxTokens: 64}}},
		Evals: map[string]*compiler.Eval{"grounded": {Name: "grounded", Target: compiler.EvalTarget{Prompt: "answer"}, Dataset: "ds.jsonl", Repeats: 1,
			Metrics: map[string]compiler.Metric{"faithfulness": {Scorer: "faithfulness", Threshold: 0.5, Aggregate: "pass_rate"}}}},
	}
}

func builtRetriever(t *testing.T, b *compiler.Bundle) *rag.Retriever {
	t.Helper()
	st := rag.NewMemStore()
	if _, _, err := (rag.Snapshotter{Store: st}).BuildSource(context.Background(), b, "kb"); err != nil {
		t.Fatal(err)
	}
	return rag.NewRetriever(st, b)
}

func TestPlanRetrievesContext(t *testing.T) {
	b := ragFixture(t)
	cases, err := PlanWithContext(context.Background(), b, "grounded", nil, builtRetriever(t, b))
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]Case{}
	for _, c := range cases {
		byID[c.ID] = c
	}
	refund := byID["refund"]
	msg := refund.Request.Messages[0].Content
	if !strings.Contains(msg, "[1] kb/refunds.md\n# Refunds") || strings.Contains(msg, "Passwords") {
		t.Errorf("refund prompt did not get the refunds article (top_k 1):\n%s", msg)
	}
	if len(refund.Retrieved) != 1 || !strings.Contains(refund.Retrieved[0], "within 30 days") {
		t.Errorf("retrieved = %q", refund.Retrieved)
	}
	own := byID["own-context"]
	if own.Retrieved != nil || !strings.Contains(own.Request.Messages[0].Content, "Resets are done by phone only.") {
		t.Errorf("a row's own context must be used as is: retrieved %q, prompt %q", own.Retrieved, own.Request.Messages[0].Content)
	}
	// Retrieval changes what the model is sent, so it changes the cache keys.
	plain, err := Plan(b, "grounded", nil)
	if err != nil {
		t.Fatal(err)
	}
	if plain[0].GenKey == refund.GenKey || plain[0].Key == refund.Key {
		t.Error("cache key does not depend on the retrieved context")
	}
}

// Faithfulness judges the logged answer against the retrieved chunks: the
// grounded answer passes, the invented one fails; without retrieval there is
// nothing to judge against, which is an ERROR, never a pass.
func TestRunSuiteScoresAgainstRetrievedContext(t *testing.T) {
	b := ragFixture(t)
	run, err := RunSuite(context.Background(), b, "grounded", Options{Store: NewMemStore(), Retriever: builtRetriever(t, b)})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Status{}
	for _, c := range run.Cases {
		got[c.ID] = c.Status
	}
	want := map[string]Status{"refund": Pass, "invented": Fail, "own-context": Pass}
	for id, st := range want {
		if got[id] != st {
			t.Errorf("%s: %s, want %s (%+v)", id, got[id], st, run.Cases)
		}
	}
	// The run names the snapshot its contexts came from (lineage).
	if len(run.RAGSnapshots) != 1 || !strings.HasPrefix(run.RAGSnapshots[0], "sha256:") {
		t.Errorf("rag snapshots %v, want the one built", run.RAGSnapshots)
	}

	run, err = RunSuite(context.Background(), b, "grounded", Options{Store: NewMemStore()})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range run.Cases {
		if c.ID == "refund" && (c.Status != Error || !strings.Contains(c.Metrics["faithfulness"].Error, "no context")) {
			t.Errorf("without retrieval: %+v", c)
		}
	}
	if run.Passed {
		t.Error("a run with errors passed")
	}
}

func TestPlanRetrievalErrorNamesRowAndSource(t *testing.T) {
	b := ragFixture(t)
	_, err := PlanWithContext(context.Background(), b, "grounded", nil, rag.NewRetriever(rag.NewMemStore(), b))
	if err == nil || !strings.Contains(err.Error(), `row "refund": retrieving {{ context }} from rag/kb`) {
		t.Fatalf("err = %v", err)
	}
}

func TestRetrievalQuery(t *testing.T) {
	for _, tc := range []struct {
		name string
		row  Row
		want string
	}{
		{"question var", Row{Vars: map[string]string{"question": "Q?", "product": "Shop"}}, "Q?"},
		// The finding: the first declared input was a setting, "1".
		{"setting first", Row{Vars: map[string]string{"max_sentences": "1", "text": "Explain embargo dates"}}, "Explain embargo dates"},
		{"preference order", Row{Vars: map[string]string{"input": "in", "query": "qq", "text": "tt"}}, "qq"},
		{"blank question skipped", Row{Vars: map[string]string{"question": " ", "q": "Q"}}, "Q"},
		{"longest value", Row{Vars: map[string]string{"max_sentences": "1", "article": "A long article body", "tone": "brief"}}, "A long article body"},
		{"context never the query", Row{Vars: map[string]string{"context": "a very long context string", "topic": "refunds"}}, "refunds"},
		{"tie: first name", Row{Vars: map[string]string{"b": "xy", "a": "zw"}}, "zw"},
		{"row query overrides", Row{Query: " refund window ", Vars: map[string]string{"question": "Q?"}}, "refund window"},
		{"nothing", Row{Vars: map[string]string{}}, ""},
	} {
		if got := retrievalQuery(tc.row); got != tc.want {
			t.Errorf("%s: retrievalQuery(%+v) = %q, want %q", tc.name, tc.row, got, tc.want)
		}
	}
}
