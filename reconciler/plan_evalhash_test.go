package reconciler

import (
	"context"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/state"
)

// Eval evidence for a prompt with a rag source is tied to the knowledge
// base's content: when a document changes, the passing run no longer opens
// the gate and the plan re-runs the suite.
func TestEvalEvidenceStaleWhenRAGChanges(t *testing.T) {
	ctx := context.Background()
	withRAG := func() *compiler.Bundle {
		b := testBundle("1.1.0")
		p := b.Prompts["answer"]
		p.RAG = "kb"
		setPrompt(p, p.Version, p.Template)
		p.Labels["prod"] = "1.1.0"
		return b
	}
	for _, tc := range []struct {
		name     string
		edit     func(b *compiler.Bundle)
		wantGate string
	}{
		{"kb unchanged", func(*compiler.Bundle) {}, GatePassed},
		{"kb document edited", func(b *compiler.Bundle) { b.Files["kb/a.md"] = "sha256:k2" }, GatePending},
		{"kb chunking changed", func(b *compiler.Bundle) { b.RAG["kb"].Chunking.Size = 300 }, GatePending},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore(t)
			b := withRAG()
			_, err := st.RegisterPromptVersion(ctx, promptVersionOf(t, b))
			must(t, err)
			must(t, st.SetPointer(ctx, "prompts/answer", "staging", "", "1.1.0"))
			_, err = st.RecordEvalRun(ctx, state.EvalRun{Eval: "answer-quality", EvalHash: EvalHashFor(b, b.Evals["answer-quality"]),
				Target: "prompts/answer", TargetVersion: "1.1.0", SubjectHash: b.Prompts["answer"].ContentHash, Passed: true, Summary: "fact 0.9 >= 0.8"})
			must(t, err)

			tc.edit(b)
			p, err := BuildPlan(ctx, b, st, Options{Approvals: 1, Evals: &fakeRunner{}})
			must(t, err)
			var move *Action
			var runs []Action
			for i, a := range p.Actions {
				switch a.Type {
				case MovePromptLabel:
					move = &p.Actions[i]
				case RunEval:
					runs = append(runs, a)
				}
			}
			if move == nil {
				t.Fatalf("no label move in %+v", p.Actions)
			}
			var gate GateCheck
			for _, g := range move.Gates {
				if g.Gate == "eval answer-quality" {
					gate = g
				}
			}
			if gate.Status != tc.wantGate {
				t.Fatalf("gate = %+v, want %s", gate, tc.wantGate)
			}
			if tc.wantGate == GatePending {
				if len(runs) != 1 || runs[0].After != EvalHashFor(b, b.Evals["answer-quality"]) || !strings.Contains(runs[0].Reason, "rag kb content") {
					t.Fatalf("run_eval actions = %+v", runs)
				}
			} else if len(runs) != 0 {
				t.Fatalf("unexpected run_eval: %+v", runs)
			}
		})
	}
}

// Without a rag source the evidence key is the suite's own hash, so runs
// recorded before rag content was keyed still count.
func TestEvalHashForWithoutRAG(t *testing.T) {
	b := testBundle("1.1.0")
	for _, name := range []string{"answer-quality", "fraud-holdout"} {
		if got, want := EvalHashFor(b, b.Evals[name]), EvalHash(b.Evals[name]); got != want {
			t.Errorf("%s: EvalHashFor = %s, EvalHash = %s", name, got, want)
		}
	}
}
