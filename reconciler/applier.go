package reconciler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/internal/diag"
	"github.com/cairn-dev/cairn/state"
)

// applier carries one Apply's progress.
type applier struct {
	b    *compiler.Bundle
	st   state.Store
	opts ApplyOptions
	plan *Plan

	held       []string          // moves held while applying ("prompts/x prod → 1.4.0: why")
	rendered   map[string][]byte // what the state serves now, rendered (at the first render action)
	renderedOK bool
	didRender  bool
	policyDone bool // the plan's policy decisions are in the audit log
}

// recheck checks an action's gates again against the state as it is now,
// after the actions before it: it returns the action as it will run, or
// false with its status saying why it is held.
func (ap *applier) recheck(ctx context.Context, a Action) (Action, bool, error) {
	switch a.Type {
	case MovePromptLabel, MoveModelAlias:
		pl := planner{ctx: ctx, b: ap.b, st: ap.st, opts: ap.opts.Options, plan: &Plan{}, evals: map[string]bool{}}
		subject, gates, err := pl.checks(a.Type, a.Object, a.Name, a.After, ap.gateOf(a))
		if err != nil {
			return a, false, err
		}
		// Nothing is pending any more: what this plan was to run has run.
		var why []string
		for _, g := range gates {
			if g.Status != GatePassed {
				why = append(why, g.Gate+": "+strings.Replace(g.Detail, " in this plan", " (it did not pass in this apply)", 1))
			}
		}
		a.Subject, a.Gates = subject, gates
		if len(why) > 0 {
			a.Status = "blocked: " + strings.Join(why, "; ")
			ap.held = append(ap.held, fmt.Sprintf("%s %s → %s", a.Object, a.Name, a.After))
			return a, false, nil
		}
		return a, true, nil
	case DeletePromptLabel, DeleteModelAlias, DeleteDeployment:
		pl := planner{ctx: ctx, b: ap.b, st: ap.st, opts: ap.opts.Options, plan: &Plan{}}
		obj, name := a.Object, a.Name
		if a.Type == DeleteDeployment {
			obj, _, _ = strings.Cut(a.Before, "@")
		}
		req, err := pl.requiredApprovals(obj, name)
		if err != nil {
			return a, false, err
		}
		if req > 0 {
			g := pl.approvalGate(req)
			a.Gates = []GateCheck{g}
			if g.Status != GatePassed {
				a.Status = "blocked: approvals: " + g.Detail
				return a, false, nil
			}
		}
		return a, true, nil
	case RenderTarget:
		if err := ap.render(ctx); err != nil {
			return a, false, err
		}
		content, ok := ap.rendered[a.Object]
		switch {
		case a.After == "" && !ok, a.After != "" && ok && state.HashBytes(content) == a.After:
			return a, true, nil
		}
		why := "the file would now differ from the plan"
		if len(ap.held) > 0 {
			why += " because these moves were held: " + strings.Join(ap.held, "; ")
		}
		a.Status = "blocked: " + why
		return a, false, nil
	}
	return a, true, nil
}

// gateOf is the specs' gate for the alias or label an action moves.
func (ap *applier) gateOf(a Action) compiler.Gate {
	kind, name, _ := strings.Cut(a.Object, "/")
	if kind == "prompts" {
		if p := ap.b.Prompts[name]; p != nil {
			return p.Gates[a.Name]
		}
	} else if m := ap.b.Models[name]; m != nil {
		return m.Gates[a.Name]
	}
	return compiler.Gate{}
}

// render renders, once, what the state serves after the moves of this apply.
func (ap *applier) render(ctx context.Context) error {
	if ap.renderedOK {
		return nil
	}
	if ap.opts.Renderer == nil {
		return errors.New("renderer not available")
	}
	view, err := ServedView(ctx, ap.st)
	if err != nil {
		return err
	}
	files, err := ap.opts.Renderer.Render(ctx, ap.b, view)
	if err != nil {
		return fmt.Errorf("render: %w", err)
	}
	ap.rendered = map[string][]byte{}
	for _, f := range files {
		ap.rendered[f.Path] = f.Content
	}
	ap.renderedOK = true
	return nil
}

// triggerFailure is a training trigger that could not be delivered: it is
// recorded and retried later, never an error that stops the apply.
type triggerFailure struct{ err error }

func (e *triggerFailure) Error() string { return e.err.Error() }
func (e *triggerFailure) Unwrap() error { return e.err }

