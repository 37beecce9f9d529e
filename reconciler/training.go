package reconciler

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/data"
	"github.com/cairn-dev/cairn/data/training"
	"github.com/cairn-dev/cairn/state"
	"github.com/cairn-dev/cairn/targets"
)

// ProdAlias is the alias that serves production.
const ProdAlias = "prod"

// TrainingAlias is the alias whose registered metrics retrain_when reads:
// the version actually served, as recorded in state.
const TrainingAlias = ProdAlias

// Trigger kinds of a trigger_training action (its Name).
const (
	TriggerWebhook       = "webhook"
	TriggerKubernetesJob = "kubernetes_job"
)

// RecordTrainingEvidence marks a piece of evidence as consumed by a fired
// trigger (key "<model>/<evidence id>", value JSON trainingEvidenceRecord):
// evidence already acted upon never triggers again, alone or combined with
// newer evidence.
const RecordTrainingEvidence = "reconciler.training_evidence"

type trainingEvidenceRecord struct {
	Trigger  string `json:"trigger"`            // the decision's evidence id
	Manifest string `json:"manifest,omitempty"` // kubernetes_job: the Job written
}

// TrainingRun is what a trigger_training action carries: the decision and
// the evidence behind it.
type TrainingRun struct {
	Trigger    string             `json:"trigger"`     // webhook | kubernetes_job | "" (none declared)
	EvidenceID string             `json:"evidence_id"` // the decision's id: one trigger per id
	Evidence   []TrainingEvidence `json:"evidence"`
	Reasons    []string           `json:"reasons"`
	// Manifest is the Job manifest apply writes (kubernetes_job), relative to the repo.
	Manifest string `json:"manifest,omitempty"`
}

// TrainingEvidence is one observation that made retraining due.
type TrainingEvidence struct {
	Kind       string  `json:"kind"`            // metric | drift | alert
	Alert      string  `json:"alert,omitempty"` // alert: its alertname (GroupKey: its group)
	GroupKey   string  `json:"group_key,omitempty"`
	Metric     string  `json:"metric,omitempty"`  // metric: its name
	Version    string  `json:"version,omitempty"` // metric: the version at prod
	Feature    string  `json:"feature,omitempty"` // drift: the drifted feature
	Method     string  `json:"method,omitempty"`  // drift: psi | ks
	Value      float64 `json:"value"`
	Op         string  `json:"op"` // "<" (metric below its bound) or ">" (drift above threshold)
	Bound      float64 `json:"bound"`
	EvidenceID string  `json:"evidence_id"`
}

// training plans a trigger_training action for each classic model whose
// retrain_when metric (of the version at prod) is below its bound or whose
// latest drift evidence is above its monitor's threshold, unless that
// evidence already fired a trigger. training.schedule never triggers from
// the plan: the rendered CronJob runs it.
func (pl *planner) training() error {
	for _, name := range slices.Sorted(maps.Keys(pl.b.Models)) {
		m := pl.b.Models[name]
		if m.Kind != "classic" || m.Training == nil {
			continue
		}
		now := pl.opts.Now
		if now == nil {
			now = time.Now
		}
		if err := pl.computedRetrainEval(m); err != nil {
			return fmt.Errorf("models/%s: training: %w", name, err)
		}
		a, err := planTraining(pl.ctx, pl.b, pl.st, m, now)
		if err != nil {
			return fmt.Errorf("models/%s: training: %w", name, err)
		}
		if a != nil {
			pl.add(*a)
		}
	}
	return nil
}

// computedRetrainEval plans the eval run a computed retrain_when metric
// ("<eval>.<metric>") needs for the version at prod, when that version has
// none: the metric is then known to the next plan.
func (pl *planner) computedRetrainEval(m *compiler.Model) error {
	rw := m.Training.RetrainWhen
	if rw == nil {
		return nil
	}
	evName, _, computed := strings.Cut(rw.Metric, ".")
	if !computed || pl.b.Evals[evName] == nil {
		return nil
	}
	obj := "models/" + m.Name
	v, ok, err := pl.st.GetPointer(pl.ctx, obj, TrainingAlias)
	if err != nil || !ok {
		return err
	}
	mv, err := pl.st.GetModelVersion(pl.ctx, m.Name, v)
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return err
	}
	_, err = pl.evalGate(evName, obj, v, mv.ContentHash(), true)
	return err
}

