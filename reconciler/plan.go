// Package reconciler plans and applies the change between a compiled Bundle
// and the recorded registry state. A Plan is plain data (in the style of
// Terraform's plans): typed actions with a reason, the object, before/after
// and a gate status; Apply executes it one transaction per action.
package reconciler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/evals"
	"github.com/cairn-dev/cairn/internal/diag"
	"github.com/cairn-dev/cairn/prices"
	"github.com/cairn-dev/cairn/prompts"
	"github.com/cairn-dev/cairn/rag"
	"github.com/cairn-dev/cairn/rollout"
	"github.com/cairn-dev/cairn/state"
	"github.com/cairn-dev/cairn/targets"
)

// FormatVersion of the audit report JSON; bump when its shape changes.
const FormatVersion = 1

// PlanFormatVersion is the version of the plan JSON (`plan --format json`,
// saved plan files), documented by docs/plan.schema.json: the major number
// changes when a reader must change.
const PlanFormatVersion = "2.0"

// CodeVersionNotBumped: a prompt's content changed but its version did not.
const CodeVersionNotBumped = "E100"

// ActionType names what an action does.
type ActionType string

const (
	RegisterPromptVersion ActionType = "register_prompt_version"
	SnapshotRAG           ActionType = "snapshot_rag"
	RunEval               ActionType = "run_eval"
	MovePromptLabel       ActionType = "move_prompt_label"
	MoveModelAlias        ActionType = "move_model_alias"
	RenderTarget          ActionType = "render_target"
	TriggerTraining       ActionType = "trigger_training" // see training.go
	// Gated destroys: what served an environment and is gone from the specs.
	DeletePromptLabel ActionType = "delete_prompt_label"
	DeleteModelAlias  ActionType = "delete_model_alias"
	DeleteDeployment  ActionType = "delete_deployment"
)

// phase orders actions so that every action's inputs exist before it runs.
var phase = map[ActionType]int{
	RegisterPromptVersion: 0, SnapshotRAG: 1, RunEval: 2, MovePromptLabel: 3, MoveModelAlias: 3,
	DeletePromptLabel: 3, DeleteModelAlias: 3, DeleteDeployment: 3, RenderTarget: 4, TriggerTraining: 5,
}

// StatusReady is the gate status of an action that may run.
const StatusReady = "ready"

// Gate check statuses.
const (
	GatePassed  = "passed"
	GateFailed  = "failed"
	GatePending = "pending" // satisfied by an earlier action of this plan, re-checked when applied
)

// GateCheck is one gate of a move, with the value it saw.
type GateCheck struct {
	Gate   string `json:"gate"` // "version", "metric auc", "eval fraud-holdout", "approvals"
	Status string `json:"status"`
	Detail string `json:"detail"`
}

// Action is one step of a plan.
type Action struct {
	Type   ActionType `json:"type"`
	Object string     `json:"object"`         // "prompts/support-answer", "evals/x", "rag/kb", "rendered/k8s/a.yaml"
	Name   string     `json:"name,omitempty"` // the alias/label moved
	Reason string     `json:"reason"`
	Before string     `json:"before,omitempty"`
	After  string     `json:"after,omitempty"`
	// Status is "ready" or "blocked: <gate>: <what it saw>".
	Status string        `json:"status"`
	Gates  []GateCheck   `json:"gates,omitempty"`
	Pos    diag.Position `json:"pos"`

	// Subject is the exact content an eval judges (run_eval) or that is registered.
	Subject       string `json:"subject,omitempty"`
	TargetVersion string `json:"target_version,omitempty"`

	// Training is the decision and evidence of a trigger_training action.
	Training *TrainingRun `json:"training,omitempty"`

	// Compared puts a model alias move's version beside the version at the
	// alias now, on the metrics its per-version classic evals compute from
	// both versions' predictions (shown, not a gate: not_worse_than is).
	Compared []Compared `json:"compared,omitempty"`
}

// Compared is one computed metric of the moving version (Head) and the
// version at the alias now (Base, version BaseVersion), with the paired
// bootstrap 95 % interval of the difference.
type Compared struct {
	Metric      string   `json:"metric"` // "<eval>.<metric>"
	BaseVersion string   `json:"base_version"`
	Base        float64  `json:"base"`
	Head        float64  `json:"head"`
	Diff        float64  `json:"difference"`
	Low         *float64 `json:"ci_low,omitempty"`
	High        *float64 `json:"ci_high,omitempty"`
	Rows        int      `json:"rows"`
}

// Ready reports whether the action may run.
func (a Action) Ready() bool { return a.Status == StatusReady }

// Key identifies an action within an apply (the same key never runs twice).
func (a Action) Key() string {
	return string(a.Type) + " " + a.Object + " " + a.Name + " " + a.After + " " + a.Subject
}

// Plan is the ordered list of actions that brings state to the bundle. It
// is made against one bundle and one state (State); Apply refuses it when
// either changed since, as Terraform refuses a stale saved plan.
type Plan struct {
	FormatVersion string   `json:"format_version"`
	BundleHash    string   `json:"bundle_hash"`
	State         StateRef `json:"state"`
	Approvals     int      `json:"approvals"`
	// Policy holds the check stage's results: compile errors, denials,
	// warnings and waived denials, each at its file:line:col.
	Policy diag.List `json:"policy,omitempty"`
	// Denied: an error or an unwaived denial in Policy blocks every action,
	// and Apply changes nothing.
	Denied  bool     `json:"denied,omitempty"`
	Actions []Action `json:"actions"`
	// Summary counts the actions; written, derived again on reading.
	Summary *Summary `json:"summary,omitempty"`
}

