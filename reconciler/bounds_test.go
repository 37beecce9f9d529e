package reconciler

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/state"
)

// creditRepo copies the credit example into a fresh git repository with
// its first commit at t.
func creditRepo(t *testing.T, at time.Time) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "credit")
	must(t, os.CopyFS(dir, os.DirFS(filepath.Join("..", "examples", "credit-scoring"))))
	_, err := git.PlainInit(dir, false)
	must(t, err)
	gitCommit(t, dir, "specs", at)
	return dir
}

func gitCommit(t *testing.T, dir, msg string, at time.Time) {
	t.Helper()
	r, err := git.PlainOpen(dir)
	must(t, err)
	wt, err := r.Worktree()
	must(t, err)
	must(t, wt.AddGlob("."))
	sig := &object.Signature{Name: "a", Email: "a@acme.example", When: at}
	_, err = wt.Commit(msg, &git.CommitOptions{Author: sig, Committer: sig})
	must(t, err)
}

// setParity rewrites the fairness eval's parity threshold in the spec.
func setParity(t *testing.T, dir, v string) *compiler.Bundle {
	t.Helper()
	p := filepath.Join(dir, "specs", "models.cue")
	b, err := os.ReadFile(p)
	must(t, err)
	old := `parity:         {scorer: "demographic_parity_difference", threshold: 0.1}`
	if !strings.Contains(string(b), old) && v != "" {
		s := string(b)
		i := strings.Index(s, "parity:         {scorer:")
		j := strings.Index(s[i:], "}")
		old = s[i : i+j+1]
	}
	must(t, os.WriteFile(p, []byte(strings.Replace(string(b), old, `parity:         {scorer: "demographic_parity_difference", threshold: `+v+`}`, 1)), 0o644))
	return compile(t, dir)
}

func compile(t *testing.T, dir string) *compiler.Bundle {
	t.Helper()
	b, ds := compiler.Compile(dir, compiler.Options{})
	if b == nil || len(ds) > 0 {
		t.Fatal(ds)
	}
	return b
}

// firstRun records the fairness eval's first run on version 3 as apply does.
func firstRun(t *testing.T, st state.Ops, b *compiler.Bundle, at time.Time) {
	t.Helper()
	after, _ := json.Marshal(map[string]any{"run": 1, "target": "models/credit-scorer", "version": "3", "passed": true, "dataset_hash": b.Evals["credit-fairness"].DatasetHash})
	_, err := st.AppendAudit(context.Background(), state.AuditEntry{Time: at, Actor: "ci", Action: string(RunEval), Object: "evals/credit-fairness", After: string(after)})
	must(t, err)
}

func parityVerdict(t *testing.T, b *compiler.Bundle, st state.Ops, dir string) BoundStatus {
	t.Helper()
	var opsSt state.Ops
	if st != nil {
		opsSt = st
	}
	got, err := JudgeBounds(context.Background(), b, opsSt, dir, SystemObjects(b, true))
	must(t, err)
	for _, bs := range got {
		if bs.Object == "evals/credit-fairness" && bs.Metric == "parity" {
			return bs
		}
	}
	t.Fatalf("no verdict on the parity bound in %+v", got)
	return BoundStatus{}
}

