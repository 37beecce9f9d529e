package reconciler

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/state"
)

// fullBundle has every action type ready: a new prompt version with both
// labels, a model alias gated by metrics and an eval, a RAG source, renders.
func fullBundle(root string) *compiler.Bundle {
	b := testBundle("1.1.0")
	b.Root = root
	b.Prompts["answer"].Labels["prod"] = "1.1.0"
	b.Models["fraud"].Aliases = map[string]string{"prod": "7", "staging": "7"}
	return b
}

func fullOptions(runner EvalRunner) ApplyOptions {
	return ApplyOptions{Options: Options{Approvals: 1, Evals: runner, Renderer: fakeRenderer{}, RAG: &fakeRAG{}},
		Actor: "test", Commit: "c0ffee", Now: fixedClock()}
}

func seed(t *testing.T, st state.Store) { registerModel(t, st, "7", 0.95, 0.01) }

// dump is the state that matters for convergence: everything but timestamps
// and lock take-overs.
func dump(t *testing.T, st state.Store, root string) string {
	ctx := context.Background()
	var b strings.Builder
	pvs, err := st.ListPromptVersions(ctx, "")
	must(t, err)
	for _, p := range pvs {
		fmt.Fprintf(&b, "prompt %s@%s %s %q\n", p.Prompt, p.Version, p.ContentHash, p.Template)
	}
	mvs, err := st.ListModelVersions(ctx, "")
	must(t, err)
	for _, m := range mvs {
		fmt.Fprintf(&b, "model %s@%s %s\n", m.Model, m.Version, m.ContentHash())
	}
	ps, err := st.ListPointers(ctx, "")
	must(t, err)
	for _, p := range ps {
		fmt.Fprintf(&b, "pointer %s.%s=%s\n", p.Object, p.Name, p.Version)
	}
	runs, err := st.ListEvalRuns(ctx, "")
	must(t, err)
	for _, r := range runs {
		full, err := st.GetEvalRun(ctx, r.ID)
		must(t, err)
		fmt.Fprintf(&b, "run %d %s %s %s passed=%v cases=%d\n", r.ID, r.Eval, r.Target, r.SubjectHash, r.Passed, len(full.Cases))
	}
	rh, err := st.RenderedHashes(ctx)
	must(t, err)
	for _, k := range slices.Sorted(maps.Keys(rh)) {
		content, _ := os.ReadFile(filepath.Join(root, k))
		fmt.Fprintf(&b, "rendered %s %s file=%s\n", k, rh[k], state.HashBytes(content))
	}
	recs, err := st.ListRecords(ctx, RecordRAGSnapshot, "")
	must(t, err)
	for _, k := range slices.Sorted(maps.Keys(recs)) {
		fmt.Fprintf(&b, "record %s %s\n", k, recs[k])
	}
	log, err := st.ListAudit(ctx)
	must(t, err)
	if p := state.VerifyAudit(log, ""); p != nil {
		t.Fatalf("audit chain does not verify: %v", p)
	}
	for _, e := range log {
		// A resumed apply is a second apply: it records its own policy check
		// (where each apply begins) and breaks the dead one's lock.
		if e.Action == "break_stale_lock" || e.Action == AuditPolicy || e.Action == AuditApplyDone {
			continue
		}
		fmt.Fprintf(&b, "audit %s %s %s -> %s\n", e.Action, e.Object, e.Before, e.After)
	}
	return b.String()
}