// Denials returns the policy results that block the plan: errors and
// unwaived denials.
func (p *Plan) Denials() diag.List { return p.Policy.Blocking() }

// Warnings returns the policy warnings: the check's, and the plan's own
// (a registered metric that disagrees with the computed one).
func (p *Plan) Warnings() diag.List {
	var out diag.List
	for _, d := range p.Policy {
		if d.Severity == diag.Warn {
			out = append(out, d)
		}
	}
	return out
}

// Waived returns the denials that waivers let through.
func (p *Plan) Waived() diag.List {
	var out diag.List
	for _, d := range p.Policy {
		if d.Severity == diag.Waived {
			out = append(out, d)
		}
	}
	return out
}

// Changes reports whether the plan has anything to do (ready or blocked).
func (p *Plan) Changes() bool { return len(p.Actions) > 0 }

// Blocked returns the blocked actions.
func (p *Plan) Blocked() []Action {
	var out []Action
	for _, a := range p.Actions {
		if !a.Ready() {
			out = append(out, a)
		}
	}
	return out
}

// EvalRequest asks for one eval suite to be run against one exact subject.
type EvalRequest struct {
	Eval          string
	Target        string // "prompts/x" or "models/y"
	TargetVersion string
	SubjectHash   string
	EvalHash      string
	// Prices is the catalog to meter cost with (nil: the runner's own).
	Prices *prices.Catalog
}

// EvalOutcome is what an eval runner reports.
type EvalOutcome struct {
	Passed  bool
	Metrics map[string]float64
	Summary string
	Cases   []state.CaseResult
	// What answered (lineage): provider-reported models and RAG snapshots.
	Answered     []state.Answered
	RAGSnapshots []string
	// What the run cost (operating metrics: eval cost per release).
	Tokens  int
	CostUSD float64
}

// EvalRunner runs eval suites (the evals package implements it). Nil means
// not available: eval gates without recorded evidence are then blocked.
type EvalRunner interface {
	RunEval(ctx context.Context, b *compiler.Bundle, req EvalRequest) (EvalOutcome, error)
}

// File is one rendered file, Path relative to the spec repo ("rendered/k8s/x.yaml").
type File struct {
	Path    string
	Content []byte
}

// Renderer renders deploy targets (the targets package implements it)
// against a view of what the state serves. Nil means rendering is left to
// `cairn render`: the plan has no render_target actions.
type Renderer interface {
	Render(ctx context.Context, b *compiler.Bundle, view targets.View) ([]File, error)
}

// RAGSnapshot is what a snapshotter reports.
type RAGSnapshot struct {
	ID      string `json:"id"`
	Summary string `json:"summary,omitempty"`
}

// RAGSnapshotter snapshots and indexes a RAG source (the rag package
// implements it). Nil means not available: the plan has no snapshot_rag actions.
type RAGSnapshotter interface {
	Snapshot(ctx context.Context, b *compiler.Bundle, name string) (RAGSnapshot, error)
}

// Options are the inputs of a plan besides the bundle and the state.
type Options struct {
	Approvals int // approvals present (from --approvals or the pull request)
	Evals     EvalRunner
	Renderer  Renderer
	RAG       RAGSnapshotter
	// Policy is what the check stage found (pipeline.Check): any error or
	// unwaived denial in it blocks every action of the plan.
	Policy diag.List
	// Prices is the catalog eval runs meter cost with, recorded with each
	// run's inputs (nil: prices.Default()).
	Prices *prices.Catalog
	// Now is the clock training-trigger back-off is judged by (nil: time.Now).
	Now func() time.Time
}

// RecordRAGSnapshot is the record kind where apply notes which RAG content
// each source was snapshotted at (key: rag name, value: JSON ragRecord).
const RecordRAGSnapshot = "reconciler.rag_snapshot"

type ragRecord struct {
	Hash string `json:"hash"`
	ID   string `json:"id"`
}

// BuildPlan computes the plan. A prompt whose content changed without a
// version bump makes it fail with a diag.List naming the prompt, the version
// and both hashes.
func BuildPlan(ctx context.Context, b *compiler.Bundle, st state.Ops, opts Options) (*Plan, error) {
	ref, err := ReadStateRef(ctx, st)
	if err != nil {
		return nil, err
	}
	p := &Plan{FormatVersion: PlanFormatVersion, BundleHash: b.Hash(), State: ref, Approvals: opts.Approvals, Actions: []Action{}}
	if len(opts.Policy) > 0 {
		p.Policy = append(diag.List{}, opts.Policy...)
		p.Policy.Sort()
	}
	p.Denied = len(p.Denials()) > 0
	pl := planner{ctx: ctx, b: b, st: st, opts: opts, plan: p, evals: map[string]bool{}}
	if err := pl.prompts(); err != nil {
		return nil, err
	}
	if err := pl.rag(); err != nil {
		return nil, err
	}
	if err := pl.models(); err != nil {
		return nil, err
	}
	if err := pl.deletes(); err != nil {
		return nil, err
	}
	if err := pl.training(); err != nil {
		return nil, err
	}
	if err := pl.render(); err != nil {
		return nil, err
	}
	if p.Denied {
		why := denialStatus(p.Denials())
		for i := range p.Actions {
			p.Actions[i].Status = why
		}
	}
	sort.SliceStable(p.Actions, func(i, j int) bool {
		a, c := p.Actions[i], p.Actions[j]
		if phase[a.Type] != phase[c.Type] {
			return phase[a.Type] < phase[c.Type]
		}
		if a.Object != c.Object {
			return a.Object < c.Object
		}
		return a.Name < c.Name
	})
	return p, nil
}