// policyEntry is the audit entry of the policy decisions an apply acted on:
// the waivers it used (approver, expiry, reason) and the warnings.
func (ap *applier) policyEntry(now time.Time) *state.AuditEntry {
	if ap.policyDone {
		return nil
	}
	ap.policyDone = true
	// Written even when the check used no waiver and warned of nothing: it
	// is also where each apply begins in the log (OpenLineage's apply runs).
	waived, warns := ap.plan.Waived(), ap.plan.Policy.Count(diag.Warn)
	type used struct {
		Policy string `json:"policy"`
		Target string `json:"target"`
		Pos    string `json:"pos,omitempty"`
		Waiver string `json:"waiver"`
	}
	var ws []used
	for _, d := range waived {
		ws = append(ws, used{Policy: d.Code, Target: d.Object, Pos: d.Pos.String(), Waiver: d.Waiver})
	}
	after := map[string]any{"denials": 0, "warnings": warns, "waived": ws, "approvals": ap.plan.Approvals}
	if ap.opts.RepoURL != "" {
		after["repo_url"] = ap.opts.RepoURL
	}
	if ap.opts.Hotfix {
		after["hotfix"] = true
	}
	switch {
	case len(ap.opts.ApprovedBy) > 0:
		after["approved_by"] = ap.opts.ApprovedBy
	case ap.plan.Approvals > 0:
		after["approvals_unattributed"] = true // a count (--approvals) names nobody
	}
	return &state.AuditEntry{Time: now, Actor: ap.opts.Actor, Commit: ap.opts.Commit, Action: AuditPolicy, Object: "bundles/" + ap.plan.BundleHash,
		After: doc(after)}
}

// Audit actions that end an apply run in the log: AuditApplyDone after one
// that changed something (what it held back, the error that stopped it),
// AuditApplyDenied for one the policy check refused before any change.
const (
	AuditApplyDone   = "apply_done"
	AuditApplyDenied = "apply_denied"
)

// done appends the apply's closing entry when it wrote a policy_check
// entry (an apply that changed nothing left no run to close).
func (ap *applier) done(ctx context.Context, res *Result, cause error) error {
	if !ap.policyDone {
		return nil
	}
	type held struct {
		Action string `json:"action"`
		Status string `json:"status"`
	}
	hs := []held{}
	for _, a := range append(append([]Action{}, res.Blocked...), res.Failed...) {
		hs = append(hs, held{Action: a.Key(), Status: a.Status})
	}
	after := map[string]any{"applied": len(res.Applied), "held": hs}
	if cause != nil {
		after["error"] = cause.Error()
	}
	_, err := ap.st.AppendAudit(ctx, state.AuditEntry{Time: ap.opts.Now().UTC(), Actor: ap.opts.Actor, Commit: ap.opts.Commit,
		Action: AuditApplyDone, Object: "bundles/" + ap.plan.BundleHash, After: doc(after)})
	return err
}

