package gitops

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/audit"
	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/internal/diag"
	"github.com/cairn-dev/cairn/reconciler"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestMetricsAndHealth(t *testing.T) {
	f := newFixture(t)
	f.cfg.Metrics = NewMetrics()
	r := f.reconciler(t)
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()

	code, body := get(t, srv.URL+"/healthz")
	if code != 200 || !strings.Contains(body, `"role":"starting"`) {
		t.Errorf("healthz before any run: %d %s", code, body)
	}
	run := mustRun(t, r)
	mustRun(t, r)

	_, metrics := get(t, srv.URL+"/metrics")
	for _, want := range []string{
		`cairn_reconcile_runs_total{result="applied"} 1`,
		`cairn_reconcile_runs_total{result="skipped"} 1`,
		`cairn_reconcile_actions_total{kind="run_eval"} 2`,
		`cairn_reconcile_actions_total{kind="move_prompt_label"} 2`,
		`cairn_reconcile_drift_items{kind="rendered_edited"} 0`,
		`cairn_reconcile_run_duration_seconds_count 2`,
		`cairn_reconcile_eval_cost_usd_total `,
		`cairn_reconcile_leader 1`,
		`cairn_operating_metric{metric="change_fail_rate",stat="n"} `,
		`cairn_operating_metric{metric="deployment_frequency",stat="value"} 0`, // the fixture has no deployment
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	code, body = get(t, srv.URL+"/healthz")
	var h Health
	if err := json.Unmarshal([]byte(body), &h); err != nil {
		t.Fatalf("healthz %q: %v", body, err)
	}
	if code != 200 || !h.OK || h.Role != "leader" || h.Commit != run.Commit.SHA || h.LastRun == nil || h.LastRun.Result != ResultSkipped {
		t.Errorf("healthz after runs: %d %+v", code, h)
	}

	// A failing run turns /healthz to 503.
	f.cfg.Source = f.repo.dir + "-missing"
	r2 := f.reconciler(t)
	srv2 := httptest.NewServer(r2.Handler())
	defer srv2.Close()
	if run := r2.RunOnce(context.Background()); run.Result != ResultError || !strings.Contains(run.Error, "-missing") {
		t.Fatalf("missing repo: %s %q", run.Result, run.Error)
	}
	if code, body := get(t, srv2.URL+"/healthz"); code != 503 || !strings.Contains(body, `"ok":false`) {
		t.Errorf("healthz after a failed run: %d %s", code, body)
	}
}

type fixedLeader bool

func (l fixedLeader) Leading(context.Context) (bool, error) { return bool(l), nil }

func TestStandbyDoesNothing(t *testing.T) {
	f := newFixture(t)
	f.cfg.Leader = fixedLeader(false)
	run := f.reconciler(t).RunOnce(context.Background())
	if run.Result != ResultStandby || run.Commit.SHA != "" {
		t.Fatalf("standby run: %+v", run)
	}
	if log, _ := f.st.ListAudit(context.Background()); len(log) != 0 {
		t.Errorf("standby wrote %d audit entries", len(log))
	}
}

// blockingRunner holds the first eval until released, so the test can stop
// the reconciler in the middle of an action.
type blockingRunner struct {
	inner   reconciler.EvalRunner
	started chan struct{}
	release chan struct{}
	calls   atomic.Int32
}

func (b *blockingRunner) RunEval(ctx context.Context, bd *compiler.Bundle, req reconciler.EvalRequest) (reconciler.EvalOutcome, error) {
	if b.calls.Add(1) == 1 {
		close(b.started)
		<-b.release
	}
	if ctx.Err() != nil {
		return reconciler.EvalOutcome{}, fmt.Errorf("the running action saw a cancelled context: %w", ctx.Err())
	}
	return b.inner.RunEval(ctx, bd, req)
}

// A signal (ctx cancelled) while an eval runs lets that eval finish and be
// recorded, then stops before the next action; the next run resumes.
func TestInterruptFinishesTheCurrentAction(t *testing.T) {
	f := newFixture(t)
	br := &blockingRunner{started: make(chan struct{}), release: make(chan struct{})}
	plugins := f.cfg.Plugins
	f.cfg.Plugins = func(co *Checkout, approvals int) (reconciler.Options, error) {
		o, err := plugins(co, approvals)
		br.inner = o.Evals
		o.Evals = br
		return o, err
	}
	r := f.reconciler(t)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-br.started
		cancel()
		time.Sleep(20 * time.Millisecond) // the signal arrives while the eval runs
		close(br.release)
	}()
	run := r.RunOnce(ctx)
	if run.Result != ResultInterrupted {
		t.Fatalf("result %s (%s), want interrupted", run.Result, run.Error)
	}
	applied := types(run.Applied)
	if len(applied) == 0 || !strings.HasPrefix(applied[len(applied)-1], "run_eval evals/support-quality") {
		t.Fatalf("applied %v: want the interrupted eval finished and last", applied)
	}
	runs, _ := f.st.ListEvalRuns(context.Background(), "")
	if len(runs) != 1 {
		t.Errorf("%d eval runs recorded, want the one that was running", len(runs))
	}

	run = mustRun(t, r)
	if run.Result != ResultApplied || has(types(run.Applied), "run_eval evals/support-quality") {
		t.Errorf("resumed run: %s, applied %v (support-quality must not run again)", run.Result, types(run.Applied))
	}
}

