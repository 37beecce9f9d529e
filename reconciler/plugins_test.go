package reconciler

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/evals"
	"github.com/cairn-dev/cairn/rag"
	"github.com/cairn-dev/cairn/state"
	"github.com/cairn-dev/cairn/state/statetest"
)

// copyExample copies examples/<name> into a temp dir so apply can write rendered/.
func copyExample(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join("..", "examples", name)
	dst := filepath.Join(t.TempDir(), name)
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	must(t, err)
	return dst
}

func compileExample(t *testing.T, dir string) *compiler.Bundle {
	t.Helper()
	b, ds := compiler.Compile(dir, compiler.Options{})
	if len(ds) > 0 {
		t.Fatalf("compile %s: %v", dir, ds)
	}
	return b
}

// The support example converges with the real plug-ins: the prompt is
// registered, the RAG source snapshotted, both suites run on the exact
// content hash and recorded, labels move, targets are written; a second
// apply does nothing.
func TestPluginsConvergeSupportExample(t *testing.T) {
	ctx := context.Background()
	dir := copyExample(t, "support-assistant")
	b := compileExample(t, dir)
	st := newStore(t)
	var held []string
	opts := ApplyOptions{Options: Plugins(st, PluginOptions{Approvals: 1, OnRenderHeld: func(r string) { held = append(held, r) }}),
		Actor: "test", Now: fixedClock()}
	res, err := PlanAndApply(ctx, b, st, opts)
	must(t, err)
	if len(res.Blocked) > 0 {
		t.Fatalf("blocked: %+v", res.Blocked)
	}
	count := map[ActionType]int{}
	for _, a := range res.Applied {
		count[a.Type]++
	}
	if count[RegisterPromptVersion] != 1 || count[SnapshotRAG] != 1 || count[RunEval] != 2 || count[MovePromptLabel] != 2 || count[RenderTarget] == 0 {
		t.Fatalf("applied %v", count)
	}
	if len(held) != 0 {
		t.Errorf("rendering held with approvals: %v", held)
	}
	p := b.Prompts["support-answer"]
	for _, ev := range []string{"support-quality", "support-safety"} {
		run, ok, err := st.LatestEvalRun(ctx, ev, p.ContentHash, EvalHashFor(b, b.Evals[ev]))
		must(t, err)
		if !ok || !run.Passed {
			t.Fatalf("%s: no passing run recorded for %s: %+v", ev, p.ContentHash, run)
		}
		full, err := st.GetEvalRun(ctx, run.ID)
		must(t, err)
		if len(full.Cases) != b.Evals[ev].Cases {
			t.Errorf("%s: %d cases recorded, dataset has %d", ev, len(full.Cases), b.Evals[ev].Cases)
		}
		// A plain apply records what the run depended on (judges, scorer
		// settings, prices), so stale-eval drift sees every run.
		raw, ok, err := st.GetRecord(ctx, RecordEvalInputs, EvalInputsKey(ev, p.ContentHash, EvalHashFor(b, b.Evals[ev])))
		must(t, err)
		want, err := CurrentEvalInputs(b, ev, nil)
		must(t, err)
		if !ok || string(raw) != string(jsonBytes(want)) {
			t.Errorf("%s: eval inputs recorded %q, want %s", ev, raw, jsonBytes(want))
		}
	}
	log, err := st.ListAudit(ctx)
	must(t, err)
	for _, e := range log {
		if e.Action == string(RunEval) && (!strings.Contains(e.After, `"dataset_hash":"sha256:`) || !strings.Contains(e.After, `"scorers":"sha256:`)) {
			t.Errorf("run_eval audit entry lacks its inputs: %s", e.After)
		}
	}
	// The eval cache lives in the state store.
	gens, err := st.ListRecords(ctx, evals.KindGen, "")
	must(t, err)
	if len(gens) == 0 {
		t.Error("no eval generations cached in the state store")
	}
	if snap, err := rag.Current(ctx, st, "help-center"); err != nil || snap.Totals.Chunks == 0 {
		t.Errorf("rag snapshot: %v %+v", err, snap)
	}
	for _, a := range res.Applied {
		if a.Type != RenderTarget {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(a.Object)))
		must(t, err)
		if !strings.HasPrefix(a.Object, "rendered/") || !strings.Contains(string(data), b.Hash()) {
			t.Errorf("%s: not under rendered/ or missing the bundle hash", a.Object)
		}
	}
	cm, err := os.ReadFile(filepath.Join(dir, "rendered/kubernetes/support/prompts-support-answer.yaml"))
	must(t, err)
	if !strings.Contains(string(cm), "1.4.0") {
		t.Errorf("prompt ConfigMap does not serve 1.4.0:\n%s", cm)
	}

	again, err := PlanAndApply(ctx, b, st, opts)
	must(t, err)
	if len(again.Applied) != 0 || len(again.Blocked) != 0 {
		t.Fatalf("second apply did %+v blocked %+v", again.Applied, again.Blocked)
	}
}