func TestApplyConvergesAndIsIdempotent(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	seed(t, st)
	root := t.TempDir()
	runner := &fakeRunner{}
	res, err := PlanAndApply(ctx, fullBundle(root), st, fullOptions(runner))
	must(t, err)
	var types []string
	for _, a := range res.Applied {
		types = append(types, string(a.Type)+" "+a.Object+" "+a.Name)
	}
	want := []string{
		"register_prompt_version prompts/answer ",
		"snapshot_rag rag/kb ",
		"run_eval evals/answer-quality prompts/answer",
		"run_eval evals/fraud-holdout models/fraud",
		"move_model_alias models/fraud prod",
		"move_model_alias models/fraud staging",
		"move_prompt_label prompts/answer prod",
		"move_prompt_label prompts/answer staging",
		"render_target rendered/kubernetes/answer.yaml ",
	}
	if strings.Join(types, "\n") != strings.Join(want, "\n") {
		t.Fatalf("applied in order:\n%s\nwant:\n%s", strings.Join(types, "\n"), strings.Join(want, "\n"))
	}
	if len(res.Blocked) != 0 {
		t.Fatalf("blocked: %+v", res.Blocked)
	}
	log, _ := st.ListAudit(ctx)
	if len(log) != len(want)+3 || log[0].Action != AuditBounds || log[1].Action != AuditPolicy || log[len(log)-1].Action != AuditApplyDone || log[len(log)-1].After != fmt.Sprintf(`{"applied":%d,"held":[]}`, len(want)) {
		t.Fatalf("audit entries = %d, want the bounds put in force, the apply's policy check, one per action and its end (%d); last %+v", len(log), len(want)+3, log[len(log)-1])
	}
	if log[0].Actor != "test" || log[0].Commit != "c0ffee" || !log[0].Time.After(t0) || log[0].Time.Sub(t0)%time.Second != 0 {
		t.Errorf("audit entry 1 = %+v", log[0])
	}
	before := dump(t, st, root)
	// Second apply: nothing to do, nothing run again.
	res, err = PlanAndApply(ctx, fullBundle(root), st, fullOptions(runner))
	must(t, err)
	if len(res.Applied) != 0 || res.Plan.Changes() {
		t.Fatalf("second apply applied %v", res.Applied)
	}
	if len(runner.calls) != 2 {
		t.Errorf("eval runs = %v, want 2 (one per eval, never repeated)", runner.calls)
	}
	if after := dump(t, st, root); after != before {
		t.Errorf("second apply changed state:\n%s\nvs\n%s", after, before)
	}
}

func TestApplyFailedEvalBlocksAndIsNotRerun(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	seed(t, st)
	runner := &fakeRunner{fail: map[string]bool{"answer-quality": true}}
	b := fullBundle(t.TempDir())
	res, err := PlanAndApply(ctx, b, st, fullOptions(runner))
	must(t, err)
	if len(res.Blocked) != 1 || res.Blocked[0].Name != "prod" || !strings.Contains(res.Blocked[0].Status, "eval answer-quality: run #1 failed") {
		t.Fatalf("blocked = %+v, want prompts/answer prod blocked by the failed run", res.Blocked)
	}
	if v, ok, _ := st.GetPointer(ctx, "prompts/answer", "prod"); ok {
		t.Fatalf("prod moved to %s despite a failed eval", v)
	}
	res, err = PlanAndApply(ctx, b, st, fullOptions(runner))
	must(t, err)
	if len(res.Applied) != 0 || len(res.Blocked) != 1 || len(runner.calls) != 2 {
		t.Fatalf("second apply: applied %d, blocked %d, runs %v", len(res.Applied), len(res.Blocked), runner.calls)
	}
}

func TestApplyWithoutRunnerNeverPassesEvalGate(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	seed(t, st)
	res, err := PlanAndApply(ctx, fullBundle(t.TempDir()), st, ApplyOptions{Options: Options{Approvals: 1}, Now: fixedClock()})
	must(t, err)
	var blocked []string
	for _, a := range res.Blocked {
		blocked = append(blocked, a.Object+"."+a.Name)
		if !strings.Contains(a.Status, "eval runner not available") {
			t.Errorf("%s %s: %s", a.Object, a.Name, a.Status)
		}
	}
	sort.Strings(blocked)
	if strings.Join(blocked, ",") != "models/fraud.prod,prompts/answer.prod" {
		t.Fatalf("blocked = %v", blocked)
	}
}

// slowRunner holds the apply lock long enough for a second apply to collide.
type slowRunner struct{ fakeRunner }

func (s *slowRunner) RunEval(ctx context.Context, b *compiler.Bundle, req EvalRequest) (EvalOutcome, error) {
	time.Sleep(300 * time.Millisecond)
	return s.fakeRunner.RunEval(ctx, b, req)
}