func planTraining(ctx context.Context, b *compiler.Bundle, st state.Ops, m *compiler.Model, now func() time.Time) (*Action, error) {
	obj := "models/" + m.Name
	in := training.Inputs{Metrics: map[string]training.MetricEvidence{}}
	var mv *state.ModelVersion
	if rw := m.Training.RetrainWhen; rw != nil {
		v, ok, err := st.GetPointer(ctx, obj, TrainingAlias)
		if err != nil {
			return nil, err
		}
		if ok {
			mv, err = st.GetModelVersion(ctx, m.Name, v)
			if err != nil && !isNotFound(err) {
				return nil, err
			}
		}
		// A version's registered metrics are immutable: its content hash
		// identifies the evidence. A computed metric ("<eval>.<metric>") is
		// the latest run of that eval for the version: the run identifies it.
		if mv != nil {
			if evName, metric, computed := strings.Cut(rw.Metric, "."); computed && b.Evals[evName] != nil {
				run, ok, err := st.LatestEvalRun(ctx, evName, mv.ContentHash(), EvalHashFor(b, b.Evals[evName]))
				if err != nil {
					return nil, err
				}
				if ok {
					if val, has := run.Metrics[metric]; has {
						in.Metrics[rw.Metric] = training.MetricEvidence{Value: val, EvidenceID: fmt.Sprintf("%s:run-%d", mv.ContentHash(), run.ID)}
					}
				}
			} else if val, ok := mv.Metrics[rw.Metric]; ok {
				in.Metrics[rw.Metric] = training.MetricEvidence{Value: val, EvidenceID: mv.ContentHash()}
			}
		}
	}
	drift, err := data.LatestDrift(ctx, st, m.Name)
	if err != nil {
		return nil, err
	}
	in.Drift = drift
	alerts, err := training.Alerts(ctx, st, m.Name)
	if err != nil {
		return nil, err
	}
	for _, a := range alerts {
		if used, err := consumed(ctx, st, m.Name, a.EvidenceID); err != nil {
			return nil, err
		} else if !used {
			in.Alerts = append(in.Alerts, a)
		}
	}

	// Evidence that already fired a trigger does not count again.
	for k, ev := range in.Metrics {
		if used, err := consumed(ctx, st, m.Name, ev.EvidenceID); err != nil {
			return nil, err
		} else if used {
			delete(in.Metrics, k)
		}
	}
	if in.Drift != nil {
		if used, err := consumed(ctx, st, m.Name, in.Drift.EvidenceID); err != nil {
			return nil, err
		} else if used {
			in.Drift = nil
		}
	}
	d := training.Decide(m, in)
	if !d.Due {
		return nil, nil
	}
	// A trigger for this exact decision that was claimed or fired (a crash
	// before its evidence was marked) is not fired again; a failed one is retried.
	prev, ok, err := st.GetRecord(ctx, training.KindTrigger, m.Name+"/"+d.EvidenceID)
	if err != nil {
		return nil, err
	}
	retry, backoff := "", ""
	if ok {
		var rec training.TriggerRecord
		if err := json.Unmarshal(prev, &rec); err != nil {
			return nil, fmt.Errorf("state record %s %s/%s: %w", training.KindTrigger, m.Name, d.EvidenceID, err)
		}
		if rec.Status != "failed" {
			return nil, nil
		}
		retry = fmt.Sprintf("; retrying: delivery %d failed after %d attempt(s): %s", max(rec.Failures, 1), rec.Attempts, rec.Error)
		if at, err := time.Parse(time.RFC3339, rec.At); err == nil && now != nil {
			if next := at.Add(TriggerBackoff(rec.Failures)); now().Before(next) {
				backoff = fmt.Sprintf("blocked: training.trigger: delivery %d failed (%s); retried after %s (back-off %s)",
					max(rec.Failures, 1), rec.Error, next.UTC().Format(time.RFC3339), TriggerBackoff(rec.Failures))
			}
		}
	}

	tr := TrainingRun{EvidenceID: d.EvidenceID, Reasons: d.Reasons, Evidence: trainingEvidence(m, in, mv)}
	a := &Action{Type: TriggerTraining, Object: obj, After: d.EvidenceID, Status: StatusReady, Pos: b.Position(obj + ".training.trigger"), Training: &tr}
	t := m.Training.Trigger
	switch {
	case t != nil && t.Webhook != "":
		tr.Trigger = TriggerWebhook
	case t != nil && t.KubernetesJob != nil:
		tr.Trigger = TriggerKubernetesJob
		f, err := targets.TrainingJob(b, targets.TrainingRun{Model: m.Name, EvidenceID: d.EvidenceID, Reasons: d.Reasons})
		if err != nil {
			return nil, err
		}
		tr.Manifest = "rendered/" + f.Path
	default:
		a.Status = "blocked: training.trigger: retraining is due but the model declares no trigger (webhook or kubernetes_job)"
		a.Pos = b.Position(obj + ".training")
	}
	a.Name = tr.Trigger
	a.Reason = "retraining due: " + strings.Join(d.Reasons, "; ") + " (evidence " + d.EvidenceID + ")"
	switch tr.Trigger {
	case TriggerWebhook:
		a.Reason += "; POST to the training.trigger webhook"
	case TriggerKubernetesJob:
		a.Reason += "; write the Job " + tr.Manifest
	}
	if m.Training.Schedule != "" {
		a.Reason += fmt.Sprintf("; the schedule %q is not triggered from the plan, the rendered CronJob runs it", m.Training.Schedule)
	}
	a.Reason += retry
	if backoff != "" && a.Ready() {
		a.Status = backoff
	}
	return a, nil
}

