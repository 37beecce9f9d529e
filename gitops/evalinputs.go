package gitops

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/evals"
	"github.com/cairn-dev/cairn/reconciler"
	"github.com/cairn-dev/cairn/state"
)

// The eval inputs every apply records (reconciler.EvalInputs), which the
// stale-eval drift check compares with what a run would use now.
type EvalInputs = reconciler.EvalInputs

const RecordEvalInputs = reconciler.RecordEvalInputs

var (
	CurrentEvalInputs = reconciler.CurrentEvalInputs
	StaleReasons      = reconciler.StaleReasons
	evalInputsKey     = reconciler.EvalInputsKey
)

// recordingRunner wraps the eval runner apply uses: after each run it adds
// the run's cost, which evals.RunSuite stores in the state, to the reconcile
// run's total. (Apply itself records each run's inputs.)
type recordingRunner struct {
	inner reconciler.EvalRunner
	st    state.Store

	mu   sync.Mutex
	cost float64
}

func (r *recordingRunner) RunEval(ctx context.Context, b *compiler.Bundle, req reconciler.EvalRequest) (reconciler.EvalOutcome, error) {
	out, err := r.inner.RunEval(ctx, b, req)
	if err != nil {
		return out, err
	}
	// evals.RunSuite stores the run under "<suite>@<bundle hash>"; a runner
	// that does not simply contributes no cost.
	if raw, ok, err := r.st.GetRecord(ctx, evals.KindRun, evals.RunID(req.Eval, b.Hash(), predictionsVersion(b, req))); err == nil && ok {
		var run evals.Run
		if json.Unmarshal(raw, &run) == nil {
			r.mu.Lock()
			r.cost += run.CostUSD
			r.mu.Unlock()
		}
	}
	return out, nil
}

func (r *recordingRunner) takeCost() float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.cost
	r.cost = 0
	return c
}

// predictionsVersion is the version a classic eval's run was keyed by.
func predictionsVersion(b *compiler.Bundle, req reconciler.EvalRequest) string {
	if ev := b.Evals[req.Eval]; ev != nil && evals.PerVersion(ev) {
		return req.TargetVersion
	}
	return ""
}