// A blocked move holds back only itself and what depends on it: while
// staging → 8 is blocked, the deployment renders what the state serves (prod
// at 7, its canary candidate left out with a note) and every unrelated file
// renders too; no file ever names version 8.
func TestRenderHeldWhileServedMoveBlocked(t *testing.T) {
	ctx := context.Background()
	dir := copyExample(t, "fraud-detection")
	b := compileExample(t, dir)
	// The registered metric alone gates staging here: the example's version 9
	// predictions are unfair on purpose (the fairness gate has its own tests).
	b.Models["fraud-detector"].Gates["staging"] = compiler.Gate{Metrics: map[string]string{"auc": ">= 0.90"}}
	st := newStore(t)
	reg := func(v string, auc float64) {
		_, err := st.RegisterModelVersion(ctx, state.ModelVersion{Model: "fraud-detector", Version: v, ArtifactURI: "s3://m/" + v,
			Metrics: map[string]float64{"auc": auc, "false_positive_rate": 0.03}, RegisteredAt: t0})
		must(t, err)
		must(t, statetest.Explain(ctx, st, t0, "fraud-detector", v))
	}
	reg("7", 0.94)
	reg("8", 0.89) // below staging's auc >= 0.90
	var held []string
	opts := ApplyOptions{Options: Plugins(st, PluginOptions{Approvals: 1, OnRenderHeld: func(r string) { held = append(held, r) }}),
		Actor: "test", Now: fixedClock()}
	res, err := PlanAndApply(ctx, b, st, opts)
	must(t, err)
	rendered := 0
	for _, a := range res.Applied {
		if a.Type == RenderTarget {
			rendered++
			data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(a.Object)))
			must(t, err)
			if strings.Contains(string(data), "s3://m/8") {
				t.Errorf("%s names version 8, whose gate is blocked:\n%s", a.Object, data)
			}
		}
	}
	if len(res.Blocked) != 1 || rendered == 0 || !strings.Contains(strings.Join(held, "\n"), `canary candidate alias "staging" has no version that passed its gates`) {
		t.Fatalf("blocked %+v, rendered %d, notes %q", res.Blocked, rendered, held)
	}
	isvc, err := os.ReadFile(filepath.Join(dir, "rendered/kserve/fraud-api.yaml"))
	must(t, err)
	if !strings.Contains(string(isvc), "s3://m/7") || strings.Contains(string(isvc), "canaryTrafficPercent") {
		t.Errorf("InferenceService does not serve 7 alone:\n%s", isvc)
	}

	// Fixing the model (a new version 9 with better metrics) unblocks rendering.
	reg("9", 0.95)
	b.Models["fraud-detector"].Aliases["staging"] = "9"
	res, err = PlanAndApply(ctx, b, st, opts)
	must(t, err)
	rendered = 0
	for _, a := range res.Applied {
		if a.Type == RenderTarget {
			rendered++
		}
	}
	if len(res.Blocked) != 0 || rendered == 0 {
		t.Fatalf("blocked %+v, rendered %d", res.Blocked, rendered)
	}
	isvc, err = os.ReadFile(filepath.Join(dir, "rendered/kserve/fraud-api.yaml"))
	must(t, err)
	if !strings.Contains(string(isvc), "s3://m/9") || !strings.Contains(string(isvc), "canaryTrafficPercent: 10") {
		t.Errorf("InferenceService does not send 10%% to the canary 9:\n%s", isvc)
	}
}

// A prompt suite asked to judge content other than the spec's is refused.
func TestEvalPluginRefusesOtherSubject(t *testing.T) {
	dir := copyExample(t, "support-assistant")
	b := compileExample(t, dir)
	ev := Plugins(newStore(t), PluginOptions{}).Evals
	_, err := ev.RunEval(context.Background(), b, EvalRequest{Eval: "support-safety", Target: "prompts/support-answer", TargetVersion: "1.3.0",
		SubjectHash: "sha256:0000", EvalHash: EvalHashFor(b, b.Evals["support-safety"])})
	if err == nil || !strings.Contains(err.Error(), "asked to judge prompts/support-answer@1.3.0 (sha256:0000)") {
		t.Fatalf("err = %v", err)
	}
	_, err = ev.RunEval(context.Background(), b, EvalRequest{Eval: "nope"})
	if err == nil || !strings.Contains(err.Error(), "eval nope is not defined") {
		t.Fatalf("err = %v", err)
	}
}

func TestOutcomeSummary(t *testing.T) {
	v := 0.5
	run := &evals.Run{Passed: false, Metrics: []evals.Aggregate{{Name: "accuracy", Value: &v, Op: ">=", Threshold: 0.8}},
		Cases: []evals.CaseResult{{ID: "b", Status: evals.Fail, Metrics: map[string]evals.MetricResult{"accuracy": {Score: &v}}},
			{ID: "a", Status: evals.Error, Error: "timeout"}}}
	out := Outcome(run)
	if out.Passed || out.Summary != "0 pass, 1 fail, 1 error; accuracy 0.5 >= 0.8 FAIL" || out.Metrics["accuracy"] != 0.5 {
		t.Fatalf("%+v", out)
	}
	j, _ := json.Marshal(out.Cases)
	if string(j) != `[{"case_id":"a","status":"ERROR","error":"timeout"},{"case_id":"b","status":"FAIL","scores":{"accuracy":0.5}}]` {
		t.Fatalf("cases %s", j)
	}
}

// What an eval run cost reaches the run apply records (operating metrics).
func TestOutcomeCarriesCost(t *testing.T) {
	out := Outcome(&evals.Run{Passed: true, InputTokens: 900, OutTokens: 300, CostUSD: 0.0125})
	if out.Tokens != 1200 || out.CostUSD != 0.0125 {
		t.Fatalf("outcome %+v", out)
	}
}
