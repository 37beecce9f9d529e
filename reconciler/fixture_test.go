package reconciler

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/internal/diag"
	"github.com/cairn-dev/cairn/prompts"
	"github.com/cairn-dev/cairn/state"
	"github.com/cairn-dev/cairn/targets"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fixedClock returns t0, t0+1s, t0+2s, … so audit entries are deterministic.
// The audit log refuses entries older than its head, so a second apply on
// the same state must not start its clock over: every clock of the test
// process ticks one shared counter, and a resumed crash child starts later
// than the child it follows (CAIRN_TEST_CLOCK_START, seconds).
func fixedClock() func() time.Time {
	return func() time.Time { return t0.Add(time.Duration(clockTicks.Add(1)) * time.Second) }
}

var clockTicks = func() *atomic.Int64 {
	var n atomic.Int64
	if s, err := strconv.Atoi(os.Getenv("CAIRN_TEST_CLOCK_START")); err == nil {
		n.Store(int64(s))
	}
	return &n
}()

// templates by prompt version, so tests can "edit" a prompt by bumping it.
var templates = map[string]string{
	"1.0.0": "Answer {{ question }} politely.",
	"1.1.0": "Answer {{ question }} politely and briefly.",
	"1.2.0": "Answer {{ question }} politely, briefly, citing sources.",
}

func setPrompt(p *compiler.Prompt, version, template string) {
	p.Version, p.Template = version, template
	p.ContentHash = prompts.Hash(prompts.Content{Template: template, Inputs: p.Inputs, RAG: p.RAG,
		Model: prompts.Params{Provider: p.Model.Provider, ID: p.Model.ID, Temperature: p.Model.Temperature, MaxTokens: p.Model.MaxTokens}})
}

// testBundle is a hand-built bundle: one prompt (answer) gated at prod by the
// "answer-quality" eval, one classic model (fraud) gated by metrics and the
// "fraud-holdout" eval at prod, a RAG source.
func testBundle(promptVersion string) *compiler.Bundle {
	p := &compiler.Prompt{Name: "answer", Owner: "@acme/ai", Inputs: []string{"question"},
		Model:  compiler.PromptModel{Provider: "replay", ID: "gpt-4o-mini", MaxTokens: 256},
		Labels: map[string]string{"staging": promptVersion},
		Gates: map[string]compiler.Gate{
			"prod":    {Evals: []string{"answer-quality"}, Approvals: 1},
			"staging": {},
		},
		Pos: diag.Position{File: "specs/prompts.cue", Line: 3, Col: 11}}
	setPrompt(p, promptVersion, templates[promptVersion])
	m := &compiler.Model{Name: "fraud", Kind: "classic", Owner: "@acme/risk", Risk: "high",
		Aliases: map[string]string{},
		Gates: map[string]compiler.Gate{
			"prod":    {Metrics: map[string]string{"auc": ">= 0.92", "fpr": "<= 0.05"}, Evals: []string{"fraud-holdout"}},
			"staging": {Metrics: map[string]string{"auc": ">= 0.90"}},
		}, Pos: diag.Position{File: "specs/models.cue", Line: 1, Col: 9}}
	b := &compiler.Bundle{FormatVersion: compiler.FormatVersion, Project: compiler.Project{Name: "demo", Owners: []string{"@acme/ai"}},
		Prompts: map[string]*compiler.Prompt{"answer": p},
		Models:  map[string]*compiler.Model{"fraud": m},
		Evals: map[string]*compiler.Eval{
			"answer-quality": {Name: "answer-quality", Target: compiler.EvalTarget{Prompt: "answer"}, Dataset: "evals/q.jsonl", DatasetHash: "sha256:d1",
				Metrics: map[string]compiler.Metric{"fact": {Scorer: "factuality", Threshold: 0.8, Aggregate: "mean"}}, Repeats: 1,
				Pos: diag.Position{File: "specs/evals.cue", Line: 2, Col: 9}},
			"fraud-holdout": {Name: "fraud-holdout", Target: compiler.EvalTarget{Model: "fraud"}, Dataset: "evals/f.jsonl", DatasetHash: "sha256:d2",
				Metrics: map[string]compiler.Metric{"accuracy": {Scorer: "exact", Threshold: 0.8, Aggregate: "pass_rate"}}, Repeats: 1,
				Pos: diag.Position{File: "specs/models.cue", Line: 30, Col: 8}},
		},
		RAG: map[string]*compiler.RAG{"kb": {Name: "kb", Owner: "@acme/ai",
			Sources:  []compiler.RAGSourceFile{{Path: "kb/*.md", License: "internal", Classification: "public", Files: []string{"kb/a.md"}}},
			Chunking: compiler.Chunking{Size: 600, Overlap: 80}, Embedding: compiler.Embedding{Provider: "builtin", Model: "hash-384"},
			Pos: diag.Position{File: "specs/rag.cue", Line: 1, Col: 7}}},
		Files: map[string]string{"kb/a.md": "sha256:k1"},
		FieldPos: compiler.NewFieldPositions(map[string]diag.Position{
			"prompts/answer.version":        {File: "specs/prompts.cue", Line: 5, Col: 11},
			"prompts/answer.labels.prod":    {File: "specs/prompts.cue", Line: 9, Col: 12},
			"prompts/answer.labels.staging": {File: "specs/prompts.cue", Line: 10, Col: 12},
			"models/fraud.aliases.prod":     {File: "specs/models.cue", Line: 20, Col: 12},
			"models/fraud.aliases.staging":  {File: "specs/models.cue", Line: 21, Col: 12},
		}),
	}
	return b
}

