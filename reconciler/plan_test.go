package reconciler

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/internal/diag"
	"github.com/cairn-dev/cairn/state"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/plans")

func TestPlanGolden(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		setup func(t *testing.T, st state.Store, b *compiler.Bundle) // state before the plan; may edit the bundle
		opts  Options
		// wantStatus maps "type object name" to a substring of the expected status.
		wantStatus map[string]string
	}{
		{
			name:  "new_prompt_version",
			setup: func(t *testing.T, st state.Store, b *compiler.Bundle) {},
			wantStatus: map[string]string{
				"register_prompt_version prompts/answer ":  "ready",
				"move_prompt_label prompts/answer staging": "ready",
			},
		},
		{
			name: "label_blocked_missing_eval",
			setup: func(t *testing.T, st state.Store, b *compiler.Bundle) {
				old := testBundle("1.0.0")
				_, err := st.RegisterPromptVersion(ctx, promptVersionOf(t, old))
				must(t, err)
				must(t, st.SetPointer(ctx, "prompts/answer", "prod", "", "1.0.0"))
				must(t, st.SetPointer(ctx, "prompts/answer", "staging", "", "1.1.0"))
				b.Prompts["answer"].Labels["prod"] = "1.1.0"
			},
			opts: Options{Approvals: 1},
			wantStatus: map[string]string{
				"register_prompt_version prompts/answer ": "ready",
				"move_prompt_label prompts/answer prod":   "blocked: eval answer-quality: no run for sha256:",
			},
		},
		{
			name: "label_move_runs_eval",
			setup: func(t *testing.T, st state.Store, b *compiler.Bundle) {
				b.Prompts["answer"].Labels["prod"] = "1.1.0"
			},
			opts: Options{Approvals: 1, Evals: &fakeRunner{}},
			wantStatus: map[string]string{
				"register_prompt_version prompts/answer ":      "ready",
				"move_prompt_label prompts/answer staging":     "ready",
				"run_eval evals/answer-quality prompts/answer": "ready",
				"move_prompt_label prompts/answer prod":        "ready",
			},
		},
		{
			name: "alias_metric_gate_passes",
			setup: func(t *testing.T, st state.Store, b *compiler.Bundle) {
				promptInSync(t, st, b)
				registerModel(t, st, "6", 0.90, 0.04)
				registerModel(t, st, "7", 0.93, 0.04)
				must(t, st.SetPointer(ctx, "models/fraud", "staging", "", "6"))
				b.Models["fraud"].Aliases["staging"] = "7"
			},
			wantStatus: map[string]string{"move_model_alias models/fraud staging": "ready"},
		},
		{
			name: "alias_metric_gate_fails",
			setup: func(t *testing.T, st state.Store, b *compiler.Bundle) {
				promptInSync(t, st, b)
				mv := registerModel(t, st, "8", 0.91, 0.07)
				must(t, st.SetPointer(ctx, "models/fraud", "prod", "", "7"))
				registerModel(t, st, "7", 0.93, 0.04)
				// The eval passed for this exact version, so only the metrics block.
				_, err := st.RecordEvalRun(ctx, state.EvalRun{Eval: "fraud-holdout", EvalHash: EvalHash(b.Evals["fraud-holdout"]),
					Target: "models/fraud", TargetVersion: "8", SubjectHash: mv.ContentHash(), Passed: true, Summary: "accuracy 0.85 >= 0.8"})
				must(t, err)
				b.Models["fraud"].Aliases["prod"] = "8"
				b.Models["fraud"].Aliases["staging"] = "9"
			},
			wantStatus: map[string]string{
				"move_model_alias models/fraud prod":    "blocked: metric auc: auc = 0.91, needs >= 0.92; metric fpr: fpr = 0.07, needs <= 0.05",
				"move_model_alias models/fraud staging": "blocked: version: version 9 is not registered",
			},
		},
		{
			name: "rollback",
			setup: func(t *testing.T, st state.Store, b *compiler.Bundle) {
				for _, v := range []string{"1.0.0", "1.1.0"} {
					_, err := st.RegisterPromptVersion(ctx, promptVersionOf(t, testBundle(v)))
					must(t, err)
				}
				must(t, st.SetPointer(ctx, "prompts/answer", "prod", "", "1.1.0"))
				must(t, st.SetPointer(ctx, "prompts/answer", "staging", "", "1.1.0"))
				_, err := st.RecordEvalRun(ctx, state.EvalRun{Eval: "answer-quality", EvalHash: EvalHash(b.Evals["answer-quality"]),
					Target: "prompts/answer", TargetVersion: "1.0.0", SubjectHash: testBundle("1.0.0").Prompts["answer"].ContentHash, Passed: true, Summary: "fact 0.91 >= 0.8"})
				must(t, err)
				b.Prompts["answer"].Labels["prod"] = "1.0.0"
			},
			opts:       Options{Approvals: 1},
			wantStatus: map[string]string{"move_prompt_label prompts/answer prod": "ready"},
		},
		{
			name:  "nothing_to_do",
			setup: promptInSync,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore(t)
			b := testBundle("1.1.0")
			tc.setup(t, st, b)
			p, err := BuildPlan(ctx, b, st, tc.opts)
			must(t, err)
			got := map[string]string{}
			for _, a := range p.Actions {
				got[string(a.Type)+" "+a.Object+" "+a.Name] = a.Status
			}
			if len(got) != len(tc.wantStatus) {
				t.Errorf("actions = %v, want exactly %d: %v", got, len(tc.wantStatus), tc.wantStatus)
			}
			for k, want := range tc.wantStatus {
				if !strings.Contains(got[k], want) {
					t.Errorf("%s: status %q, want it to contain %q", k, got[k], want)
				}
			}
			for _, f := range []string{FormatText, FormatJSON, FormatMarkdown} {
				var buf bytes.Buffer
				must(t, WritePlan(&buf, p, f))
				golden(t, filepath.Join("..", "testdata", "plans", tc.name+"."+map[string]string{FormatText: "txt", FormatJSON: "json", FormatMarkdown: "md"}[f]), buf.Bytes())
			}
		})
	}
}