// RecordDenied appends the entry of an apply the policy check refused: the
// denials' policy, target and position (not their messages, which a team
// policy writes), so that the refusal is in the log like every decision.
func RecordDenied(ctx context.Context, st state.Ops, bundleHash string, denials diag.List, opts ApplyOptions) error {
	type denial struct {
		Policy string `json:"policy"`
		Target string `json:"target,omitempty"`
		Pos    string `json:"pos,omitempty"`
	}
	ds := []denial{}
	for _, d := range denials {
		ds = append(ds, denial{Policy: d.Code, Target: d.Object, Pos: d.Pos.String()})
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	actor := opts.Actor
	if actor == "" {
		actor = "unknown"
	}
	after := map[string]any{"denials": ds, "approvals": opts.Approvals}
	if opts.RepoURL != "" {
		after["repo_url"] = opts.RepoURL
	}
	_, err := st.AppendAudit(ctx, state.AuditEntry{Time: now().UTC(), Actor: actor, Commit: opts.Commit,
		Action: AuditApplyDenied, Object: "bundles/" + bundleHash, After: doc(after)})
	return err
}

// AuditPolicy is the audit action recording the policy decisions an apply
// acted on (the waivers it used and the warnings), written with its first change.
const AuditPolicy = "policy_check"

// execute applies one action: the slow part (running an eval, snapshotting,
// writing a file) first, then the state change and its audit entry in one
// transaction, so a kill leaves either both or neither.
func (ap *applier) execute(ctx context.Context, a Action) error {
	b, st, opts := ap.b, ap.st, ap.opts
	now := opts.Now().UTC()
	entry := state.AuditEntry{Time: now, Actor: opts.Actor, Commit: opts.Commit, Action: string(a.Type), Object: a.Object}
	var change func(tx state.Ops) error
	switch a.Type {
	case RegisterPromptVersion:
		name := strings.TrimPrefix(a.Object, "prompts/")
		p := b.Prompts[name]
		if p == nil {
			return fmt.Errorf("prompt %s is not in the bundle", name)
		}
		pv := state.PromptVersion{Prompt: name, Version: p.Version, ContentHash: p.ContentHash, Template: p.Template, Inputs: p.Inputs,
			Model:        state.PromptModel{Provider: p.Model.Provider, ID: p.Model.ID, Temperature: p.Model.Temperature, MaxTokens: p.Model.MaxTokens},
			RegisteredAt: now, RegisteredBy: opts.Actor}
		for _, m := range p.Messages {
			pv.Messages = append(pv.Messages, state.Message{Role: m.Role, Content: m.Content})
		}
		entry.After = doc(map[string]string{"version": p.Version, "content_hash": p.ContentHash})
		change = func(tx state.Ops) error {
			_, err := tx.RegisterPromptVersion(ctx, pv)
			return err
		}
	case MovePromptLabel, MoveModelAlias:
		field := "label"
		if a.Type == MoveModelAlias {
			field = "alias"
		}
		entry.Before = pointerDoc(field, a.Name, a.Before)
		entry.After = doc(struct {
			Name    string      `json:"name"`
			Version string      `json:"version"`
			Subject string      `json:"subject,omitempty"`
			Gates   []GateCheck `json:"gates"`
		}{a.Name, a.After, a.Subject, a.Gates})
		required := ap.gateOf(a).Approvals // recorded, so removing it later needs as many
		change = func(tx state.Ops) error {
			if err := tx.SetPointer(ctx, a.Object, a.Name, a.Before, a.After); err != nil {
				return err
			}
			return tx.PutRecord(ctx, RecordPointerGate, a.Object+" "+a.Name, jsonBytes(pointerGate{Approvals: required}))
		}
	case DeletePromptLabel, DeleteModelAlias:
		field := "label"
		if a.Type == DeleteModelAlias {
			field = "alias"
		}
		entry.Before = pointerDoc(field, a.Name, a.Before)
		entry.After = doc(map[string]any{"deleted": a.Name, "gates": a.Gates, "approvals": opts.Approvals})
		change = func(tx state.Ops) error {
			if err := tx.SetPointer(ctx, a.Object, a.Name, a.Before, ""); err != nil {
				return err
			}
			return tx.DeleteRecord(ctx, RecordPointerGate, a.Object+" "+a.Name)
		}
	case DeleteDeployment:
		entry.Before = doc(map[string]string{"serves": a.Before})
		entry.After = doc(map[string]any{"deleted": a.Object, "gates": a.Gates, "approvals": opts.Approvals})
		change = func(tx state.Ops) error {
			return tx.DeleteRecord(ctx, RecordDeployment, strings.TrimPrefix(a.Object, "deployments/"))
		}
	case RunEval:
		if opts.Evals == nil {
			return errors.New("eval runner not available")
		}
		name := strings.TrimPrefix(a.Object, "evals/")
		req := EvalRequest{Eval: name, Target: a.Name, TargetVersion: a.TargetVersion, SubjectHash: a.Subject, EvalHash: a.After, Prices: opts.Prices}
		started := opts.Now().UTC()
		out, err := opts.Evals.RunEval(ctx, b, req)
		if err != nil {
			return err
		}
		hook("ran " + a.Key())
		run := state.EvalRun{Eval: name, EvalHash: a.After, Target: a.Name, TargetVersion: a.TargetVersion, SubjectHash: a.Subject,
			Passed: out.Passed, Metrics: out.Metrics, Summary: out.Summary, StartedAt: started, FinishedAt: opts.Now().UTC(), Cases: out.Cases,
			Answered: out.Answered, RAGSnapshots: out.RAGSnapshots, Tokens: out.Tokens, CostUSD: out.CostUSD}
		// What the run depended on besides its suite definition, whichever
		// way apply was called, so stale-eval drift can tell when it changes.
		inputs, inErr := CurrentEvalInputs(b, name, opts.Prices)
		dataset := ""
		if ev := b.Evals[name]; ev != nil {
			dataset = ev.DatasetHash
		}
		change = func(tx state.Ops) error {
			id, err := tx.RecordEvalRun(ctx, run)
			if err != nil {
				return err
			}
			after := map[string]any{"run": id, "target": run.Target, "version": run.TargetVersion, "subject": run.SubjectHash,
				"passed": run.Passed, "metrics": run.Metrics, "summary": run.Summary, "dataset_hash": dataset}
			if inErr == nil {
				after["judges"], after["scorers"], after["price_catalog"] = inputs.Judges, inputs.Scorers, inputs.Catalog
				if err := tx.PutRecord(ctx, RecordEvalInputs, EvalInputsKey(name, run.SubjectHash, run.EvalHash), jsonBytes(inputs)); err != nil {
					return err
				}
			}
			entry.After = doc(after)
			return nil
		}
	case SnapshotRAG:
		if opts.RAG == nil {
			return errors.New("rag snapshotter not available")
		}
		name := strings.TrimPrefix(a.Object, "rag/")
		snap, err := opts.RAG.Snapshot(ctx, b, name)
		if err != nil {
			return err
		}
		hook("ran " + a.Key())
		rec := doc(ragRecord{Hash: a.After, ID: snap.ID})
		entry.Before = a.Before
		entry.After = doc(map[string]string{"hash": a.After, "snapshot": snap.ID, "summary": snap.Summary})
		change = func(tx state.Ops) error { return tx.PutRecord(ctx, RecordRAGSnapshot, name, []byte(rec)) }
	case RenderTarget:
		if err := writeRendered(b.Root, a, ap.rendered[a.Object]); err != nil {
			return err
		}
		ap.didRender = true
		hook("ran " + a.Key())
		entry.Before, entry.After = a.Before, a.After
		change = func(tx state.Ops) error { return tx.SetRenderedHash(ctx, a.Object, a.After) }
	case TriggerTraining:
		c, err := fireTraining(ctx, b, st, opts, a, &entry)
		if err != nil {
			return ap.triggerFailed(ctx, a, err)
		}
		change = c
	default:
		return fmt.Errorf("action type %s is not supported by this cairn", a.Type)
	}
	pe := ap.policyEntry(now)
	return st.Update(ctx, func(tx state.Ops) error {
		if pe != nil {
			if _, err := tx.AppendAudit(ctx, *pe); err != nil {
				return err
			}
		}
		if err := change(tx); err != nil {
			return err
		}
		if _, err := tx.AppendAudit(ctx, entry); err != nil {
			return err
		}
		hook("in-tx " + a.Key())
		return nil
	})
}

// triggerFailed records a trigger that could not be delivered in the audit
// log (the trigger's own state record already says failed, with its
// attempts) and returns it as a triggerFailure.
func (ap *applier) triggerFailed(ctx context.Context, a Action, cause error) error {
	evidence := ""
	if a.Training != nil {
		evidence = a.Training.EvidenceID
	}
	_, err := ap.st.AppendAudit(ctx, state.AuditEntry{Time: ap.opts.Now().UTC(), Actor: ap.opts.Actor, Commit: ap.opts.Commit,
		Action: "trigger_training_failed", Object: a.Object, After: doc(map[string]string{"trigger": a.Name, "evidence_id": evidence, "error": cause.Error()})})
	if err != nil {
		return errors.Join(cause, err)
	}
	return &triggerFailure{err: cause}
}

// finish records the deployments this apply rendered, so that removing one
// from the specs later is a gated delete_deployment.
func (ap *applier) finish(ctx context.Context) error {
	if !ap.didRender {
		return nil
	}
	pl := &planner{ctx: ctx, b: ap.b, st: ap.st, opts: ap.opts.Options, plan: &Plan{}}
	want, err := deploymentRecords(pl)
	if err != nil {
		return err
	}
	have, err := ap.st.ListRecords(ctx, RecordDeployment, "")
	if err != nil {
		return err
	}
	if maps.EqualFunc(want, have, func(a, b []byte) bool { return string(a) == string(b) }) {
		return nil
	}
	return ap.st.Update(ctx, func(tx state.Ops) error {
		for _, name := range slices.Sorted(maps.Keys(want)) {
			if string(have[name]) != string(want[name]) {
				if err := tx.PutRecord(ctx, RecordDeployment, name, want[name]); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// unmarshalRecord decodes a JSON state record, naming it in the error.
func unmarshalRecord(raw []byte, kind, key string, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("state record %s %q: %w", kind, key, err)
	}
	return nil
}