func promptVersionOf(t *testing.T, b *compiler.Bundle) state.PromptVersion {
	p := b.Prompts["answer"]
	return state.PromptVersion{Prompt: "answer", Version: p.Version, ContentHash: p.ContentHash, Template: p.Template, Inputs: p.Inputs, RegisteredAt: t0}
}

func newStore(t *testing.T) *state.SQLStore {
	t.Helper()
	s, err := state.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func registerModel(t *testing.T, st state.Ops, version string, auc, fpr float64) state.ModelVersion {
	t.Helper()
	mv := state.ModelVersion{Model: "fraud", Version: version, ArtifactURI: "s3://models/fraud/" + version,
		Metrics: map[string]float64{"auc": auc, "fpr": fpr}, RegisteredAt: t0}
	_, err := st.RegisterModelVersion(context.Background(), mv)
	must(t, err)
	return mv
}

// fakeRunner passes or fails evals by name and counts runs.
type fakeRunner struct {
	fail  map[string]bool
	calls []string
}

func (f *fakeRunner) RunEval(ctx context.Context, b *compiler.Bundle, req EvalRequest) (EvalOutcome, error) {
	f.calls = append(f.calls, req.Eval+"@"+req.TargetVersion)
	if f.fail[req.Eval] {
		return EvalOutcome{Passed: false, Metrics: map[string]float64{"score": 0.5}, Summary: "score 0.5 < 0.8",
			Cases: []state.CaseResult{{CaseID: "c1", Status: state.CaseFail}}}, nil
	}
	return EvalOutcome{Passed: true, Metrics: map[string]float64{"score": 0.9}, Summary: "score 0.9 >= 0.8",
		Cases: []state.CaseResult{{CaseID: "c1", Status: state.CasePass}, {CaseID: "c2", Status: state.CasePass}}}, nil
}

type fakeRenderer struct{}

func (fakeRenderer) Render(ctx context.Context, b *compiler.Bundle, v targets.View) ([]File, error) {
	var out []File
	for _, name := range slices.Sorted(maps.Keys(b.Prompts)) {
		// What the state serves, never the bundle's wish.
		var served []string
		for _, l := range slices.Sorted(maps.Keys(v.Labels[name])) {
			served = append(served, l+"="+v.Labels[name][l])
		}
		out = append(out, File{Path: "rendered/kubernetes/" + name + ".yaml",
			Content: fmt.Appendf(nil, "# bundle %s\nprompt: %s\nserved: %s\n", b.Hash(), name, strings.Join(served, ","))})
	}
	return out, nil
}

type fakeRAG struct{ n int }

func (f *fakeRAG) Snapshot(ctx context.Context, b *compiler.Bundle, name string) (RAGSnapshot, error) {
	f.n++
	return RAGSnapshot{ID: "snap-" + name + "-" + RAGHash(b, b.RAG[name])[7:15], Summary: "1 file"}, nil
}