// promptInSync records the bundle's prompt version and labels as applied.
func promptInSync(t *testing.T, st state.Store, b *compiler.Bundle) {
	ctx := context.Background()
	_, err := st.RegisterPromptVersion(ctx, promptVersionOf(t, b))
	must(t, err)
	for l, v := range b.Prompts["answer"].Labels {
		must(t, st.SetPointer(ctx, "prompts/answer", l, "", v))
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		must(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./reconciler -run %s -update)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (rerun with -update if intended):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestPlanVersionNotBumped(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	b := testBundle("1.1.0")
	_, err := st.RegisterPromptVersion(ctx, promptVersionOf(t, b))
	must(t, err)
	edited := testBundle("1.1.0")
	setPrompt(edited.Prompts["answer"], "1.1.0", "Answer {{ question }} rudely.")
	_, err = BuildPlan(ctx, edited, st, Options{})
	var ds diag.List
	if err == nil {
		t.Fatal("plan succeeded although the prompt changed without a version bump")
	}
	if l, ok := err.(diag.List); ok {
		ds = l
	}
	if len(ds) != 1 || ds[0].Code != CodeVersionNotBumped || ds[0].Pos.String() != "specs/prompts.cue:5:11" {
		t.Fatalf("err = %v, want one %s diagnostic at specs/prompts.cue:5:11", err, CodeVersionNotBumped)
	}
	msg := ds[0].Message
	for _, want := range []string{"answer", "1.1.0", b.Prompts["answer"].ContentHash, edited.Prompts["answer"].ContentHash} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not name %q", msg, want)
		}
	}
}

func TestParseBound(t *testing.T) {
	for _, tc := range []struct {
		in   string
		op   string
		v    float64
		fail bool
	}{{">= 0.92", ">=", 0.92, false}, {"<0.05", "<", 0.05, false}, {" == 1 ", "==", 1, false}, {"~ 3", "", 0, true}, {">= abc", "", 0, true}} {
		op, v, err := ParseBound(tc.in)
		if (err != nil) != tc.fail || op != tc.op || v != tc.v {
			t.Errorf("ParseBound(%q) = %q %v %v", tc.in, op, v, err)
		}
	}
}

func TestPlanIsDeterministic(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	b := testBundle("1.1.0")
	b.Prompts["answer"].Labels["prod"] = "1.1.0"
	b.Models["fraud"].Aliases = map[string]string{"prod": "3", "staging": "4", "canary": "5"}
	var first []byte
	for i := 0; i < 5; i++ {
		p, err := BuildPlan(ctx, b, st, Options{Evals: &fakeRunner{}, RAG: &fakeRAG{}, Renderer: fakeRenderer{}})
		must(t, err)
		var buf bytes.Buffer
		must(t, WritePlan(&buf, p, FormatJSON))
		if i == 0 {
			first = buf.Bytes()
		} else if !bytes.Equal(first, buf.Bytes()) {
			t.Fatal("plan JSON differs between runs")
		}
	}
}