func TestWaiverAndDeprecationDrift(t *testing.T) {
	now := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	b := &compiler.Bundle{
		Models: map[string]*compiler.Model{
			"old":    {Name: "old", Deprecated: "2026-03-20", ServedBy: []string{"api"}},
			"gone":   {Name: "gone", Deprecated: "2026-01-01"},
			"future": {Name: "future", Deprecated: "2027-01-01"},
			"none":   {Name: "none"},
		},
		Governance: compiler.Governance{Waivers: []compiler.Waiver{
			{Policy: "owners", Target: "models/a", Pos: diag.Position{File: "cairn.cue", Line: 7, Col: 3}},
			{Policy: "owners", Target: "models/b"},
			{Policy: "owners", Target: "models/c"},
		}},
	}
	ws := []audit.WaiverInfo{
		{Policy: "owners", Target: "models/a", Expires: "2026-03-10", Status: "expiring", DaysLeft: 8, Approver: "@lead"},
		{Policy: "owners", Target: "models/b", Expires: "2026-12-31", Status: "active"},
		{Policy: "owners", Target: "models/c", Expires: "2026-02-01", Status: "expired"},
	}
	got := WaiverDrift(b, ws)
	if len(got) != 2 || !strings.Contains(got[0].Detail, "models/a expires 2026-03-10 (in 8 days") || got[0].Pos.Line != 7 ||
		!strings.Contains(got[1].Detail, "models/c expired 2026-02-01") {
		t.Errorf("waiver drift = %v", got)
	}
	policy := diag.List{
		{Code: "deprecated_models", Severity: diag.Warn, Object: "prompts/p", Path: "model.id", Message: `model id "gpt-x" is deprecated on 2026-04-01 (in 30 days); plan the move`},
		{Code: "deprecated_models", Severity: diag.Warn, Object: "models/old", Path: "deprecated", Message: "duplicate of the model's own date"},
		{Code: "owners", Severity: diag.Deny, Object: "models/x", Message: "not a deprecation"},
	}
	dep := DeprecationDrift(b, policy, now)
	var lines []string
	for _, d := range dep {
		lines = append(lines, d.Object+": "+d.Detail)
	}
	want := []string{
		"models/gone: deprecated since 2026-01-01, not served",
		"models/old: deprecated on 2026-03-20 (in 18 days), served by api",
		`prompts/p: model id "gpt-x" is deprecated on 2026-04-01 (in 30 days); plan the move`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("deprecation drift:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

func TestChangeReason(t *testing.T) {
	last := &lastRecord{Commit: "aaaa", Fingerprint: "f1", Approvals: 1, Result: ResultApplied}
	for _, c := range []struct {
		name       string
		last       *lastRecord
		commit, fp string
		approvals  int
		wantEmpty  bool
		wantSubstr string
	}{
		{"first", nil, "aaaa", "f1", 1, false, "first reconcile"},
		{"same", last, "aaaa", "f1", 1, true, ""},
		{"commit", last, "bbbb", "f1", 1, false, "new commit bbbb"},
		{"state", last, "aaaa", "f2", 1, false, "state changed"},
		{"approvals", last, "aaaa", "f1", 2, false, "approvals changed from 1 to 2"},
		{"retry", &lastRecord{Commit: "aaaa", Fingerprint: "f1", Approvals: 1, Result: ResultInterrupted}, "aaaa", "f1", 1, false, "did not finish"},
	} {
		got := changeReason(c.last, c.commit, c.fp, c.approvals)
		if (got == "") != c.wantEmpty || !strings.Contains(got, c.wantSubstr) {
			t.Errorf("%s: %q", c.name, got)
		}
	}
}
