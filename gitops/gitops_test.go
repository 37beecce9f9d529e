package gitops

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/cairn-dev/cairn/prices"
	"github.com/cairn-dev/cairn/reconciler"
	"github.com/cairn-dev/cairn/state"
)

var fixedNow = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

// specRepo is a git repository made by the test from an example spec repo.
type specRepo struct {
	t    *testing.T
	dir  string
	repo *git.Repository
}

func newSpecRepo(t *testing.T, example string) *specRepo {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "specs")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "examples", example))); err != nil {
		t.Fatal(err)
	}
	repo, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	r := &specRepo{t: t, dir: dir, repo: repo}
	r.commit("initial specs", "Ada Lovelace", "ada@example.com")
	return r
}

// edit rewrites a file of the repo: old must occur in it.
func (r *specRepo) edit(rel, old, new string) {
	r.t.Helper()
	p := filepath.Join(r.dir, rel)
	b, err := os.ReadFile(p)
	if err != nil {
		r.t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		r.t.Fatalf("%s does not contain %q", rel, old)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func (r *specRepo) commit(msg, name, email string) string {
	r.t.Helper()
	wt, err := r.repo.Worktree()
	if err != nil {
		r.t.Fatal(err)
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		r.t.Fatal(err)
	}
	h, err := wt.Commit(msg, &git.CommitOptions{Author: &object.Signature{Name: name, Email: email, When: fixedNow}})
	if err != nil {
		r.t.Fatal(err)
	}
	return h.String()
}

type fixture struct {
	repo  *specRepo
	st    state.Store
	cache string
	cfg   Config
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	tmp := t.TempDir()
	st, err := state.Open(ctx, filepath.Join(tmp, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{repo: newSpecRepo(t, "support-assistant"), st: st, cache: filepath.Join(tmp, "cache")}
	f.cfg = Config{
		Source: f.repo.dir, CacheDir: f.cache, Store: st, Approvals: Static(1),
		Now: func() time.Time { return fixedNow },
		Plugins: func(co *Checkout, approvals int) (reconciler.Options, error) {
			return reconciler.Plugins(st, reconciler.PluginOptions{Commit: co.Commit.SHA, Approvals: approvals}), nil
		},
	}
	return f
}

func (f *fixture) reconciler(t *testing.T) *Reconciler {
	t.Helper()
	r, err := New(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func types(as []reconciler.Action) []string {
	var out []string
	for _, a := range as {
		out = append(out, string(a.Type)+" "+a.Object+" "+a.Name)
	}
	return out
}

func mustRun(t *testing.T, r *Reconciler) *Run {
	t.Helper()
	run := r.RunOnce(context.Background())
	if run.Failed() {
		t.Fatalf("run %s: %s\n%v", run.Result, run.Error, run.Diagnostics)
	}
	return run
}

func has(items []string, want string) bool {
	for _, s := range items {
		if strings.HasPrefix(s, want) {
			return true
		}
	}
	return false
}

func TestReconcileEndToEnd(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	r := f.reconciler(t)

	// First commit: register, run the gating evals, set both labels, render.
	run := mustRun(t, r)
	if run.Result != ResultApplied {
		t.Fatalf("first run: %s (%s), blocked %v", run.Result, run.Reason, types(run.Blocked))
	}
	applied := types(run.Applied)
	for _, want := range []string{"register_prompt_version prompts/support-answer", "run_eval evals/support-quality", "run_eval evals/support-safety",
		"move_prompt_label prompts/support-answer prod", "move_prompt_label prompts/support-answer staging", "render_target rendered/kubernetes/"} {
		if !has(applied, want) {
			t.Errorf("first run did not apply %q; applied %v", want, applied)
		}
	}
	if len(run.Drift) != 0 {
		t.Errorf("first run drift: %v", run.Drift)
	}
	if run.ReportPath == "" {
		t.Fatalf("no report written: %v", run.Problems)
	}
	first := run.Commit.SHA

	// Same commit, same state: nothing to do, nothing written to the audit log.
	before, _ := f.st.ListAudit(ctx)
	run = mustRun(t, r)
	if run.Result != ResultSkipped || len(run.Applied) != 0 {
		t.Fatalf("second run on %s: %s, applied %v", first[:8], run.Result, types(run.Applied))
	}
	afterLog, _ := f.st.ListAudit(ctx)
	if len(afterLog) != len(before) {
		t.Fatalf("a skipped run wrote %d audit entries", len(afterLog)-len(before))
	}

	// A commit that bumps the prompt and moves staging.
	f.repo.edit("specs/prompts.cue", `version:       "1.4.0"`, `version:       "1.5.0"`)
	f.repo.edit("specs/prompts.cue", `staging: "1.4.0"`, `staging: "1.5.0"`)
	f.repo.edit("prompts/support-answer.tmpl", "Be concise, friendly and specific.", "Be concise, friendly, specific and polite.")
	second := f.repo.commit("support-answer 1.5.0 to staging", "Grace Hopper", "grace@example.com")

	run = mustRun(t, r)
	if run.Commit.SHA != second {
		t.Fatalf("reconciled %s, want %s", run.Commit.SHA, second)
	}
	applied = types(run.Applied)
	for _, want := range []string{"register_prompt_version prompts/support-answer", "run_eval evals/support-quality prompts/support-answer",
		"move_prompt_label prompts/support-answer staging", "render_target rendered/kubernetes/"} {
		if !has(applied, want) {
			t.Errorf("second commit did not apply %q; applied %v", want, applied)
		}
	}
	if has(applied, "move_prompt_label prompts/support-answer prod") || has(applied, "run_eval evals/support-safety") {
		t.Errorf("prod is unchanged, but applied %v", applied)
	}
	if v, _, _ := f.st.GetPointer(ctx, "prompts/support-answer", "staging"); v != "1.5.0" {
		t.Errorf("staging = %q, want 1.5.0", v)
	}
	// The ConfigMap in the checkout names the new staging version.
	co := checkoutDir(t, f.cache)
	cm := findRendered(t, co, "1.5.0")
	if cm == "" {
		t.Errorf("no rendered file in %s mentions 1.5.0", co)
	}

	// The audit log names the commit and its author on every change.
	log, _ := f.st.ListAudit(ctx)
	var moved, reconciled bool
	for _, e := range log[len(afterLog):] {
		if e.Commit != second {
			t.Errorf("audit #%d %s %s: commit %q, want %s", e.Seq, e.Action, e.Object, e.Commit, second)
		}
		if e.Action == "move_prompt_label" {
			moved = true
			if !strings.Contains(e.Actor, "grace@example.com") {
				t.Errorf("audit #%d actor %q does not name the commit's author", e.Seq, e.Actor)
			}
		}
		if e.Action == "reconcile" {
			reconciled = strings.Contains(e.After, "Grace Hopper <grace@example.com>")
		}
	}
	if !moved || !reconciled {
		t.Errorf("audit log lacks the label move (%v) or the reconcile entry with the author (%v)", moved, reconciled)
	}
	if p := state.VerifyAudit(log, ""); p != nil {
		t.Fatalf("audit chain: %v", p)
	}

	// A hand edit to a rendered file is drift; nothing else is.
	if err := os.WriteFile(cm, []byte("# edited by hand\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run = mustRun(t, r)
	if run.Result != ResultSkipped {
		t.Errorf("hand edit: result %s, want skipped (commit and state unchanged)", run.Result)
	}
	rel, _ := filepath.Rel(co, cm)
	if len(run.Drift) != 1 || run.Drift[0].Kind != DriftRenderedEdited || run.Drift[0].Object != filepath.ToSlash(rel) {
		t.Fatalf("hand edit drift = %v, want one rendered_edited for %s", run.Drift, rel)
	}
	rep, _ := os.ReadFile(run.ReportPath)
	if !strings.Contains(string(rep), "| rendered_edited |") || !strings.Contains(string(rep), second) {
		t.Errorf("report lacks the drift or the commit:\n%s", rep)
	}

	// A label moved outside git is drift, and the next run moves it back.
	if err := f.st.SetPointer(ctx, "prompts/support-answer", "staging", "1.5.0", "1.4.0"); err != nil {
		t.Fatal(err)
	}
	run = mustRun(t, r)
	var movedDrift bool
	for _, d := range run.Drift {
		movedDrift = movedDrift || d.Kind == DriftPointerMoved && strings.Contains(d.Detail, "state now has 1.4.0")
	}
	if !movedDrift || !has(types(run.Applied), "move_prompt_label prompts/support-answer staging") {
		t.Errorf("label moved outside git: drift %v, applied %v", run.Drift, types(run.Applied))
	}

	// With self-heal the edited file is rendered again.
	f.cfg.SelfHeal = true
	f.repo.edit("cairn.cue", `max_waiver_days: 90`, `max_waiver_days: 60`)
	f.repo.commit("shorter waivers", "Ada Lovelace", "ada@example.com")
	run = mustRun(t, NewOrFatal(t, f.cfg))
	if !has(types(run.Applied), "render_target "+filepath.ToSlash(rel)) {
		t.Errorf("self-heal did not re-render %s: applied %v", rel, types(run.Applied))
	}
	if b, _ := os.ReadFile(cm); strings.Contains(string(b), "edited by hand") {
		t.Errorf("self-heal left the hand edit in place")
	}
}

func NewOrFatal(t *testing.T, cfg Config) *Reconciler {
	t.Helper()
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func checkoutDir(t *testing.T, cache string) string {
	t.Helper()
	ds, _ := filepath.Glob(filepath.Join(cache, "repos", "*"))
	if len(ds) != 1 {
		t.Fatalf("cache has %d clones: %v", len(ds), ds)
	}
	return ds[0]
}

// findRendered returns a rendered ConfigMap file mentioning s.
func findRendered(t *testing.T, root, s string) string {
	t.Helper()
	var found string
	_ = filepath.WalkDir(filepath.Join(root, "rendered"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		if strings.Contains(string(b), "kind: ConfigMap") && strings.Contains(string(b), s) {
			found = p
		}
		return nil
	})
	return found
}

func TestStaleEvalsWhenTheCatalogChanges(t *testing.T) {
	f := newFixture(t)
	mustRun(t, f.reconciler(t))

	cat, err := prices.Parse([]byte(`{"date": "2030-01-01", "source": "test", "commit": "abc", "models": {"gpt-4o-mini": {"in": 0.15, "out": 0.6}}}`))
	if err != nil {
		t.Fatal(err)
	}
	f.cfg.Catalog = cat
	run := mustRun(t, f.reconciler(t))
	var stale []DriftItem
	for _, d := range run.Drift {
		if d.Kind == DriftEvalStale {
			stale = append(stale, d)
		}
	}
	if len(stale) != 2 {
		t.Fatalf("stale drift = %v, want support-quality and support-safety", run.Drift)
	}
	for _, d := range stale {
		if !strings.Contains(d.Detail, "price catalog changed") || !strings.Contains(d.Detail, "to 2030-01-01 test@abc") || !d.Pos.IsValid() {
			t.Errorf("stale item %v: want the catalog change and the suite's position", d)
		}
	}
	raw, _ := json.Marshal(stale[0])
	if !strings.Contains(string(raw), `"kind":"eval_stale"`) {
		t.Errorf("drift JSON %s", raw)
	}
}
