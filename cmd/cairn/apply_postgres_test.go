package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/evals/distributed"
	"github.com/cairn-dev/cairn/state/postgres"
	"github.com/cairn-dev/cairn/state/postgres/pgtest"
)

// cli runs the CLI in this process and returns its exit code and output.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	root := newRootCmd()
	var out, errw bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errw)
	root.SetArgs(args)
	err := root.Execute()
	code := 0
	if err != nil {
		var ec *exitError
		if errors.As(err, &ec) {
			code = ec.code
			errw.WriteString(ec.msg)
		} else {
			code = exitUsage
			errw.WriteString(err.Error())
		}
	}
	return code, out.String(), errw.String()
}

// With a PostgreSQL state, `cairn apply` sends the gating evals to a running
// `cairn worker`: the support example applies, its gates pass, and the cases
// were executed by the worker, not by apply; `cairn eval` then finds them cached.
func TestApplyWithPostgresStateUsesWorkers(t *testing.T) {
	u, _ := pgtest.Schema(t)
	t.Setenv(distributed.EnvInProcess, "")
	t.Setenv("CAIRN_STATE", "")
	dir := filepath.Join(t.TempDir(), "repo")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "..", "examples", "support-assistant"))); err != nil {
		t.Fatal(err)
	}

	// No worker yet: apply fails fast and says what to start.
	code, _, errOut := cli(t, "apply", "--approvals", "1", "--state", u, "--actor", "test", dir)
	if code != exitDenied || !strings.Contains(errOut, "no cairn worker is running") {
		t.Fatalf("apply without a worker: exit %d\n%s", code, errOut)
	}

	ctx, cancel := context.WithCancel(context.Background())
	ws, err := postgres.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	w, err := distributed.NewWorker(ctx, ws, distributed.WorkerOptions{ID: "test", Concurrency: 4, ReapInterval: 200 * time.Millisecond,
		FetchPollInterval: 100 * time.Millisecond, Logger: distributed.DiscardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	// River elects its leader (what RunSuite checks for) shortly after start.
	deadline := time.Now().Add(10 * time.Second)
	for ok := false; !ok; {
		if ok, err = distributed.WorkersRunning(ctx, ws.Pool()); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the worker did not come up")
		}
		time.Sleep(50 * time.Millisecond)
	}

	code, out, errOut := cli(t, "apply", "--approvals", "1", "--state", u, "--actor", "test", dir)
	if code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{
		`(?m)^applied: run_eval evals/support-quality`,
		`(?m)^applied: run_eval evals/support-safety`,
		`(?m)^applied: move_prompt_label prompts/support-answer prod: \(unset\) → 1\.4\.0$`,
		`(?m)^Apply complete: \d+ applied, 0 blocked\.$`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("apply output lacks %s:\n%s", want, out)
		}
	}
	executed := w.Stats().Executed
	if executed == 0 {
		t.Fatalf("the worker executed no case: apply ran the evals itself")
	}

	// Converged, and the eval cache in the shared state serves `cairn eval`
	// (again through the worker, which now only reads the cache).
	if code, out, errOut := cli(t, "apply", "--approvals", "1", "--state", u, dir); code != 0 || !strings.Contains(out, "Apply complete: 0 applied, 0 blocked.") {
		t.Fatalf("second apply: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = cli(t, "eval", "--state", u, dir, "support-quality")
	if code != 0 || !regexp.MustCompile(`suite support-quality \(prompts/support-answer\): PASS  cases=16 errors=0 cache_hits=16`).MatchString(out) {
		t.Fatalf("eval: exit %d\n%s\n%s", code, out, errOut)
	}
	if got := w.Stats().Executed; got != executed+16 {
		t.Errorf("worker executed %d cases for the eval, want 16", got-executed)
	}
}