// TriggerBackoff is how long after its n-th failed delivery a training
// trigger waits before the next apply retries it: 1 min, doubling, at most 1 h.
func TriggerBackoff(failures int) time.Duration {
	d := time.Minute
	for i := 1; i < failures && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}

func consumed(ctx context.Context, st state.Ops, model, evidenceID string) (bool, error) {
	if evidenceID == "" {
		return false, nil
	}
	_, ok, err := st.GetRecord(ctx, RecordTrainingEvidence, model+"/"+evidenceID)
	return ok, err
}

// trainingEvidence lists each observation the decision rests on, in the
// order Decide weighs them (metric, then drifted features).
func trainingEvidence(m *compiler.Model, in training.Inputs, mv *state.ModelVersion) []TrainingEvidence {
	out := []TrainingEvidence{}
	if rw := m.Training.RetrainWhen; rw != nil && rw.Alert != "" {
		for _, a := range in.Alerts {
			if a.Model == m.Name && a.Alert == rw.Alert {
				out = append(out, TrainingEvidence{Kind: "alert", Alert: a.Alert, GroupKey: a.GroupKey, EvidenceID: a.EvidenceID})
			}
		}
	}
	if rw := m.Training.RetrainWhen; rw != nil && rw.Metric != "" {
		if ev, ok := in.Metrics[rw.Metric]; ok {
			if op, bound, due := rw.Due(ev.Value); due {
				out = append(out, TrainingEvidence{Kind: "metric", Metric: rw.Metric, Version: mv.Version, Value: ev.Value, Op: op, Bound: bound, EvidenceID: ev.EvidenceID})
			}
		}
	}
	if dr := in.Drift; dr != nil && m.Monitoring != nil && m.Monitoring.Drift != nil &&
		dr.Model == m.Name && dr.Method == m.Monitoring.Drift.Method && dr.Threshold == m.Monitoring.Drift.Threshold && dr.Drifted {
		for _, f := range dr.Features {
			if f.Drifted {
				out = append(out, TrainingEvidence{Kind: "drift", Feature: f.Feature, Method: dr.Method, Value: f.Statistic, Op: ">", Bound: f.Threshold, EvidenceID: dr.EvidenceID})
			}
		}
	}
	return out
}