// denialStatus is the status of every action of a denied plan: the first
// denial with its position, and how many there are.
func denialStatus(ds diag.List) string {
	d := ds[0]
	where := ""
	if d.Pos.IsValid() {
		where = d.Pos.String() + ": "
	}
	more := ""
	if len(ds) > 1 {
		more = fmt.Sprintf(" (and %d more)", len(ds)-1)
	}
	return fmt.Sprintf("blocked: policy: %s%s %s: %s%s", where, d.Severity, d.Code, d.Message, more)
}

type planner struct {
	ctx    context.Context
	b      *compiler.Bundle
	st     state.Ops
	opts   Options
	plan   *Plan
	evals  map[string]bool // run_eval actions already added (eval + subject)
	warned map[string]bool // claims warnings already given
}

func (pl *planner) add(a Action) { pl.plan.Actions = append(pl.plan.Actions, a) }

func (pl *planner) prompts() error {
	var errs diag.List
	for _, name := range slices.Sorted(maps.Keys(pl.b.Prompts)) {
		p := pl.b.Prompts[name]
		obj := "prompts/" + name
		reg, err := pl.st.GetPromptVersion(pl.ctx, name, p.Version)
		switch {
		case err == nil && reg.ContentHash != p.ContentHash:
			errs = append(errs, diag.Diagnostic{Severity: diag.Error, Code: CodeVersionNotBumped, Object: obj, Path: "version",
				Pos: pl.b.Position(obj + ".version"),
				Message: fmt.Sprintf("prompt %s changed without a version bump: version %s is registered with content %s, the spec now hashes to %s; bump version",
					name, p.Version, reg.ContentHash, p.ContentHash)})
			continue
		case err == nil:
		case isNotFound(err):
			pl.add(Action{Type: RegisterPromptVersion, Object: obj, After: p.Version, Subject: p.ContentHash, TargetVersion: p.Version,
				Reason: fmt.Sprintf("version %s (content %s) is not registered", p.Version, p.ContentHash),
				Status: StatusReady, Pos: pl.b.Position(obj + ".version")})
		default:
			return err
		}
		for _, label := range slices.Sorted(maps.Keys(p.Labels)) {
			want := p.Labels[label]
			if err := pl.move(MovePromptLabel, obj, "labels", label, want, p.Gates[label]); err != nil {
				return err
			}
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func (pl *planner) models() error {
	for _, name := range slices.Sorted(maps.Keys(pl.b.Models)) {
		m := pl.b.Models[name]
		for _, alias := range slices.Sorted(maps.Keys(m.Aliases)) {
			if err := pl.move(MoveModelAlias, "models/"+name, "aliases", alias, m.Aliases[alias], m.Gates[alias]); err != nil {
				return err
			}
		}
	}
	return nil
}

func isNotFound(err error) bool { return errors.Is(err, state.ErrNotFound) }

// move plans moving one alias/label and checks its gates.
func (pl *planner) move(t ActionType, obj, field, name, want string, gate compiler.Gate) error {
	cur, ok, err := pl.st.GetPointer(pl.ctx, obj, name)
	if err != nil {
		return err
	}
	if ok && cur == want {
		return nil
	}
	a := Action{Type: t, Object: obj, Name: name, Before: cur, After: want, TargetVersion: want, Pos: pl.b.Position(obj + "." + field + "." + name)}
	switch {
	case !ok:
		a.Reason = fmt.Sprintf("spec sets %s.%s = %s; not set in state", field, name, want)
	case compareVersions(want, cur) < 0:
		a.Reason = fmt.Sprintf("roll back %s.%s from %s to %s", field, name, cur, want)
	default:
		a.Reason = fmt.Sprintf("spec sets %s.%s = %s; state has %s", field, name, want, cur)
	}

	subject, gates, err := pl.checks(t, obj, name, want, gate)
	if err != nil {
		return err
	}
	a.Subject, a.Gates = subject, gates
	if t == MoveModelAlias && ok {
		a.Compared = pl.compared(strings.TrimPrefix(obj, "models/"), want, cur, gate)
	}
	if ok && (t == MoveModelAlias || t == MovePromptLabel) {
		g, err := pl.promoted(obj, name, want)
		if err != nil {
			return err
		}
		a.Gates = append(a.Gates, g...)
	}
	a.Status = gateStatus(a.Gates)
	pl.add(a)
	return nil
}

// checks evaluates the gates for pointing obj at version: it returns the
// subject (the exact content served) and one check per gate.
func (pl *planner) checks(t ActionType, obj, alias, version string, gate compiler.Gate) (string, []GateCheck, error) {
	subject, vcheck, err := pl.subject(obj, version)
	if err != nil {
		return "", nil, err
	}
	gates := []GateCheck{vcheck}
	if t == MoveModelAlias && vcheck.Status == GatePassed {
		mv, err := pl.st.GetModelVersion(pl.ctx, strings.TrimPrefix(obj, "models/"), version)
		if err != nil {
			return "", nil, err
		}
		for _, metric := range slices.Sorted(maps.Keys(gate.Metrics)) {
			if evName, mName, ok := strings.Cut(metric, "."); ok && pl.b.Evals[evName] != nil {
				g, err := pl.computedMetricGate(evName, mName, gate.Metrics[metric], obj, version, subject)
				if err != nil {
					return "", nil, err
				}
				gates = append(gates, g)
				continue
			}
			gates = append(gates, metricGate(metric, gate.Metrics[metric], mv))
		}
		if nw := gate.NotWorseThan; nw != nil {
			g, err := pl.notWorseThan(obj, version, nw)
			if err != nil {
				return "", nil, err
			}
			gates = append(gates, g...)
		}
		if err := pl.claims(obj, mv, subject); err != nil {
			return "", nil, err
		}
		if g, ok, err := pl.explained(obj, alias, version); err != nil {
			return "", nil, err
		} else if ok {
			gates = append(gates, g)
		}
	}
	for _, ev := range gate.Evals {
		g, err := pl.evalGate(ev, obj, version, subject, vcheck.Status != GateFailed)
		if err != nil {
			return "", nil, err
		}
		gates = append(gates, g)
	}
	if gate.Approvals > 0 {
		g := GateCheck{Gate: "approvals", Status: GatePassed, Detail: fmt.Sprintf("%d of %d required approvals", pl.opts.Approvals, gate.Approvals)}
		if pl.opts.Approvals < gate.Approvals {
			g.Status = GateFailed
		}
		gates = append(gates, g)
	}
	return subject, gates, nil
}

// GateEvidence checks, against the state now, the gates of pointing obj's
// alias at version (t is MovePromptLabel or MoveModelAlias): the subject that
// version stands for and one check per gate. The audit report shows it as
// the evidence of what is served.
func GateEvidence(ctx context.Context, b *compiler.Bundle, st state.Ops, t ActionType, obj, alias, version string, gate compiler.Gate) (string, []GateCheck, error) {
	pl := planner{ctx: ctx, b: b, st: st, plan: &Plan{}, evals: map[string]bool{}}
	return pl.checks(t, obj, alias, version, gate)
}

func gateStatus(gs []GateCheck) string {
	var why []string
	for _, g := range gs {
		if g.Status == GateFailed {
			why = append(why, g.Gate+": "+g.Detail)
		}
	}
	if len(why) == 0 {
		return StatusReady
	}
	return "blocked: " + strings.Join(why, "; ")
}

// explained is the explanation gate: a classic model of risk "high" in a
// sensitive domain serves production only with a global explanation
// attached to the version (registry attach). Production is the prod alias
// and any alias a prod deployment's canary serves from, so a canary cannot
// take production traffic unexplained. ok is false where it does not apply.
func (pl *planner) explained(obj, alias, version string) (GateCheck, bool, error) {
	name := strings.TrimPrefix(obj, "models/")
	m := pl.b.Models[name]
	if m == nil || m.Kind != "classic" || m.Risk != "high" || !m.Sensitive || !servesProd(pl.b, name, alias) {
		return GateCheck{}, false, nil
	}
	g := GateCheck{Gate: "explanation"}
	a, ok, err := state.GetExplanation(pl.ctx, pl.st, name, version)
	if err != nil {
		return g, true, err
	}
	if ok {
		g.Status, g.Detail = GatePassed, "attached: "+a.Summary()
		return g, true, nil
	}
	g.Status = GateFailed
	g.Detail = fmt.Sprintf("%s is high-risk in sensitive domain %q: version %s serves production only with a global explanation attached (cairn registry attach %s %s --explanation FILE)", obj, m.Domain, version, name, version)
	return g, true, nil
}

// servesProd reports whether model's alias takes production traffic: it is
// the prod alias, or the canary candidate of a deployment serving prod.
func servesProd(b *compiler.Bundle, model, alias string) bool {
	if alias == ProdAlias {
		return true
	}
	for _, d := range b.Deployments {
		if d.Model == model && d.Alias == ProdAlias && len(d.Rollout.Steps) > 0 && d.Rollout.Candidate == alias {
			return true
		}
	}
	return false
}

// subject returns the content hash that version `v` of obj stands for and
// the "version" gate: registered, about to be registered, or unknown.
func (pl *planner) subject(obj, v string) (string, GateCheck, error) {
	g := GateCheck{Gate: "version"}
	kind, name, _ := strings.Cut(obj, "/")
	if kind == "prompts" {
		pv, err := pl.st.GetPromptVersion(pl.ctx, name, v)
		if err == nil {
			g.Status, g.Detail = GatePassed, fmt.Sprintf("%s is registered (%s)", v, pv.ContentHash)
			return pv.ContentHash, g, nil
		}
		if !isNotFound(err) {
			return "", g, err
		}
		if p := pl.b.Prompts[name]; p.Version == v {
			g.Status, g.Detail = GatePending, fmt.Sprintf("%s is registered by this plan (%s)", v, p.ContentHash)
			return p.ContentHash, g, nil
		}
		g.Status = GateFailed
		g.Detail = fmt.Sprintf("version %s is not registered and the spec's current version is %s (only that one can be registered from this repo)", v, pl.b.Prompts[name].Version)
		return "", g, nil
	}
	mv, err := pl.st.GetModelVersion(pl.ctx, name, v)
	if err == nil {
		g.Status, g.Detail = GatePassed, fmt.Sprintf("%s is registered (%s)", v, mv.ArtifactURI)
		return mv.ContentHash(), g, nil
	}
	if !isNotFound(err) {
		return "", g, err
	}
	g.Status = GateFailed
	g.Detail = fmt.Sprintf("version %s is not registered (a training pipeline registers it with `cairn registry register %s --version %s --artifact URI`)", v, name, v)
	return "", g, nil
}

// computedMetricGate compares a metric an eval computed from this
// version's predictions with a gate bound ("fraud-fairness.auc": ">= 0.9"):
// it reads the eval's latest run for the version, or plans the run (the
// gate is then pending and checked again when apply has run it).
func (pl *planner) computedMetricGate(evName, metric, bound, obj, version, subject string) (GateCheck, error) {
	g := GateCheck{Gate: "metric " + evName + "." + metric}
	op, want, err := ParseBound(bound)
	if err != nil {
		g.Status, g.Detail = GateFailed, err.Error()
		return g, nil
	}
	run, ok, err := pl.st.LatestEvalRun(pl.ctx, evName, subject, EvalHashFor(pl.b, pl.b.Evals[evName]))
	if err != nil {
		return g, err
	}
	if !ok {
		// The same run the eval gate would plan: its result decides this bound.
		eg, err := pl.evalGate(evName, obj, version, subject, true)
		if err != nil || eg.Status != GatePending {
			return eg, err
		}
		g.Status, g.Detail = GatePending, fmt.Sprintf("computed by run_eval %s in this plan (needs %s %s)", evName, op, fmtNum(want))
		return g, nil
	}
	got, has := run.Metrics[metric]
	if !has {
		g.Status, g.Detail = GateFailed, fmt.Sprintf("eval %s run #%d has no value for %s (needs %s %s)", evName, run.ID, metric, op, fmtNum(want))
		return g, nil
	}
	g.Detail = fmt.Sprintf("%s = %s computed by eval %s run #%d, needs %s %s", metric, fmtNum(got), evName, run.ID, op, fmtNum(want))
	g.Status = GateFailed
	if compareOp(got, op, want) {
		g.Status = GatePassed
	}
	return g, nil
}

// notWorseThan compares the moving version (the challenger) with the
// version at another alias now (the champion) on each computed metric, on
// the rows both predicted: it passes when, at 95 %, the challenger is worse
// by no more than the margin — the lower end of the paired bootstrap
// interval of the improvement is at least −margin.
func (pl *planner) notWorseThan(obj, version string, nw *compiler.NotWorseThan) ([]GateCheck, error) {
	champ, ok, err := pl.st.GetPointer(pl.ctx, obj, nw.Alias)
	if err != nil {
		return nil, err
	}
	var out []GateCheck
	for _, metric := range slices.Sorted(maps.Keys(nw.By)) {
		margin := nw.By[metric]
		g := GateCheck{Gate: "not worse than " + nw.Alias + ": " + metric, Status: GatePassed}
		evName, mName, _ := strings.Cut(metric, ".")
		switch {
		case !ok:
			g.Detail = fmt.Sprintf("no version at %s yet: nothing to compare with", nw.Alias)
		case champ == version:
			g.Detail = fmt.Sprintf("%s is the version at %s", version, nw.Alias)
		default:
			c, err := evals.ComparePredictions(pl.ctx, pl.b, evName, mName, version, champ)
			if err != nil {
				g.Status, g.Detail = GateFailed, err.Error()
				break
			}
			_, worst, has := c.Improvement()
			if !has {
				g.Status, g.Detail = GateFailed, fmt.Sprintf("%s = %s vs %s at %s = %s; too few resamples defined for an interval", version, fmtStat(c.Challenger), champ, nw.Alias, fmtStat(c.Champion))
				break
			}
			g.Detail = fmt.Sprintf("%s = %s vs %s at %s = %s: difference %+.4f [%+.4f, %+.4f] (paired bootstrap 95 %%, %d rows); may be worse by at most %s",
				version, fmtStat(c.Challenger), champ, nw.Alias, fmtStat(c.Champion), c.Diff, *c.Low, *c.High, c.Pairs, fmtNum(margin))
			if c.McNemarP != nil {
				g.Detail += fmt.Sprintf(" (McNemar p = %.3g)", *c.McNemarP)
			}
			if worst < -margin {
				g.Status = GateFailed
				g.Detail += fmt.Sprintf(", could be by %.4f", -worst)
			}
		}
		out = append(out, g)
	}
	return out, nil
}

// promoted gates moving the alias or label a progressive canary deployment serves
// (rollout.steps) to a new version: the move waits until the canary
// analysis promoted that version (its last step passed). A deployment's
// first version has no canary to wait for, and a version that was never
// the rollout's candidate cannot skip it.
func (pl *planner) promoted(obj, alias, version string) ([]GateCheck, error) {
	var out []GateCheck
	for _, name := range slices.Sorted(maps.Keys(pl.b.Deployments)) {
		d := pl.b.Deployments[name]
		served := "models/" + d.Model
		if d.Prompt != "" {
			served = "prompts/" + d.Prompt
		}
		if served != obj || d.Alias != alias || len(d.Rollout.Steps) == 0 {
			continue
		}
		g := GateCheck{Gate: "rollout " + name}
		raw, ok, err := pl.st.GetRecord(pl.ctx, rollout.KindProgress, name)
		if err != nil {
			return nil, err
		}
		var p rollout.Progress
		if ok {
			if err := json.Unmarshal(raw, &p); err != nil {
				return nil, fmt.Errorf("deployment %s: recorded progress: %w", name, err)
			}
		}
		switch {
		case ok && p.Canary == version && p.Done == "promoted":
			g.Status, g.Detail = GatePassed, fmt.Sprintf("the canary analysis promoted %s (every metric passed at the last step)", version)
		case ok && p.Canary == version && p.Done == "rolled_back":
			g.Status, g.Detail = GateFailed, fmt.Sprintf("the canary analysis rolled %s back: it cannot be promoted (register a new version)", version)
		case ok && p.Canary == version:
			g.Status, g.Detail = GateFailed, fmt.Sprintf("canary %s is at step %d of %d (%d%%): the move waits for the analysis to promote it", version, p.Step+1, len(d.Rollout.Steps), p.Weight)
		default:
			cand, _, err := pl.st.GetPointer(pl.ctx, obj, d.Rollout.Candidate)
			if err != nil {
				return nil, err
			}
			g.Status = GateFailed
			if cand == version {
				g.Detail = fmt.Sprintf("canary %s has not been analysed yet (reconcile --prometheus, or cairn analyze --record): the move waits for the analysis to promote it", version)
			} else {
				g.Detail = fmt.Sprintf("%s has not been through deployment %s's canary: move %s (its candidate) to %s first; %s follows once the analysis promotes it", version, name, d.Rollout.Candidate, version, alias)
			}
		}
		out = append(out, g)
	}
	return out, nil
}

// compared puts version beside base on every per-version classic eval the
// gate names (listed, or by a computed metric). An eval that cannot compare
// the two (a version not scored) shows nothing: its gate says why.
func (pl *planner) compared(model, version, base string, gate compiler.Gate) []Compared {
	names := map[string]bool{}
	for _, e := range gate.Evals {
		names[e] = true
	}
	for m := range gate.Metrics {
		if e, _, ok := strings.Cut(m, "."); ok {
			names[e] = true
		}
	}
	var out []Compared
	for _, e := range slices.Sorted(maps.Keys(names)) {
		ev := pl.b.Evals[e]
		if ev == nil || ev.Target.Model != model || !evals.PerVersion(ev) {
			continue
		}
		cs, err := evals.CompareVersions(pl.ctx, pl.b, e, version, base)
		if err != nil {
			continue
		}
		for _, c := range cs {
			out = append(out, Compared{Metric: e + "." + c.Name, BaseVersion: base, Base: c.Champion, Head: c.Challenger, Diff: c.Diff, Low: c.Low, High: c.High, Rows: c.Pairs})
		}
	}
	return out
}

func fmtStat(f float64) string { return strconv.FormatFloat(f, 'f', 4, 64) }

// claims warns, once per version, where a metric registered with the
// version (a claim, `registry register --metric`) disagrees with the same
// metric a classic eval computed from the version's predictions by more
// than the eval's tolerance.
func (pl *planner) claims(obj string, mv *state.ModelVersion, subject string) error {
	model := strings.TrimPrefix(obj, "models/")
	for _, evName := range slices.Sorted(maps.Keys(pl.b.Evals)) {
		ev := pl.b.Evals[evName]
		if ev.Target.Model != model || ev.Predictions == nil {
			continue
		}
		run, ok, err := pl.st.LatestEvalRun(pl.ctx, evName, subject, EvalHashFor(pl.b, ev))
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		tol := 0.02
		if ev.Predictions.Tolerance != nil {
			tol = *ev.Predictions.Tolerance
		}
		for _, m := range slices.Sorted(maps.Keys(run.Metrics)) {
			claim, has := mv.Metrics[m]
			if !has {
				claim, has = mv.Metrics[ev.Metrics[m].Scorer]
			}
			got := run.Metrics[m]
			key := obj + "@" + mv.Version + "/" + evName + "." + m
			if !has || math.Abs(claim-got) <= tol || pl.warned[key] {
				continue
			}
			if pl.warned == nil {
				pl.warned = map[string]bool{}
			}
			pl.warned[key] = true
			pl.plan.Policy = append(pl.plan.Policy, diag.Diagnostic{Severity: diag.Warn, Code: "metric_claims", Object: obj, Path: "gates",
				Pos: pl.b.Position("evals/" + evName + ".metrics." + m),
				Message: fmt.Sprintf("version %s was registered with %s = %s, but eval %s computed %s from its predictions (run #%d): they differ by %.4f, more than the tolerance %s (predictions.tolerance)",
					mv.Version, m, fmtNum(claim), evName, fmtStat(got), run.ID, math.Abs(claim-got), fmtNum(tol))})
		}
	}
	return nil
}

// metricGate compares a registered metric with a bound such as ">= 0.92".
func metricGate(metric, bound string, mv *state.ModelVersion) GateCheck {
	g := GateCheck{Gate: "metric " + metric}
	op, want, err := ParseBound(bound)
	if err != nil {
		g.Status, g.Detail = GateFailed, err.Error()
		return g
	}
	got, ok := mv.Metrics[metric]
	if !ok {
		g.Status, g.Detail = GateFailed, fmt.Sprintf("%s is not recorded for version %s (needs %s %s)", metric, mv.Version, op, fmtNum(want))
		return g
	}
	g.Detail = fmt.Sprintf("%s = %s, needs %s %s", metric, fmtNum(got), op, fmtNum(want))
	if compareOp(got, op, want) {
		g.Status = GatePassed
	} else {
		g.Status = GateFailed
	}
	return g
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// ParseBound parses a metric gate bound: ">= 0.92", "<0.05", "== 1".
func ParseBound(s string) (op string, v float64, err error) {
	t := strings.TrimSpace(s)
	for _, o := range []string{">=", "<=", "==", ">", "<"} {
		if strings.HasPrefix(t, o) {
			v, err := strconv.ParseFloat(strings.TrimSpace(t[len(o):]), 64)
			if err != nil {
				return "", 0, fmt.Errorf("bound %q: %q is not a number", s, strings.TrimSpace(t[len(o):]))
			}
			return o, v, nil
		}
	}
	return "", 0, fmt.Errorf("bound %q must start with >=, <=, >, < or ==", s)
}

func compareOp(got float64, op string, want float64) bool {
	switch op {
	case ">=":
		return got >= want
	case "<=":
		return got <= want
	case ">":
		return got > want
	case "<":
		return got < want
	}
	return got == want
}

// EvalHash identifies an eval suite's definition and dataset only. Gates key
// evidence by EvalHashFor, which also covers the knowledge base a prompt
// target retrieves from.
func EvalHash(e *compiler.Eval) string {
	b, _ := json.Marshal(struct {
		Target      compiler.EvalTarget        `json:"target"`
		DatasetHash string                     `json:"dataset_hash"`
		Metrics     map[string]compiler.Metric `json:"metrics"`
		Repeats     int                        `json:"repeats"`
		MinPasses   int                        `json:"min_passes"`
	}{e.Target, e.DatasetHash, e.Metrics, e.Repeats, e.MinPasses})
	return state.HashBytes(b)
}

// EvalHashFor identifies the evidence an eval run stands for: the suite
// definition and dataset (EvalHash) and, when the target is a prompt with a
// rag source, that source's content (RAGHash) — retrieved chunks fill
// {{ context }}, so a changed knowledge base makes old runs stale. Targets
// without rag hash exactly as EvalHash, so their recorded evidence still counts.
func EvalHashFor(b *compiler.Bundle, e *compiler.Eval) string {
	base := EvalHash(e)
	if b == nil || e.Target.Prompt == "" {
		return base
	}
	p := b.Prompts[e.Target.Prompt]
	if p == nil || p.RAG == "" {
		return base
	}
	r := b.RAG[p.RAG]
	if r == nil {
		return base
	}
	j, _ := json.Marshal(struct {
		Suite string `json:"suite"`
		RAG   string `json:"rag"`
		Hash  string `json:"rag_hash"`
	}{base, p.RAG, RAGHash(b, r)})
	return state.HashBytes(j)
}

// evalGate checks eval evidence for an exact subject and, when it is missing
// and a runner is available, plans the run.
func (pl *planner) evalGate(evName, obj, version, subject string, canRun bool) (GateCheck, error) {
	g := GateCheck{Gate: "eval " + evName}
	ev := pl.b.Evals[evName]
	if ev == nil {
		g.Status, g.Detail = GateFailed, fmt.Sprintf("eval %s is not defined", evName)
		return g, nil
	}
	if subject == "" {
		g.Status, g.Detail = GateFailed, fmt.Sprintf("not checked: version %s is unknown", version)
		return g, nil
	}
	eh := EvalHashFor(pl.b, ev)
	run, ok, err := pl.st.LatestEvalRun(pl.ctx, evName, subject, eh)
	if err != nil {
		return g, err
	}
	if ok {
		if run.Passed {
			g.Status, g.Detail = GatePassed, fmt.Sprintf("run #%d passed for %s%s", run.ID, subject, summary(run.Summary))
		} else {
			g.Status, g.Detail = GateFailed, fmt.Sprintf("run #%d failed for %s%s", run.ID, subject, summary(run.Summary))
		}
		return g, nil
	}
	if pl.opts.Evals == nil {
		g.Status, g.Detail = GateFailed, fmt.Sprintf("no run for %s and eval runner not available", subject)
		return g, nil
	}
	kind, name, _ := strings.Cut(obj, "/")
	if kind == "prompts" && pl.b.Prompts[name].Version != version {
		g.Status, g.Detail = GateFailed, fmt.Sprintf("no run for %s; only the spec's current version %s can be evaluated from this repo", version, pl.b.Prompts[name].Version)
		return g, nil
	}
	if !canRun {
		g.Status, g.Detail = GateFailed, "cannot run: version unknown"
		return g, nil
	}
	key := evName + " " + subject
	if !pl.evals[key] {
		pl.evals[key] = true
		pl.add(Action{Type: RunEval, Object: "evals/" + evName, Name: obj, TargetVersion: version, Subject: subject,
			Reason: fmt.Sprintf("gates %s@%s; no run for %s with this suite definition%s", obj, version, subject, ragNote(pl.b, ev)),
			After:  eh, Status: StatusReady, Pos: ev.Pos})
	}
	g.Status, g.Detail = GatePending, fmt.Sprintf("run_eval %s for %s in this plan", evName, subject)
	return g, nil
}

// ragNote names the knowledge base an eval's evidence is tied to.
func ragNote(b *compiler.Bundle, e *compiler.Eval) string {
	if p := b.Prompts[e.Target.Prompt]; p != nil && p.RAG != "" && b.RAG[p.RAG] != nil {
		return " and rag " + p.RAG + " content"
	}
	return ""
}

func summary(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

// RAGHash identifies a RAG source's content and settings.
func RAGHash(b *compiler.Bundle, r *compiler.RAG) string {
	files := map[string]string{}
	for _, s := range r.Sources {
		for _, f := range s.Files {
			files[f] = b.Files[f]
		}
	}
	j, _ := json.Marshal(struct {
		Sources   []compiler.RAGSourceFile `json:"sources"`
		Chunking  compiler.Chunking        `json:"chunking"`
		Embedding compiler.Embedding       `json:"embedding"`
		Files     map[string]string        `json:"files"`
	}{r.Sources, r.Chunking, r.Embedding, files})
	return state.HashBytes(j)
}

// rag plans a snapshot_rag per source whose content differs from its
// current snapshot. The current snapshot is the rag package's (written by
// apply or by `cairn rag build` into the same state store), compared with a
// scan of the sources (rag.PlanSource: no embedding); before/after are
// snapshot ids and the reason names the documents added, changed and
// removed. When the sources cannot be scanned here (a missing file: apply
// will report it), the plan falls back to the hash apply recorded.
func (pl *planner) rag() error {
	if pl.opts.RAG == nil {
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(pl.b.RAG)) {
		r := pl.b.RAG[name]
		want := RAGHash(pl.b, r)
		raw, ok, err := pl.st.GetRecord(pl.ctx, RecordRAGSnapshot, name)
		if err != nil {
			return err
		}
		var rec ragRecord
		if ok {
			if err := json.Unmarshal(raw, &rec); err != nil {
				return fmt.Errorf("state record %s/%s: %w", RecordRAGSnapshot, name, err)
			}
		}
		if diff, err := rag.PlanSource(pl.ctx, pl.b.Root, r, pl.st, rag.Lineage{}); err == nil {
			if !diff.HasChanges() {
				continue
			}
			pl.add(Action{Type: SnapshotRAG, Object: "rag/" + name, Before: diff.From, After: diff.To, Reason: ragReason(diff), Status: StatusReady, Pos: r.Pos})
			continue
		}
		if rec.Hash == want {
			continue
		}
		reason := "sources changed since the last snapshot"
		if !ok {
			reason = "never snapshotted"
		}
		pl.add(Action{Type: SnapshotRAG, Object: "rag/" + name, Before: rec.Hash, After: want, Reason: reason, Status: StatusReady, Pos: r.Pos})
	}
	return nil
}

// ragReason says what a snapshot would change, naming up to 5 documents per
// kind of change.
func ragReason(d rag.Diff) string {
	names := func(what string, paths []string) string {
		const most = 5
		s := what + " " + strings.Join(paths[:min(len(paths), most)], ", ")
		if len(paths) > most {
			s += fmt.Sprintf(" and %d more", len(paths)-most)
		}
		return s
	}
	var parts []string
	if d.From == "" {
		parts = append(parts, fmt.Sprintf("never snapshotted (%d documents)", len(d.Added)))
	} else {
		for _, c := range []struct {
			what  string
			paths []string
		}{{"added", d.Added}, {"changed", d.Changed}, {"removed", d.Removed}, {"relabeled", d.Relabeled}} {
			if len(c.paths) > 0 {
				parts = append(parts, names(c.what, c.paths))
			}
		}
		if d.Reembed {
			parts = append(parts, "re-embed all: "+d.Reason)
		}
		if len(parts) == 0 {
			parts = append(parts, "snapshot settings changed")
		}
	}
	return strings.Join(parts, "; ")
}

// render plans render_target actions. The files are rendered from the
// view of what the state will serve once this plan is applied: the state's
// aliases and labels, moved where this plan's moves are ready or pending
// (their gates are checked again when applied), never where a move is
// blocked. Like Terraform's refresh it compares the files on disk as well as
// the hashes apply recorded: a file edited by hand or deleted is restored,
// and a file cairn generated that is no longer rendered is removed (an
// action with After ""), exactly as `cairn render` does (targets.Diff: files
// without the cairn header are never removed). The removal of a deployment's
// files waits for its delete_deployment gate.
func (pl *planner) render() error {
	if pl.opts.Renderer == nil {
		return nil
	}
	view, err := ServedView(pl.ctx, pl.st)
	if err != nil {
		return err
	}
	Project(&view, pl.b, pl.plan.Actions)
	files, err := pl.opts.Renderer.Render(pl.ctx, pl.b, view)
	if err != nil {
		return fmt.Errorf("render: %w", err)
	}
	have, err := pl.st.RenderedHashes(pl.ctx)
	if err != nil {
		return err
	}
	tf := make([]targets.File, 0, len(files))
	for _, f := range files {
		rel, err := renderedRel(f.Path)
		if err != nil {
			return fmt.Errorf("render: %w", err)
		}
		tf = append(tf, targets.File{Path: rel, Content: f.Content})
	}
	dir := filepath.Join(pl.b.Root, RenderedDir)
	changes, err := targets.Diff(dir, tf)
	if err != nil {
		return fmt.Errorf("render: compare %s: %w", dir, err)
	}
	onDisk := map[string]targets.Change{}
	for _, c := range changes {
		onDisk[RenderedDir+"/"+c.Path] = c
	}
	for _, f := range files {
		h := state.HashBytes(f.Content)
		a := Action{Type: RenderTarget, Object: f.Path, Before: have[f.Path], After: h, Status: StatusReady}
		switch c, differs := onDisk[f.Path]; {
		case have[f.Path] == "":
			a.Reason = "not rendered yet"
		case have[f.Path] != h:
			a.Reason = "content changed"
		case differs && c.Status == "missing":
			a.Reason = "missing"
		case differs:
			a.Reason = "edited outside cairn"
			a.Before = diskHash(filepath.Join(dir, filepath.FromSlash(c.Path)))
		default:
			continue
		}
		pl.add(a)
	}
	held := pl.heldDeploymentFiles()
	// The Argo CD Application needs the repository URL, which `cairn render
	// --repo-url` may have been given and apply may not know: an apply that
	// renders no Application leaves the one on disk alone.
	argo := false
	for _, f := range files {
		argo = argo || strings.HasPrefix(f.Path, RenderedDir+"/"+targets.Dir(targets.TargetArgoCD))
	}
	for _, c := range changes {
		if c.Status != "extra" || c.Foreign {
			continue
		}
		if !argo && strings.HasPrefix(c.Path, targets.Dir(targets.TargetArgoCD)) {
			continue
		}
		obj := RenderedDir + "/" + c.Path
		before := have[obj]
		if before == "" {
			before = diskHash(filepath.Join(dir, filepath.FromSlash(c.Path)))
		}
		a := Action{Type: RenderTarget, Object: obj, Before: before, Reason: "no longer rendered (a file cairn generated)", Status: StatusReady}
		if why, ok := held[c.Path]; ok {
			a.Status = "blocked: " + why
		}
		pl.add(a)
	}
	return nil
}

// renderedRel returns a rendered file's path relative to rendered/,
// refusing anything outside it.
func renderedRel(p string) (string, error) {
	rel, ok := strings.CutPrefix(p, RenderedDir+"/")
	if !ok || rel == "" || path.IsAbs(rel) || path.Clean(rel) != rel || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("rendered path %q is not a clean path under %s/", p, RenderedDir)
	}
	return rel, nil
}

func diskHash(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return state.HashBytes(b)
}

func compareVersions(a, b string) int { return prompts.CompareStrings(a, b) }
