package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const teamPolicy = `# METADATA
# title: Models name a tier
# custom:
#   id: team_tier
package cairn.policy.team_tier

deny contains v if {
	some name, m in input.bundle.models
	not m.tags.tier
	v := {"msg": sprintf("model %s has no tier tag", [name]), "target": sprintf("models/%s", [name]), "path": "tags"}
}
`

// TestIncrementalCheck: after any edit — a spec, a team policy, a waiver, a
// dataset file, the time, the cairn build — a check with the cache gives
// exactly what a check without it gives, and re-runs exactly the policies
// whose Rego or whose part of the input the edit changed.
func TestIncrementalCheck(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	edit := func(path, old, new string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			t.Helper()
			p := filepath.Join(dir, filepath.FromSlash(path))
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), old) {
				t.Fatalf("%s does not contain %q; the example changed", path, old)
			}
			if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, dir string)
		salt   string
		now    time.Time
		ran    []string // exactly these policies run again (nil: none)
		all    bool     // every policy runs again
		differ bool     // the diagnostics must change
	}{
		{name: "nothing"},
		{name: "a model's owner", change: edit("specs/models.cue", `owner:       "@acme/risk-ml"`, `owner:       "team:tbd"`),
			// Not canary_traffic, prod_slo, rag_exposure, rag_sources: they read no model.
			// Nor judge_independence: it reads the model id an eval's target
			// calls off the eval (TestJudgedModelFollowsTheTarget). Nor
			// llm_budget: whether a deployment serves an LLM is its derived
			// kind (util.is_llm), which a model's kind changes with it.
			ran: []string{"ai_act_monitoring", "deprecated_models", "drift_monitoring", "fairness_gated",
				"llm_prod_evals", "no_secrets", "owners", "pii_risk", "prod_gated", "protected_features", "sensitive_domains", "team_tier"}, differ: true},
		// A line added above the models moves them: the built-ins read no
		// position and re-run nothing; the team's policy is keyed with the
		// positions (it could read them). The findings' positions move
		// (the cached check is compared with an uncached one, positions and all).
		{name: "a line added above the models", change: edit("specs/models.cue", "package fraud\n", "package fraud\n\n// The fraud models.\n"),
			ran: []string{"team_tier"}, differ: true},
		{name: "a team policy", change: edit("policies/team.rego", "has no tier tag", "names no tier"),
			ran: []string{"team_tier"}, differ: true},
		{name: "a waiver", change: edit("cairn.cue", "waivers: []",
			`waivers: [{policy: "team_tier", target: "models/fraud-detector", reason: "tiers are assigned next quarter", expires: "2026-07-01", approver: "@acme/risk-ml"}]`),
			ran: []string{"judged_prod_gates", "no_secrets", "sensitive_domains", "waivers"}, differ: true},
		{name: "a dataset file", change: edit("evals/fraud-holdout.jsonl", `"txn_amount": 972.17`, `"txn_amount": 972.18`),
			// Not owners or prod_gated: they judge a model or prompt by its own
			// fields and read no eval.
			ran: []string{"deprecated_models", "fairness_gated", "judge_independence", "judged_prod_gates", "llm_prod_evals",
				"no_secrets", "protected_features"}},
		// The AI Act policies judge their dates by the check's day, and so
		// does deprecated_models a registry model's deprecated date (it
		// also reads the time through which catalog models are past or near
		// their date, policies/clock.go); waivers reads it through which
		// waivers have expired (the example has none).
		{name: "the time", now: now.Add(48 * time.Hour), ran: []string{"ai_act_fria", "ai_act_monitoring", "ai_act_oversight", "ai_disclosure", "deprecated_models", "prior_defined_bounds"}},
		{name: "an hour on", now: now.Add(time.Hour)},
		{name: "a year on", now: now.AddDate(1, 0, 0), ran: []string{"ai_act_fria", "ai_act_monitoring", "ai_act_oversight", "ai_disclosure", "deprecated_models", "prior_defined_bounds"}},
		{name: "the cairn build", salt: "cairn 2.0", all: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyTree(t, filepath.Join("..", "examples", "fraud-detection"))
			os.MkdirAll(filepath.Join(dir, "policies"), 0o755)
			os.WriteFile(filepath.Join(dir, "policies", "team.rego"), []byte(teamPolicy), 0o644)
			cache := t.TempDir()
			opts := CheckOptions{Now: now, CacheDir: cache, CacheSalt: "cairn 1.0"}
			first, err := Check(ctx, dir, opts)
			if err != nil || !first.Compiled() {
				t.Fatalf("check: %v %s", err, first.Diagnostics.Error())
			}
			if len(first.Evaluated) != len(first.Policies) {
				t.Fatalf("a cold cache ran %d of %d policies", len(first.Evaluated), len(first.Policies))
			}
			if tc.change != nil {
				tc.change(t, dir)
			}
			if tc.salt != "" {
				opts.CacheSalt = tc.salt
			}
			if !tc.now.IsZero() {
				opts.Now = tc.now
			}
			got, err := Check(ctx, dir, opts)
			if err != nil || !got.Compiled() {
				t.Fatalf("check after the edit: %v %s", err, got.Diagnostics.Error())
			}
			want, err := Check(ctx, dir, CheckOptions{Now: opts.Now})
			if err != nil {
				t.Fatal(err)
			}
			if g, w := diagText(got), diagText(want); g != w {
				t.Fatalf("cached check differs from a full one:\ncached:\n%s\nfull:\n%s", g, w)
			}
			gb, _ := got.Bundle.JSON()
			wb, _ := want.Bundle.JSON()
			if string(gb) != string(wb) {
				t.Fatal("cached bundle differs from a full compile's")
			}
			if tc.differ && diagText(got) == diagText(first) {
				t.Fatal("the edit changed nothing the check reports; the test edits the wrong thing")
			}
			ran := slices.Sorted(slices.Values(got.Evaluated))
			switch {
			case tc.all:
				if len(ran) != len(got.Policies) {
					t.Errorf("ran %v; want every policy", ran)
				}
			default:
				wantRan := slices.Sorted(slices.Values(tc.ran))
				if !slices.Equal(ran, wantRan) {
					t.Errorf("ran %v\nwant %v", ran, wantRan)
				}
			}
		})
	}
}