func TestConcurrentApplies(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	open := func() state.Store {
		s, err := state.Open(ctx, path)
		must(t, err)
		t.Cleanup(func() { s.Close() })
		return s
	}
	seed(t, open())
	root := t.TempDir()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	results := make([]*Result, 2)
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			opts := fullOptions(&slowRunner{})
			opts.Actor = fmt.Sprintf("applier-%d", i)
			results[i], errs[i] = PlanAndApply(ctx, fullBundle(root), open(), opts)
		}(i)
	}
	wg.Wait()
	var lockErrs, ok int
	for i, err := range errs {
		var le *LockError
		switch {
		case err == nil:
			ok++
		case errors.As(err, &le):
			lockErrs++
			if !strings.Contains(err.Error(), "applier-") || !regexp.MustCompile(`since 2026-03-01T\d\d:\d\d:\d\dZ`).MatchString(err.Error()) || !strings.Contains(err.Error(), "pid") {
				t.Errorf("lock error does not say who holds it since when: %v", err)
			}
		default:
			t.Errorf("apply %d: %v", i, err)
		}
	}
	if ok != 1 || lockErrs != 1 {
		t.Fatalf("%d applies succeeded and %d hit the lock; want exactly one of each", ok, lockErrs)
	}
	st := open()
	log, _ := st.ListAudit(ctx)
	seen := map[string]int{}
	for _, e := range log {
		seen[e.Action+" "+e.Object+" "+e.After]++
	}
	for k, n := range seen {
		if n > 1 {
			t.Errorf("%q recorded %d times", k, n)
		}
	}
	pvs, _ := st.ListPromptVersions(ctx, "answer")
	runs, _ := st.ListEvalRuns(ctx, "")
	if len(pvs) != 1 || len(runs) != 2 {
		t.Errorf("prompt versions %d (want 1), eval runs %d (want 2)", len(pvs), len(runs))
	}
	// A second apply that waits for the lock finds nothing left to do.
	opts := fullOptions(&fakeRunner{})
	opts.LockTimeout = 5 * time.Second
	res, err := PlanAndApply(ctx, fullBundle(root), st, opts)
	must(t, err)
	if len(res.Applied) != 0 {
		t.Fatalf("apply after the winner applied %v", res.Applied)
	}
}

func TestLockWaitsThenSucceeds(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	other := state.LockHolder{ID: "x", Actor: "bob", Host: "elsewhere", PID: 1, Since: t0}
	_, ok, err := st.AcquireLock(ctx, ApplyLock, other)
	must(t, err)
	if !ok {
		t.Fatal("could not take the lock")
	}
	go func() {
		time.Sleep(250 * time.Millisecond)
		st.ReleaseLock(ctx, ApplyLock, "x")
	}()
	opts := fullOptions(&fakeRunner{})
	opts.LockTimeout = 5 * time.Second
	if _, err := PlanAndApply(ctx, fullBundle(t.TempDir()), st, opts); err != nil {
		t.Fatalf("apply did not wait for the lock: %v", err)
	}
	// A lock held on another host is never taken over, however old.
	_, _, _ = st.AcquireLock(ctx, ApplyLock, other)
	opts.LockTimeout = 200 * time.Millisecond
	_, err = PlanAndApply(ctx, fullBundle(t.TempDir()), st, opts)
	var le *LockError
	if !errors.As(err, &le) || le.Holder.Actor != "bob" || !strings.Contains(err.Error(), "bob (pid 1 on elsewhere) since 2026-03-01T12:00:00Z") {
		t.Fatalf("err = %v, want a lock error naming bob", err)
	}
}

// TestCrashChild is the subprocess of TestCrashResume: it applies and, when
// told to, kills itself with SIGKILL at the n-th step.
func TestCrashChild(t *testing.T) {
	dbPath := os.Getenv("CAIRN_CRASH_STATE")
	if dbPath == "" {
		t.Skip("subprocess of TestCrashResume")
	}
	n, _ := strconv.Atoi(os.Getenv("CAIRN_CRASH_AT"))
	count := 0
	crashHook = func(point string) {
		count++
		if count == n {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			time.Sleep(time.Minute)
		}
	}
	st, err := state.Open(context.Background(), dbPath)
	must(t, err)
	defer st.Close()
	if _, err := PlanAndApply(context.Background(), fullBundle(os.Getenv("CAIRN_CRASH_ROOT")), st, fullOptions(&fakeRunner{})); err != nil {
		t.Fatal(err)
	}
}

