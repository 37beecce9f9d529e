package operating

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/data"
	"github.com/cairn-dev/cairn/reconciler"
	"github.com/cairn-dev/cairn/state"
	"github.com/cairn-dev/cairn/targets"
)

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func h(n float64) time.Time { return t0.Add(time.Duration(n * float64(time.Hour))) }

// fakeHistory answers FirstNaming from a table of commit times.
type fakeHistory map[string]time.Time

func (f fakeHistory) FirstNaming(commit, file, alias, version string) (time.Time, bool) {
	t, ok := f[commit]
	return t, ok
}

// history builds, by hand, what a quarter of one deployment looks like in
// the audit log (times in hours after t0, failure window 24 h):
//
//	 0   v1 to prod, deployed (stable)                      D1; registered −1, commit c1 at −2
//	48   v2 as the canary (10 %)                             D2; registered 40, commit c2 at 47
//	50   the canary withdrawn, stable v1 again              D2 failed (rolled back); recovery candidate 50
//	60   drift (computed at 58) fires trigger ev1
//	80   v3 (trigger ev1) to prod                           D3; registered 70, commit c3 at 75; 80−50 ≥ 24: D2 recovered at 50
//	90   hotfix apply: v4 to prod                           D4 (hotfix); registered 89, commit c4 at 89.5; D3 failed (hotfix)
//
// Worked out: 4 deployments; lead time from commit 2, 1, 5, 0.5 h →
// median (2nd of 4) 1 h, p90 (4th) 5 h; from registration 1, 8, 10, 1 h →
// median 1 h, p90 10 h; failed D2 and D3: change fail rate 0.5; recovery
// D2 50−48 = 2 h, D3 90−80 = 10 h (nothing after 90, and now is past
// 90+24) → median (1st of 2) 2 h; rework D4: 0.25; drift: evidence →
// trigger 60−58 = 2 h, trigger → production 80−60 = 20 h, three deployed
// versions without a trigger id left out; retraining cost (v3 $14.20, v4
// $5.80, v5 triggered without its own: the declared $7; v2 none) $9.00. Eval spend per release: v2 600 tokens $0.30,
// v3 1000 tokens $0.50 over 4 releases: 400 tokens, $0.20. Serving:
// dep-a $3,000 a month over 100,000 requests a day = $1.00 per 1,000;
// dep-b declares no traffic (left out).
func history(t *testing.T) (*compiler.Bundle, state.Store) {
	t.Helper()
	ctx := context.Background()
	st, err := state.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	reg := func(v string, at float64, trigger string, cost float64) {
		mv := state.ModelVersion{Model: "m", Version: v, ArtifactURI: "s3://m/" + v, RegisteredAt: h(at), TriggerID: trigger}
		if cost > 0 {
			mv.Run = &state.TrainingRun{CostUSD: cost}
		}
		if _, err := st.RegisterModelVersion(ctx, mv); err != nil {
			t.Fatal(err)
		}
	}
	// RecordServing keeps this index of the deployments that served an object.
	if err := st.PutRecord(ctx, reconciler.RecordServedBy, "models/m dep-a", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	for _, r := range []state.EvalRun{
		{Eval: "e", SubjectHash: "sha256:v2", Target: "models/m", TargetVersion: "2", Passed: true, StartedAt: h(44), FinishedAt: h(44), Tokens: 600, CostUSD: 0.30},
		{Eval: "e", SubjectHash: "sha256:v3", Target: "models/m", TargetVersion: "3", Passed: true, StartedAt: h(75), FinishedAt: h(75), Tokens: 1000, CostUSD: 0.50},
	} {
		if _, err := st.RecordEvalRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	reg("1", -1, "", 0)
	reg("2", 40, "", 0)
	reg("3", 70, "ev1", 14.20)
	reg("4", 89, "", 5.80)
	reg("5", 95, "ev2", 0) // triggered, no cost of its own: the declared $7
	dr, _ := json.Marshal(data.DriftResult{Model: "m", EvidenceID: "drift-1", ComputedAt: h(58).Format(time.RFC3339)})
	if err := st.PutRecord(ctx, data.KindDrift, "m/drift-1", dr); err != nil {
		t.Fatal(err)
	}
	add := func(at float64, action, object, commit string, after any) {
		t.Helper()
		b, _ := json.Marshal(after)
		if _, err := st.AppendAudit(ctx, state.AuditEntry{Time: h(at), Actor: "ci", Commit: commit, Action: action, Object: object, After: string(b)}); err != nil {
			t.Fatal(err)
		}
	}
	serve := func(at float64, stable string, sp int, canary string) {
		e := reconciler.ServeEntry{Deployment: "dep-a", Stable: &targets.ServedVersion{Object: "models/m", Version: stable, Percent: sp}}
		if canary != "" {
			e.Canary = &targets.ServedVersion{Object: "models/m", Version: canary, Percent: 100 - sp}
		}
		add(at, reconciler.ActionServe, "deployments/dep-a", "", e)
	}
	move := func(at float64, alias, v, commit string) {
		add(at, string(reconciler.MoveModelAlias), "models/m", commit, map[string]string{"name": alias, "version": v})
	}
	add(0, reconciler.AuditPolicy, "bundles/b1", "c1", map[string]any{"denials": 0})
	move(0, "prod", "1", "c1")
	serve(0, "1", 100, "")
	add(48, reconciler.AuditPolicy, "bundles/b2", "c2", map[string]any{"denials": 0})
	move(48, "staging", "2", "c2")
	serve(48, "1", 90, "2")
	serve(50, "1", 100, "")
	add(60, string(reconciler.TriggerTraining), "models/m", "", reconciler.TrainingRun{EvidenceID: "ev1",
		Evidence: []reconciler.TrainingEvidence{{Kind: "drift", EvidenceID: "drift-1"}}})
	add(80, reconciler.AuditPolicy, "bundles/b3", "c3", map[string]any{"denials": 0})
	move(80, "prod", "3", "c3")
	serve(80, "3", 100, "")
	add(90, reconciler.AuditPolicy, "bundles/b4", "c4", map[string]any{"denials": 0, "hotfix": true})
	move(90, "prod", "4", "c4")
	serve(90, "4", 100, "")
	b := &compiler.Bundle{Models: map[string]*compiler.Model{"m": {Name: "m", Aliases: map[string]string{"prod": "4", "staging": "2"},
		Training: &compiler.Training{Trigger: &compiler.TrainingTrigger{Webhook: "https://train", CostUSD: 7}}}},
		Deployments: map[string]*compiler.Deployment{
			"dep-a": {Name: "dep-a", Model: "m", Alias: "prod", Kind: "classic", Traffic: &compiler.Traffic{RequestsPerDay: 100_000}, Cost: &compiler.ServingCost{USDPerMonth: 3000}},
			"dep-b": {Name: "dep-b", Model: "m", Alias: "staging", Kind: "classic"},
		}}
	return b, st
}

func figures(r *Report) map[string]Figure {
	out := map[string]Figure{}
	for _, f := range r.Figures {
		out[f.Name] = f
	}
	return out
}

func TestCompute(t *testing.T) {
	b, st := history(t)
	hist := fakeHistory{"c1": h(-2), "c2": h(47), "c3": h(75), "c4": h(89.5)}
	r, err := Compute(context.Background(), b, st, Options{Now: h(30 * 24), Window: 30 * 24 * time.Hour, History: hist})
	if err != nil {
		t.Fatal(err)
	}
	f := figures(r)
	want := []struct {
		name      string
		value     float64
		p90       float64 // 0: none
		n, leftOf int
	}{
		{"deployment_frequency", 4, 0, 4, 0},
		{"change_lead_time_from_commit", 1, 5, 4, 0},
		{"change_lead_time_from_registration", 1, 10, 4, 0},
		{"failed_deployments", 2, 0, 4, 0},
		{"change_fail_rate", 0.5, 0, 4, 0},
		{"failed_deployment_recovery_time", 2, 0, 2, 0},
		{"deployment_rework_rate", 0.25, 0, 4, 0},
		{"drift_reaction_evidence_to_trigger", 2, 0, 1, 0},
		{"drift_reaction_trigger_to_production", 20, 0, 1, 3},
		{"cost_per_retraining", 9, 0, 3, 1},
		{"eval_tokens_per_release", 400, 0, 4, 0},
		{"eval_cost_per_release", 0.2, 0, 4, 0},
		{"cost_per_1k_predictions", 1, 0, 1, 1},
	}
	for _, w := range want {
		g, ok := f[w.name]
		switch {
		case !ok || g.Value == nil:
			t.Errorf("%s: missing (%+v)", w.name, g)
		case abs(*g.Value-w.value) > 1e-9 || g.N != w.n || g.LeftOut != w.leftOf:
			t.Errorf("%s = %v (n=%d, left out %d), want %v (n=%d, left out %d)", w.name, *g.Value, g.N, g.LeftOut, w.value, w.n, w.leftOf)
		case w.p90 != 0 && (g.P90 == nil || abs(*g.P90-w.p90) > 1e-9):
			t.Errorf("%s p90 = %v, want %v", w.name, g.P90, w.p90)
		}
		if g.Definition == "" {
			t.Errorf("%s has no definition", w.name)
		}
	}
	if bd := f["deployment_frequency"].Breakdown; bd["dep-a"] != 4 {
		t.Errorf("breakdown %v", bd)
	}
	if d := r.Deployments[1]; d.Version != "2" || d.Role != "canary" || d.Failed != "rolled back at 2026-03-03T02:00:00Z" || d.Recovered == nil || !d.Recovered.Equal(h(50)) {
		t.Errorf("D2 = %+v", d)
	}

	// Window boundaries: [now − window, now). With now at 90 h and a 90 h
	// window, D1 (at 0) is in and D4 (at 90) out — and so is the hotfix at
	// 90 that would have failed D3.
	r, err = Compute(context.Background(), b, st, Options{Now: h(90), Window: 90 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	f = figures(r)
	if v := f["deployment_frequency"].Value; v == nil || *v != 3 {
		t.Errorf("frequency in [0, 90) = %v, want 3", v)
	}
	if v := f["failed_deployments"].Value; v == nil || *v != 1 {
		t.Errorf("failed in [0, 90) = %v, want 1 (D2; D3's hotfix is at now, outside)", v)
	}
	if g := f["change_lead_time_from_commit"]; g.Value != nil || g.Note == "" {
		t.Errorf("without history: %+v", g)
	}
	// D2 recovered at 50: the next entry (80) came a window later.
	if d := r.Deployments[1]; d.Recovered == nil {
		t.Errorf("D2 not recovered: %+v", d)
	}
	// A recovery candidate younger than the window is not a recovery yet.
	r, err = Compute(context.Background(), b, st, Options{Now: h(60), Window: 60 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if d := r.Deployments[1]; d.Failed == "" || d.Recovered != nil {
		t.Errorf("at 60 h D2 failed at 50 and has not held a whole window yet: %+v", d)
	}
	// A window starting after D1: the deployment's state before it comes
	// from its last entry (v1 serving), so v1 is not a deployment at 48 h.
	r, err = Compute(context.Background(), b, st, Options{Now: h(30 * 24), Window: (30*24 - 30) * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if f := figures(r); len(r.Deployments) != 3 || r.Deployments[0].Version != "2" || *f["change_fail_rate"].Value != 2.0/3 {
		t.Errorf("window from 30 h: %+v", r.Deployments)
	}
	// Only one model: another object's filter selects nothing.
	r, err = Compute(context.Background(), b, st, Options{Now: h(30 * 24), Window: 30 * 24 * time.Hour, Object: "models/other"})
	if err != nil || len(r.Deployments) != 0 {
		t.Errorf("filter: %+v %v", r.Deployments, err)
	}
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}