func diagText(c *Checked) string {
	var b strings.Builder
	for _, d := range c.Diagnostics {
		b.WriteString(d.String())
		b.WriteString(" [" + d.Waiver + "]\n")
	}
	return b.String()
}

// TestCachedCheckAppliesWaivers: when every policy's result comes from the
// cache, the waivers are still judged (on an input holding only what they
// read) and let through exactly what a full check lets through.
func TestCachedCheckAppliesWaivers(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	dir := copyTree(t, filepath.Join("..", "examples", "fraud-detection"))
	os.MkdirAll(filepath.Join(dir, "policies"), 0o755)
	os.WriteFile(filepath.Join(dir, "policies", "team.rego"), []byte(teamPolicy), 0o644)
	p := filepath.Join(dir, "cairn.cue")
	b, _ := os.ReadFile(p)
	os.WriteFile(p, []byte(strings.Replace(string(b), "waivers: []",
		`waivers: [{policy: "team_tier", target: "models/fraud-detector", reason: "tiers are assigned next quarter", expires: "2026-07-01", approver: "@acme/risk-ml"}]`, 1)), 0o644)
	opts := CheckOptions{Now: now, CacheDir: t.TempDir(), CacheSalt: "cairn 1.0"}
	if _, err := Check(ctx, dir, opts); err != nil {
		t.Fatal(err)
	}
	got, err := Check(ctx, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Evaluated) != 0 {
		t.Fatalf("ran %v; want every result from the cache", got.Evaluated)
	}
	want, err := Check(ctx, dir, CheckOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if g, w := diagText(got), diagText(want); g != w || !strings.Contains(g, "waived team_tier") {
		t.Fatalf("cached check:\n%s\nfull check:\n%s", g, w)
	}
	// Past the expiry the same cached results are denied again.
	opts.Now = time.Date(2026, 7, 2, 0, 0, 0, 0, time.UTC)
	late, err := Check(ctx, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(diagText(late), "waived team_tier") {
		t.Fatalf("an expired waiver still waives:\n%s", diagText(late))
	}
}

// TestJudgedModelFollowsTheTarget: judge_independence reads the model an
// eval judges off the eval (target_model_id, which the compiler derives from
// the target): when the prompt's model becomes the judge's, the cached check
// denies it, as a full one does.
func TestJudgedModelFollowsTheTarget(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	dir := copyTree(t, filepath.Join("..", "examples", "support-assistant"))
	evals := filepath.Join(dir, "specs", "evals.cue")
	b, _ := os.ReadFile(evals)
	judged := strings.Replace(string(b), `factuality: {scorer: "factuality",`, `factuality: {scorer: "factuality", judge: {provider: "openai", model: "gpt-4o"},`, 1)
	if judged == string(b) {
		t.Fatal("the example changed")
	}
	os.WriteFile(evals, []byte(judged), 0o644)
	opts := CheckOptions{Now: now, CacheDir: t.TempDir(), CacheSalt: "cairn 1.0"}
	first, err := Check(ctx, dir, opts)
	if err != nil || !first.Compiled() {
		t.Fatalf("check: %v %s", err, first.Diagnostics.Error())
	}
	if strings.Contains(diagText(first), "judge_independence") {
		t.Fatalf("a different judge is reported:\n%s", diagText(first))
	}
	prompts := filepath.Join(dir, "specs", "prompts.cue")
	p, _ := os.ReadFile(prompts)
	os.WriteFile(prompts, []byte(strings.Replace(string(p), `id: "gpt-4o-mini"`, `id: "gpt-4o"`, 1)), 0o644)
	got, err := Check(ctx, dir, opts)
	if err != nil || !got.Compiled() {
		t.Fatalf("check: %v %s", err, got.Diagnostics.Error())
	}
	want, err := Check(ctx, dir, CheckOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if g, w := diagText(got), diagText(want); g != w || !strings.Contains(g, "deny judge_independence") {
		t.Fatalf("cached check:\n%s\nfull check:\n%s", g, w)
	}
	if !slices.Contains(got.Evaluated, "judge_independence") {
		t.Fatalf("judge_independence did not run again: %v", got.Evaluated)
	}
}