func TestCrashResume(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns subprocesses")
	}
	ctx := context.Background()
	// A clean run, counting the hook points the crash child can die at.
	cleanRoot := t.TempDir()
	clean := newStore(t)
	seed(t, clean)
	var names []string
	crashHook = func(p string) { names = append(names, p) }
	_, err := PlanAndApply(ctx, fullBundle(cleanRoot), clean, fullOptions(&fakeRunner{}))
	crashHook = nil
	must(t, err)
	want := dump(t, clean, cleanRoot)
	points := len(names)
	if points < 20 {
		t.Fatalf("only %d crash points", points)
	}
	// Every kill inside a transaction, and every third other point, unless
	// CAIRN_CRASH_ALL=1 asks for all of them (subprocess start-up is slow on a busy machine).
	all := os.Getenv("CAIRN_CRASH_ALL") == "1"

	run := func(dbPath, root string, at int) error {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "CAIRN_CRASH_STATE="+dbPath, "CAIRN_CRASH_ROOT="+root, "CAIRN_CRASH_AT="+strconv.Itoa(at))
		if at == 0 { // the resume: its clock starts after the crashed child's
			cmd.Env = append(cmd.Env, "CAIRN_TEST_CLOCK_START=100000")
		}
		out, err := cmd.CombinedOutput()
		if err != nil && at == 0 {
			return fmt.Errorf("%v\n%s", err, out)
		}
		return err
	}
	// Subprocess start-up dominates; run the crash points two at a time.
	for at := 1; at <= points; at++ {
		if !all && !strings.HasPrefix(names[at-1], "in-tx") && at%3 != 1 {
			continue
		}
		t.Run(fmt.Sprint("kill_at_", at), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			dbPath, root := filepath.Join(dir, "state.db"), filepath.Join(dir, "repo")
			st, err := state.Open(ctx, dbPath)
			must(t, err)
			seed(t, st)
			st.Close()
			err = run(dbPath, root, at)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("crash point %d: child was not killed (err %v)", at, err)
			}
			if err := run(dbPath, root, 0); err != nil {
				t.Fatalf("crash point %d: resuming apply failed: %v", at, err)
			}
			st, err = state.Open(ctx, dbPath)
			must(t, err)
			got := dump(t, st, root)
			// One more apply has nothing to do.
			res, err := PlanAndApply(ctx, fullBundle(root), st, fullOptions(&fakeRunner{}))
			must(t, err)
			st.Close()
			if got != want {
				t.Fatalf("crash point %d: state after resume differs from a clean run:\n%s\nwant:\n%s", at, got, want)
			}
			if len(res.Applied) != 0 {
				t.Fatalf("crash point %d: a further apply still applied %d actions", at, len(res.Applied))
			}
		})
	}
}

// The policy check entry says who approved (from the pull request) or that
// the approvals were a count nobody is named for (--approvals N).
func TestApprovalsIdentityRecorded(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		by   []Approver
		want string
	}{
		{"unattributed", nil, `"approvals_unattributed":true`},
		{"from the pull request", []Approver{{Login: "alice", At: t0}}, `"approved_by":[{"login":"alice","at":"2026-03-01T12:00:00Z"}]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore(t)
			seed(t, st)
			opts := fullOptions(&fakeRunner{})
			opts.ApprovedBy = tc.by
			if _, err := PlanAndApply(ctx, fullBundle(t.TempDir()), st, opts); err != nil {
				t.Fatal(err)
			}
			log, err := st.ListAudit(ctx)
			must(t, err)
			// The apply begins with the bounds it puts in force, then its policy check.
			i := slices.IndexFunc(log, func(e state.AuditEntry) bool { return e.Action == AuditPolicy })
			if log[0].Action != AuditBounds || i != 1 || !strings.Contains(log[i].After, tc.want) {
				t.Errorf("entries %s, %s; want bounds, then a policy_check with %s", log[0].Action, log[1].After, tc.want)
			}
		})
	}
}