// TestPriorDefinedBounds: a bound is prior-defined for a version when the
// same or a stricter one was in force before the version's first result:
// first seen in an applied bundle (the bounds entries), else per git (the
// first-parent commit that set its line). Loosening after the result is
// reported, tightening allowed; a shallow clone or no state is unknown.
func TestPriorDefinedBounds(t *testing.T) {
	ctx := context.Background()
	t1 := time.Date(2026, 9, 1, 9, 0, 0, 0, time.UTC)
	at := func(h int) time.Time { return t1.Add(time.Duration(h) * time.Hour) }
	applied := func(t *testing.T, st state.Store, b *compiler.Bundle, when time.Time) {
		t.Helper()
		must(t, st.Update(ctx, func(tx state.Ops) error {
			return recordBounds(ctx, tx, b, state.AuditEntry{Time: when, Actor: "ci", Object: "bundles/" + b.Hash()})
		}))
	}

	t.Run("applied before the result, then loosened", func(t *testing.T) {
		dir, st := creditRepo(t, t1), newStore(t)
		b := compile(t, dir)
		applied(t, st, b, at(1))
		firstRun(t, st, b, at(2))
		if v := parityVerdict(t, b, st, dir); v.Status != BoundPrior || !strings.Contains(v.Detail, "in force since audit #1") {
			t.Fatalf("before the edit: %+v", v)
		}
		b = setParity(t, dir, "0.2")
		applied(t, st, b, at(3))
		v := parityVerdict(t, b, st, dir)
		if v.Status != BoundLoosened || v.Bound != "<= 0.2" || !strings.Contains(v.Detail, "<= 0.1 was in force at its first run") || v.Pos != "specs/models.cue:45:3" {
			t.Fatalf("loosened: %+v", v)
		}
		// An apply records the bounds only when they changed.
		n := 0
		must(t, st.ScanAudit(ctx, state.AuditQuery{Action: AuditBounds}, func(state.AuditEntry) error { n++; return nil }))
		applied(t, st, b, at(4))
		m := 0
		must(t, st.ScanAudit(ctx, state.AuditQuery{Action: AuditBounds}, func(state.AuditEntry) error { m++; return nil }))
		if n != 2 || m != 2 {
			t.Errorf("bounds entries: %d, then %d after an apply that changed none; want 2, 2", n, m)
		}
	})
	t.Run("tightened after the result", func(t *testing.T) {
		dir, st := creditRepo(t, t1), newStore(t)
		b := compile(t, dir)
		applied(t, st, b, at(1))
		firstRun(t, st, b, at(2))
		b = setParity(t, dir, "0.05")
		applied(t, st, b, at(3))
		if v := parityVerdict(t, b, st, dir); v.Status != BoundTighter || !strings.Contains(v.Detail, "tightened to <= 0.05") {
			t.Fatalf("tightened: %+v", v)
		}
	})
	t.Run("defined after the result", func(t *testing.T) {
		dir, st := creditRepo(t, t1), newStore(t)
		b := compile(t, dir)
		firstRun(t, st, b, at(1))
		applied(t, st, b, at(2))
		if v := parityVerdict(t, b, st, dir); v.Status != BoundLate || !strings.Contains(v.Detail, "first applied at audit #2") {
			t.Fatalf("late: %+v", v)
		}
	})
	t.Run("never applied: per git", func(t *testing.T) {
		dir, st := creditRepo(t, t1), newStore(t) // committed at t1
		b := compile(t, dir)
		firstRun(t, st, b, at(5))
		if v := parityVerdict(t, b, st, dir); v.Status != BoundPrior || !strings.HasPrefix(v.Detail, "per git: set by commit ") || !strings.Contains(v.Detail, "2026-09-01T09:00:00Z") {
			t.Fatalf("set before the result, per git: %+v", v)
		}
		// An unrelated commit keeps the line's date; a commit that changes it moves it.
		must(t, os.WriteFile(filepath.Join(dir, "NOTES.md"), []byte("x\n"), 0o644))
		gitCommit(t, dir, "notes", at(3))
		if v := parityVerdict(t, b, st, dir); v.Status != BoundPrior || !strings.Contains(v.Detail, "2026-09-01T09:00:00Z") {
			t.Fatalf("after an unrelated commit: %+v", v)
		}
		b = setParity(t, dir, "0.12")
		gitCommit(t, dir, "loosen parity", at(7))
		if v := parityVerdict(t, b, st, dir); v.Status != BoundLate || !strings.Contains(v.Detail, "per git: set by commit") || !strings.Contains(v.Detail, "2026-09-01T16:00:00Z") {
			t.Fatalf("set after the result, per git: %+v", v)
		}
		// Uncommitted: unknown, never a pass.
		b = setParity(t, dir, "0.11")
		if v := parityVerdict(t, b, st, dir); v.Status != BoundUnknown || !strings.Contains(v.Detail, "not committed") {
			t.Fatalf("uncommitted: %+v", v)
		}
	})
	t.Run("shallow clone: unknown", func(t *testing.T) {
		src := creditRepo(t, t1)
		must(t, os.WriteFile(filepath.Join(src, "NOTES.md"), []byte("x\n"), 0o644))
		gitCommit(t, src, "notes", at(3))
		dst := filepath.Join(t.TempDir(), "shallow")
		if _, err := git.PlainClone(dst, false, &git.CloneOptions{URL: "file://" + src, Depth: 1}); err != nil {
			t.Skipf("go-git cannot make a shallow clone here: %v", err)
		}
		st := newStore(t)
		b := compile(t, dst)
		firstRun(t, st, b, at(5))
		if v := parityVerdict(t, b, st, dst); v.Status != BoundUnknown || !strings.Contains(v.Detail, "shallow") {
			t.Fatalf("shallow: %+v", v)
		}
	})
	t.Run("no state: unknown", func(t *testing.T) {
		dir := creditRepo(t, t1)
		b := compile(t, dir)
		if v := parityVerdict(t, b, nil, dir); v.Status != BoundUnknown {
			t.Fatalf("no state: %+v", v)
		}
	})
}

func TestStricterOrSame(t *testing.T) {
	for _, tc := range []struct {
		a, b Bound
		want bool
	}{
		{Bound{Op: ">=", Value: 0.9}, Bound{Op: ">=", Value: 0.8}, true},
		{Bound{Op: ">=", Value: 0.8}, Bound{Op: ">=", Value: 0.9}, false},
		{Bound{Op: "<=", Value: 0.1}, Bound{Op: "<=", Value: 0.2}, true},
		{Bound{Op: "<=", Value: 0.2}, Bound{Op: "<=", Value: 0.1}, false},
		{Bound{Op: ">", Value: 0.8}, Bound{Op: ">=", Value: 0.8}, true},
		{Bound{Op: ">=", Value: 0.8}, Bound{Op: ">", Value: 0.8}, false},
		{Bound{Op: "<=", Value: 0.1}, Bound{Op: ">=", Value: 0.1}, false},
		{Bound{Op: "==", Value: 1}, Bound{Op: "==", Value: 1}, true},
	} {
		if got := tc.a.stricterOrSame(tc.b); got != tc.want {
			t.Errorf("%s stricterOrSame %s = %t", tc.a, tc.b, got)
		}
	}
}