// fireTraining executes a trigger_training action: it posts the webhook
// (training.Firer claims the trigger in state first, so it is posted at most
// once per evidence) or writes the Job manifest, and returns the state
// change that marks the evidence consumed, committed with the audit entry.
func fireTraining(ctx context.Context, b *compiler.Bundle, st state.Store, opts ApplyOptions, a Action, entry *state.AuditEntry) (func(tx state.Ops) error, error) {
	name := strings.TrimPrefix(a.Object, "models/")
	m := b.Models[name]
	if m == nil || m.Training == nil || a.Training == nil {
		return nil, fmt.Errorf("model %s has no training in the bundle", name)
	}
	tr := a.Training
	var ids []string
	for _, e := range tr.Evidence {
		ids = append(ids, e.EvidenceID)
	}
	d := training.Decision{Model: name, Due: true, Reasons: tr.Reasons, Evidence: dedupe(ids), EvidenceID: tr.EvidenceID}
	after := map[string]any{"trigger": tr.Trigger, "evidence_id": tr.EvidenceID, "evidence": tr.Evidence, "reasons": tr.Reasons}
	rec := trainingEvidenceRecord{Trigger: tr.EvidenceID}
	var extra func(tx state.Ops) error
	switch tr.Trigger {
	case TriggerWebhook:
		// Bounded: a dead or silent webhook fails this action (recorded,
		// retried with back-off by later applies) and the apply goes on.
		f := &training.Firer{Store: st, Client: opts.TrainingClient, Attempts: 3}
		if opts.Now != nil {
			f.Now = opts.Now
		}
		timeout := opts.TriggerTimeout
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		fctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		res, err := f.FireWebhook(fctx, m.Training.Trigger.Webhook, training.PayloadFor(d, m.Training, b.Hash()))
		if err != nil {
			return nil, err
		}
		hook("ran " + a.Key())
		after["attempts"], after["http_status"] = res.Attempts, res.HTTPStatus
		if res.Already != "" {
			after["already"] = res.Already
		}
	case TriggerKubernetesJob:
		f, err := targets.TrainingJob(b, targets.TrainingRun{Model: name, EvidenceID: tr.EvidenceID, Reasons: tr.Reasons})
		if err != nil {
			return nil, err
		}
		path := "rendered/" + f.Path
		if err := writeFile(b.Root, path, f.Content); err != nil {
			return nil, err
		}
		hook("ran " + a.Key())
		rec.Manifest = path
		after["manifest"], after["manifest_hash"] = path, state.HashBytes(f.Content)
		// The trigger record a webhook's Firer keeps, kept for Jobs too.
		trig := training.TriggerRecord{Model: name, EvidenceID: tr.EvidenceID, Status: "fired", Attempts: 1}
		if opts.Now != nil {
			trig.At = opts.Now().UTC().Format(time.RFC3339)
		}
		extra = func(tx state.Ops) error {
			return tx.PutRecord(ctx, training.KindTrigger, name+"/"+tr.EvidenceID, jsonBytes(trig))
		}
	default:
		return nil, fmt.Errorf("model %s declares no training trigger", name)
	}
	entry.After = doc(after)
	return func(tx state.Ops) error {
		if extra != nil {
			if err := extra(tx); err != nil {
				return err
			}
		}
		for _, id := range d.Evidence {
			if err := tx.PutRecord(ctx, RecordTrainingEvidence, name+"/"+id, jsonBytes(rec)); err != nil {
				return err
			}
		}
		return nil
	}, nil
}

// dedupe sorts the ids and drops repeats, as training.Decide lists them.
func dedupe(s []string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}

func jsonBytes(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
