package github

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/internal/diag"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/github")

func f64(v float64) *float64 { return &v }

func sampleReport() Report {
	return Report{
		Project: "support-assistant", BaseRef: "main", BaseSHA: testBase, HeadRef: "move-label", HeadSHA: testHead,
		BundleHash: "sha256:4f1c2a9e0b7d3c5a8e6f1029384756abcdef0123456789abcdef0123456789ab",
		Diagnostics: diag.List{
			{Severity: diag.Warn, Code: "llm_budget", Title: "LLM deployments stay under budget", Message: "projected $412.50/month is 92% of the $450 budget", Object: "deployments/support-prod", Path: "budget", Pos: diag.Position{File: "specs/deployments.cue", Line: 18, Col: 3}},
			{Severity: diag.Deny, Code: "prod_gated_by_evals", Message: "label prod of prompts/support-answer is not gated by a toxicity eval", Object: "prompts/support-answer", Path: "gates.prod", Pos: diag.Position{File: "specs/prompts.cue", Line: 27, Col: 5}},
			{Severity: diag.Waived, Code: "canary_max_traffic", Message: "first canary at 20% | above 10%", Object: "deployments/support-canary", Waiver: "approved by ana@acme.example until 2026-12-31: load test </details> done", Pos: diag.Position{File: "specs/deployments.cue", Line: 40, Col: 5}},
		},
		Plan: Plan{Made: true, Changes: 3, Blocked: 1, Summary: "1 prompt version to register, 1 label to move, 1 eval to run",
			Markdown: "| action | object | gate |\n|---|---|---|\n| register_prompt_version | prompts/support-answer 1.4.0 | ready |\n| run_eval | evals/support-factuality | ready |\n| move_prompt_label | prompts/support-answer prod 1.3.0 → 1.4.0 | blocked: evals/support-toxicity not run |\n\n```diff\n- Answer politely.\n+ Answer politely and briefly.\n"},
		Evals: []SuiteDelta{
			{Suite: "support-factuality", Target: "prompts/support-answer",
				Metrics: []MetricDelta{
					{Name: "factuality", Base: f64(0.84), Head: f64(0.81), Threshold: f64(0.8)},
					{Name: "cost_usd", Base: f64(0.0021), Head: f64(0.0016), Threshold: f64(0.005), LowerIsBetter: true},
				},
				Changed: []CaseChange{
					{ID: "refund-07", Metric: "factuality", Base: "PASS", Head: "FAIL", Note: "answer omits the 30-day window"},
					{ID: "shipping-12", Metric: "factuality", Base: "", Head: "PASS", Note: "new case"},
				}},
			{Suite: "support-toxicity", Target: "prompts/support-answer", Error: "provider openai: OPENAI_API_KEY is not set",
				Metrics: []MetricDelta{{Name: "toxicity", Base: f64(0.01), Threshold: f64(0.05), LowerIsBetter: true}}},
		},
		RunURL: "https://github.com/acme/ml-specs/actions/runs/11223344",
	}
}

func TestRenderCommentGolden(t *testing.T) {
	got := RenderComment(sampleReport())
	golden := filepath.Join(fixtures, "comment.golden.md")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("comment differs from %s (run go test ./github -update and review the diff):\n%s", golden, got)
	}
	// The user's "</details>" is escaped and the plan's open fence closed.
	balanced(t, "comment", got)
	if strings.Contains(got, "load test </details>") {
		t.Error("waiver text not escaped")
	}
	// The summary comes first.
	if !strings.HasPrefix(got, sampleReport().Summary()) {
		t.Error("comment does not start with the summary")
	}
}

func TestConclusion(t *testing.T) {
	pass := []MetricDelta{{Name: "m", Head: f64(0.9), Threshold: f64(0.8)}}
	tests := []struct {
		name string
		r    Report
		want string
	}{
		{"clean", Report{}, Success},
		{"clean with passing evals", Report{Evals: []SuiteDelta{{Metrics: pass}}}, Success},
		{"waived only", Report{Diagnostics: diag.List{{Severity: diag.Waived}}}, Success},
		{"warning", Report{Diagnostics: diag.List{{Severity: diag.Warn}}}, Neutral},
		{"problem", Report{Problems: []string{"base does not compile"}}, Neutral},
		{"deny", Report{Diagnostics: diag.List{{Severity: diag.Warn}, {Severity: diag.Deny}}}, Failure},
		{"invalid spec", Report{Diagnostics: diag.List{{Severity: diag.Error}}}, Failure},
		{"metric below threshold", Report{Evals: []SuiteDelta{{Metrics: []MetricDelta{{Name: "f", Head: f64(0.7), Threshold: f64(0.8)}}}}}, Failure},
		{"cost above bound", Report{Evals: []SuiteDelta{{Metrics: []MetricDelta{{Name: "c", Head: f64(0.7), Threshold: f64(0.5), LowerIsBetter: true}}}}}, Failure},
		{"suite did not run", Report{Evals: []SuiteDelta{{Metrics: pass, Error: "no key"}}}, Failure},
	}
	for _, tt := range tests {
		if got := tt.r.Conclusion(); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
	if got := sampleReport().Headline(); got != "1 denial, 1 warning, 1 waived, 3 changes, 1 failing metric" {
		t.Errorf("headline %q", got)
	}
}

// A report whose spec did not compile has no plan: the comment says so and
// never that nothing changes; a plan with no actions says "No changes".
func TestCommentWithoutPlan(t *testing.T) {
	none := RenderComment(Report{Project: "p", Problems: []string{"the spec does not compile; policies and plan were skipped"}})
	if !strings.Contains(none, "No plan was made: see the problems above.") || strings.Contains(none, "No changes") {
		t.Errorf("no plan:\n%s", none)
	}
	empty := RenderComment(Report{Project: "p", Plan: Plan{Made: true}})
	if !strings.Contains(empty, "No changes. The registry and rendered targets match the specs.") {
		t.Errorf("empty plan:\n%s", empty)
	}
}
