package rollout

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/state"
)

// Record kinds in the state store.
const (
	KindProgress = "rollout.progress" // deployment → Progress
	KindDecision = "rollout.decision" // "<deployment>@<time>" → Decision, with queries, values and window
)

// Options of one analysis against the state.
type Options struct {
	Now    time.Time
	Actor  string
	Record bool // keep the progress and the decision (reconcile); false: say what it would do (analyze)
}

// Run analyses the deployment's canary as the state serves it: the
// version at the rollout's candidate alias against the version at the
// deployment's alias, from the progress recorded by the last analysis.
// With opts.Record the new progress, the decision and an audit entry
// (naming the decision's sha256) are written in one transaction.
func Run(ctx context.Context, st state.Store, q Querier, b *compiler.Bundle, name string, opts Options) (Decision, error) {
	d := b.Deployments[name]
	if d == nil {
		return Decision{}, fmt.Errorf("no deployment %q in the specs", name)
	}
	if d.Rollout.Strategy != "canary" || d.Rollout.Analysis == nil || len(d.Rollout.Steps) == 0 {
		return Decision{}, fmt.Errorf("deployment %s: %w", name, ErrNotCanary)
	}
	obj := "models/" + d.Model
	if d.Prompt != "" {
		obj = "prompts/" + d.Prompt
	}
	stable, ok, err := st.GetPointer(ctx, obj, d.Alias)
	if err != nil {
		return Decision{}, err
	}
	if !ok {
		return Decision{}, fmt.Errorf("deployment %s: %w: %s has no version at %s yet", name, ErrNoCanary, obj, d.Alias)
	}
	canary, ok, err := st.GetPointer(ctx, obj, d.Rollout.Candidate)
	if err != nil {
		return Decision{}, err
	}
	if !ok || canary == stable {
		return Decision{}, fmt.Errorf("deployment %s: %w: %s at %s is the stable version %s", name, ErrNoCanary, obj, d.Rollout.Candidate, stable)
	}
	var p Progress
	if raw, ok, err := st.GetRecord(ctx, KindProgress, name); err != nil {
		return Decision{}, err
	} else if ok {
		if err := json.Unmarshal(raw, &p); err != nil {
			return Decision{}, fmt.Errorf("deployment %s: recorded progress: %w", name, err)
		}
	}
	dec, next, err := Analyze(ctx, q, name, d, canary, stable, p, opts.Now)
	if err != nil || !opts.Record {
		return dec, err
	}
	pj, _ := json.Marshal(next)
	dj, _ := json.Marshal(dec)
	sum := sha256.Sum256(dj)
	key := fmt.Sprintf("%s@%s", name, dec.At.Format(time.RFC3339Nano))
	return dec, st.Update(ctx, func(tx state.Ops) error {
		if err := tx.PutRecord(ctx, KindProgress, name, pj); err != nil {
			return err
		}
		if err := tx.PutRecord(ctx, KindDecision, key, dj); err != nil {
			return err
		}
		_, err := tx.AppendAudit(ctx, state.AuditEntry{Time: opts.Now.UTC(), Actor: opts.Actor, Action: "rollout_" + dec.Action, Object: "deployments/" + name,
			Before: fmt.Sprintf("%s at %d%%", canary, dec.Weight), After: fmt.Sprintf("%s at %d%% (decision %s sha256:%s)", canary, dec.NextWeight, key, hex.EncodeToString(sum[:]))})
		return err
	})
}

// Recorded is the progress the last recorded analysis of each deployment
// left (the canary version and its share: what renderers serve).
func Recorded(ctx context.Context, st state.Ops) (map[string]Progress, error) {
	recs, err := st.ListRecords(ctx, KindProgress, "")
	if err != nil {
		return nil, err
	}
	out := map[string]Progress{}
	for name, raw := range recs {
		var p Progress
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, fmt.Errorf("deployment %s: recorded progress: %w", name, err)
		}
		out[name] = p
	}
	return out, nil
}
