package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/cairn-dev/cairn/evals/distributed"
	"github.com/cairn-dev/cairn/gitops/leader"
	"github.com/cairn-dev/cairn/state/postgres"
	"github.com/cairn-dev/cairn/state/postgres/pgtest"
)

// `cairn reconcile --once` on a postgres:// state stands by while another
// reconciler leads, and reconciles once the lock is free.
func TestReconcileOnceStandsByWhileAnotherLeads(t *testing.T) {
	u, _ := pgtest.Schema(t)
	t.Setenv(distributed.EnvInProcess, "1") // evals in this process: no worker needed here
	t.Setenv("CAIRN_STATE", "")
	t.Setenv("GITHUB_TOKEN", "")
	t.Setenv("GITHUB_REPOSITORY", "")
	tmp := t.TempDir()
	repo := filepath.Join(tmp, "repo")
	if err := os.CopyFS(repo, os.DirFS(filepath.Join("..", "..", "examples", "support-assistant"))); err != nil {
		t.Fatal(err)
	}
	g, err := git.PlainInit(repo, false)
	if err != nil {
		t.Fatal(err)
	}
	wt, _ := g.Worktree()
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := wt.Commit("specs", &git.CommitOptions{Author: &object.Signature{Name: "Ada", Email: "ada@example.com", When: time.Now()}}); err != nil {
		t.Fatal(err)
	}

	st, err := postgres.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	other := leader.ForStore(st, "reconcile", leader.Options{ID: "other-machine"})
	defer other.Close()
	if ok, err := other.Leading(context.Background()); err != nil || !ok {
		t.Fatalf("the other reconciler could not lead: %v", err)
	}
	args := []string{"reconcile", "--once", "--repo", repo, "--cache-dir", filepath.Join(tmp, "cache"), "--state", u, "--approvals", "1", "--leader-id", "me"}
	code, out, errOut := cli(t, args...)
	if code != 0 || !strings.Contains(out, ": standby (another reconciler is the leader)") || !strings.Contains(out, "0 applied") {
		t.Fatalf("reconcile while another leads: exit %d\n%s\n%s", code, out, errOut)
	}
	if log, _ := st.ListAudit(context.Background()); len(log) != 0 {
		t.Fatalf("a standby wrote %d audit entries", len(log))
	}

	other.Resign()
	code, out, errOut = cli(t, args...)
	if code != 0 || !strings.Contains(out, ": applied (first reconcile of this repository and ref)") || !strings.Contains(out, "applied: move_prompt_label prompts/support-answer prod") {
		t.Fatalf("reconcile after the leader resigned: exit %d\n%s\n%s", code, out, errOut)
	}
	// --once resigned on exit: the other machine can lead again.
	if ok, err := other.Leading(context.Background()); err != nil || !ok {
		t.Fatalf("leadership not released after --once: %v %v", ok, err)
	}
}
