package reconciler

import (
	"context"
	"errors"
	"testing"

	"github.com/cairn-dev/cairn/compiler"
)

// cancellingRunner cancels the apply's context while the first eval runs and
// fails if the eval itself sees the cancellation.
type cancellingRunner struct {
	fakeRunner
	cancel context.CancelFunc
	sawErr error
}

func (c *cancellingRunner) RunEval(ctx context.Context, b *compiler.Bundle, req EvalRequest) (EvalOutcome, error) {
	if c.cancel != nil {
		c.cancel()
		c.cancel = nil
	}
	if err := ctx.Err(); err != nil {
		c.sawErr = err
		return EvalOutcome{}, err
	}
	return c.fakeRunner.RunEval(ctx, b, req)
}

// A cancelled context stops Apply between actions: the running eval
// finishes and is recorded, nothing after it starts, and the result says
// interrupted; a second apply resumes without re-running the eval.
func TestApplyInterruptedBetweenActions(t *testing.T) {
	st := newStore(t)
	seed(t, st)
	root := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	runner := &cancellingRunner{cancel: cancel}
	res, err := PlanAndApply(ctx, fullBundle(root), st, fullOptions(runner))
	if !errors.Is(err, ErrInterrupted) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want ErrInterrupted wrapping context.Canceled", err)
	}
	if res == nil || !res.Interrupted {
		t.Fatalf("result %+v: want Interrupted", res)
	}
	if runner.sawErr != nil {
		t.Fatalf("the running eval saw the cancellation: %v", runner.sawErr)
	}
	var got []string
	for _, a := range res.Applied {
		got = append(got, string(a.Type)+" "+a.Object)
	}
	want := []string{"register_prompt_version prompts/answer", "snapshot_rag rag/kb", "run_eval evals/answer-quality"}
	if len(got) != len(want) {
		t.Fatalf("applied %v, want %v (stopped right after the running eval)", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("applied %v, want %v", got, want)
		}
	}
	if want, got := "apply interrupted after 3 action(s) (the next apply resumes): context canceled", err.Error(); got != want {
		t.Errorf("error %q, want %q", got, want)
	}
	runs, _ := st.ListEvalRuns(context.Background(), "")
	if len(runs) != 1 {
		t.Fatalf("%d eval runs recorded, want the finished one", len(runs))
	}
	// The lock was released: the next apply resumes where this one stopped.
	res, err = PlanAndApply(context.Background(), fullBundle(root), st, fullOptions(runner))
	must(t, err)
	if res.Interrupted || len(res.Blocked) != 0 || len(res.Applied) != 6 {
		t.Fatalf("resumed apply: %d applied, %d blocked, interrupted=%v", len(res.Applied), len(res.Blocked), res.Interrupted)
	}
	if len(runner.calls) != 2 {
		t.Errorf("eval calls %v: the finished eval must not run again", runner.calls)
	}

	// Already cancelled: nothing starts.
	done, stop := context.WithCancel(context.Background())
	stop()
	res, err = PlanAndApply(done, fullBundle(t.TempDir()), newStore(t), fullOptions(&fakeRunner{}))
	if err == nil || (res != nil && len(res.Applied) != 0) {
		t.Fatalf("apply on a cancelled context: %v, %+v", err, res)
	}
}
