package compliance

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/data"
	"github.com/cairn-dev/cairn/reconciler"
	"github.com/cairn-dev/cairn/state"
)

// Evidence is what one evidence kind found for a system: present (the
// kind holds), weak (enough for partial) or absent, with the lines that
// show it and, unless present, the gap and its fix.
type Evidence struct {
	Kind    string   `json:"kind"`
	Status  string   `json:"status"` // present | weak | absent
	Lines   []string `json:"lines"`
	Finding string   `json:"finding,omitempty"`
	Fix     string   `json:"fix,omitempty"`
}

const (
	present = "present"
	weak    = "weak"
	absent  = "absent"
)

// Served is one deployment of a system and the version it serves now.
type Served struct {
	Deployment string    `json:"deployment"`
	Kind       string    `json:"kind"`   // classic | llm
	Object     string    `json:"object"` // models/x | prompts/y
	Alias      string    `json:"alias"`
	Version    string    `json:"version,omitempty"` // empty: nothing served yet
	Digest     string    `json:"digest,omitempty"`
	Since      time.Time `json:"-"` // registration of the served version
	Lineage    string    `json:"lineage,omitempty"`
	Pos        string    `json:"pos"`
	mv         *state.ModelVersion
	gates      []reconciler.GateCheck
}

// collector gathers the evidence of one system.
type collector struct {
	ctx    context.Context
	b      *compiler.Bundle
	st     state.Ops
	sys    *compiler.System
	served []Served
	log    *LogSummary
	opts   Options
	out    map[string]Evidence
	// bounds are the thresholds gating what the system serves, judged.
	bounds       []BoundStatus
	lastIncident time.Time
}

func (c *collector) set(kind, status string, lines []string, finding, fix string) {
	if lines == nil {
		lines = []string{}
	}
	if status == present {
		finding, fix = "", ""
	}
	c.out[kind] = Evidence{Kind: kind, Status: status, Lines: lines, Finding: finding, Fix: fix}
}

// all evaluates every evidence kind of the closed list for the system.
func (c *collector) all() error {
	if err := c.servedVersions(); err != nil {
		return err
	}
	s := c.sys
	pos := s.Pos.String()
	// Declarations.
	if s.IntendedPurpose != "" {
		c.set("intended_purpose", present, []string{fmt.Sprintf("%q (%s)", s.IntendedPurpose, pos)}, "", "")
	} else {
		c.set("intended_purpose", absent, nil, "no intended purpose declared", "declare compliance.systems."+s.Name+".intended_purpose")
	}
	if o := s.Oversight; o != nil {
		c.set("oversight", present, []string{fmt.Sprintf("who: %s; override: %s; stop: %s (%s)", o.Who, o.Override, o.Stop, pos)}, "", "")
	} else {
		c.set("oversight", absent, nil, "no human oversight declared", "declare compliance.systems."+s.Name+".oversight: {who, override, stop}")
	}
	if len(s.Responsible) > 0 {
		c.set("responsible", present, []string{strings.Join(s.Responsible, ", ") + " (" + pos + ")"}, "", "")
	} else {
		c.set("responsible", absent, nil, "no responsible people declared", "declare compliance.systems."+s.Name+".responsible")
	}
	c.versions()
	c.classic()
	if err := c.gates(); err != nil {
		return err
	}
	if err := c.approvals(); err != nil {
		return err
	}
	if err := c.auditKinds(); err != nil {
		return err
	}
	c.operation()
	c.llm()
	c.signed()
	return nil
}

// servedVersions reads what each deployment of the system serves now.
func (c *collector) servedVersions() error {
	for _, dn := range c.sys.Deployments {
		d := c.b.Deployments[dn]
		if d == nil {
			continue
		}
		sv := Served{Deployment: dn, Kind: d.Kind, Alias: d.Alias, Pos: d.Pos.String()}
		if d.Model != "" {
			sv.Object = "models/" + d.Model
		} else {
			sv.Object = "prompts/" + d.Prompt
		}
		v, ok, err := c.st.GetPointer(c.ctx, sv.Object, d.Alias)
		if err != nil {
			return err
		}
		if ok {
			sv.Version = v
			switch {
			case d.Model != "":
				mv, err := c.st.GetModelVersion(c.ctx, d.Model, v)
				if err != nil && !errors.Is(err, state.ErrNotFound) {
					return err
				}
				if mv != nil {
					sv.mv, sv.Since, sv.Digest = mv, mv.RegisteredAt, mv.ContentHash()
					sv.Lineage = "cairn lineage " + d.Model + "@" + v
				}
			default:
				pv, err := c.st.GetPromptVersion(c.ctx, d.Prompt, v)
				if err != nil && !errors.Is(err, state.ErrNotFound) {
					return err
				}
				if pv != nil {
					sv.Since, sv.Digest = pv.RegisteredAt, pv.ContentHash
				}
			}
			gate := c.gateOf(sv)
			gate.Approvals = 0 // approvals are read from the move's record (approvals())
			if _, sv.gates, err = reconciler.GateEvidence(c.ctx, c.b, c.st, moveAction(sv.Object), sv.Object, d.Alias, v, gate); err != nil {
				return err
			}
		}
		c.served = append(c.served, sv)
	}
	return nil
}

func (c *collector) versions() {
	var lines, gaps []string
	for _, sv := range c.served {
		switch {
		case sv.Version == "":
			gaps = append(gaps, fmt.Sprintf("deployment %s serves nothing yet (%s@%s is not set in state)", sv.Deployment, sv.Object, sv.Alias))
		case sv.Digest == "":
			gaps = append(gaps, fmt.Sprintf("deployment %s serves %s version %s, which is not registered", sv.Deployment, sv.Object, sv.Version))
		default:
			l := fmt.Sprintf("%s serves %s@%s = version %s, %s", sv.Deployment, sv.Object, sv.Alias, sv.Version, sv.Digest)
			if sv.mv != nil {
				l += ", artifact " + sv.mv.ArtifactURI
				if sv.mv.Commit != "" {
					l += ", commit " + sv.mv.Commit
				}
				l += " (" + sv.Lineage + ")"
			}
			lines = append(lines, l)
		}
	}
	switch {
	case len(c.served) == 0:
		c.set("versions", absent, nil, "the system's deployments are not in the specs", "name existing deployments in compliance.systems."+c.sys.Name+".deployments")
	case len(gaps) == 0:
		c.set("versions", present, lines, "", "")
	case len(lines) > 0:
		c.set("versions", weak, append(lines, gaps...), strings.Join(gaps, "; "), "register the versions and apply the specs")
	default:
		c.set("versions", absent, gaps, strings.Join(gaps, "; "), "register the versions and apply the specs")
	}
}

// classic is the evidence about served classic models: training runs,
// data provenance, features, explanations, drift monitoring.
func (c *collector) classic() {
	var runs, prov, expl, drift, feats, val []string
	var noRun, noProv, noExpl, noDrift, noFeat, noVal []string
	models := map[string]bool{}
	for _, sv := range c.served {
		if sv.Kind != "classic" {
			continue
		}
		name := strings.TrimPrefix(sv.Object, "models/")
		models[name] = true
		if mv := sv.mv; mv != nil {
			switch {
			case mv.Run != nil && (len(mv.Run.Params) > 0 || len(mv.Run.Inputs) > 0):
				l := fmt.Sprintf("%s@%s: %d parameters, %d data inputs", name, mv.Version, len(mv.Run.Params), len(mv.Run.Inputs))
				if mv.Run.RepoURL != "" {
					l += ", code " + mv.Run.RepoURL
				}
				runs = append(runs, l)
			default:
				noRun = append(noRun, name+"@"+mv.Version)
			}
			var digests []string
			if mv.DataSnapshot != "" {
				digests = append(digests, "snapshot "+mv.DataSnapshot)
			}
			if mv.Run != nil {
				for _, in := range mv.Run.Inputs {
					digests = append(digests, in.URI+"@"+in.Digest)
				}
			}
			if len(digests) > 0 {
				prov = append(prov, fmt.Sprintf("%s@%s: %s", name, mv.Version, strings.Join(digests, ", ")))
			} else {
				noProv = append(noProv, name+"@"+mv.Version)
			}
			ex, ok, err := state.GetExplanation(c.ctx, c.st, name, mv.Version)
			switch {
			case err != nil:
				noExpl = append(noExpl, fmt.Sprintf("%s@%s (unreadable: %v)", name, mv.Version, err))
			case ok:
				expl = append(expl, fmt.Sprintf("%s@%s: %s", name, mv.Version, ex.Summary()))
			default:
				noExpl = append(noExpl, name+"@"+mv.Version)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(models)) {
		m := c.b.Models[name]
		if m == nil {
			continue
		}
		if m.Monitoring != nil && m.Monitoring.Drift != nil {
			l := fmt.Sprintf("%s: %s over %s, threshold %g (%s)", name, m.Monitoring.Drift.Method, strings.Join(m.Monitoring.Drift.Features, ", "), m.Monitoring.Drift.Threshold, m.Pos.String())
			if r, err := data.LatestDrift(c.ctx, c.st, name); err == nil && r != nil {
				l += fmt.Sprintf("; last result %s: %s", r.EvidenceID, driftVerdict(r))
			}
			drift = append(drift, l)
		} else {
			noDrift = append(noDrift, name)
		}
		for _, f := range m.Features {
			ft := c.b.Features[f]
			switch {
			case ft == nil:
			case ft.Quality != nil:
				feats = append(feats, fmt.Sprintf("%s (%s)", f, ft.Pos.String()))
			default:
				noFeat = append(noFeat, f)
			}
		}
		found := false
		_ = c.st.ScanAudit(c.ctx, state.AuditQuery{Object: "data/" + name, Action: data.AuditValidate, Desc: true, Limit: 1}, func(e state.AuditEntry) error {
			found = true
			val = append(val, fmt.Sprintf("feature set %s validated %s, audit #%d %s", name, state.FormatTime(e.Time), e.Seq, e.Hash))
			return nil
		})
		if !found {
			noVal = append(noVal, name)
		}
	}
	if len(models) == 0 {
		c.vacuous("no classic model is served by this system", "training_run", "data_provenance", "explanation", "drift_monitoring", "feature_specs", "data_validation")
		return
	}
	c.kind("training_run", runs, noRun, "served versions without a training run: ", "register versions with --param/--params-file and --data, or --from-mlflow")
	c.kind("data_provenance", prov, noProv, "served versions without data digests: ", "register versions with --data URI@sha256:… or --data-snapshot")
	c.kind("explanation", expl, noExpl, "served versions without an explanation: ", "cairn registry attach MODEL VERSION --explanation FILE")
	c.kind("drift_monitoring", drift, noDrift, "served models without drift monitoring: ", "declare models.NAME.monitoring.drift")
	c.kind("feature_specs", feats, noFeat, "features without quality rules: ", "declare features.NAME.quality")
	c.kind("data_validation", val, noVal, "feature sets never validated: ", "cairn data validate --feature-set MODEL --data SAMPLE")
}

// kind sets a kind from what holds and what does not: present when
// nothing is missing, weak when some holds, absent otherwise.
func (c *collector) kind(k string, ok, missing []string, what, fix string) {
	switch {
	case len(missing) == 0 && len(ok) > 0:
		c.set(k, present, ok, "", "")
	case len(ok) > 0:
		c.set(k, weak, ok, what+strings.Join(missing, ", "), fix)
	default:
		c.set(k, absent, nil, what+strings.Join(missing, ", "), fix)
	}
}

func driftVerdict(r *data.DriftResult) string {
	if !r.Drifted {
		return "no feature drifted"
	}
	return "drifted: " + strings.Join(r.DriftedFeatures, ", ")
}

var fairnessScorers = map[string]bool{"demographic_parity_difference": true, "demographic_parity_ratio": true, "equalized_odds_difference": true,
	"equal_opportunity_difference": true, "disparate_impact_ratio": true}

// gates is the evidence of the served aliases' gates: thresholds, the
// served version's results, fairness, prior-defined bounds.
func (c *collector) gates() error {
	var gated, ungated, failing, fair, unfair []string
	for _, sv := range c.served {
		if sv.Version == "" {
			continue
		}
		kind, name, _ := strings.Cut(sv.Object, "/")
		gate := c.gateOf(sv)
		if len(gate.Metrics) == 0 && len(gate.Evals) == 0 {
			ungated = append(ungated, sv.Object+"@"+sv.Alias)
			continue
		}
		for _, g := range sv.gates {
			if g.Gate == "approvals" {
				continue
			}
			l := fmt.Sprintf("%s@%s v%s: %s %s: %s", name, sv.Alias, sv.Version, reconciler.GateMark(g.Status), g.Gate, g.Detail)
			gated = append(gated, l)
			if g.Status == reconciler.GateFailed {
				failing = append(failing, l)
			}
		}
		isFair := false
		for _, en := range gate.Evals {
			e := c.b.Evals[en]
			if e == nil || e.Predictions == nil || len(e.Predictions.Sensitive) == 0 {
				continue
			}
			for _, mn := range slices.Sorted(maps.Keys(e.Metrics)) {
				if mt := e.Metrics[mn]; fairnessScorers[mt.Scorer] {
					isFair = true
					fair = append(fair, fmt.Sprintf("%s gates %s@%s: %s bounds %s over %s (dataset %s, %s)", en, name, sv.Alias, mn, mt.Scorer, strings.Join(e.Predictions.Sensitive, ", "), e.Dataset, e.DatasetHash))
				}
			}
		}
		if !isFair && kind == "models" {
			unfair = append(unfair, name+"@"+sv.Alias)
		}
	}
	switch {
	case len(gated) == 0:
		c.set("eval_gates", absent, nil, "no served alias is gated on metrics or evals", "declare gates.ALIAS.metrics or gates.ALIAS.evals for the served aliases")
	case len(ungated) > 0 || len(failing) > 0:
		what := []string{}
		if len(ungated) > 0 {
			what = append(what, "ungated: "+strings.Join(ungated, ", "))
		}
		if len(failing) > 0 {
			what = append(what, fmt.Sprintf("%d gate result(s) do not pass for the served version", len(failing)))
		}
		c.set("eval_gates", weak, gated, strings.Join(what, "; "), "gate every served alias, and serve versions that pass (cairn eval, then apply)")
	default:
		c.set("eval_gates", present, gated, "", "")
	}
	switch {
	case len(unfair) == 0 && len(fair) > 0:
		c.set("fairness_eval", present, fair, "", "")
	case len(unfair) == 0:
		c.set("fairness_eval", present, []string{"no classic model is served by this system"}, "", "")
	default:
		c.kind("fairness_eval", fair, unfair, "served aliases without a fairness eval over protected attributes: ", "gate them on an eval with predictions.sensitive and a fairness metric (demographic_parity_difference, equalized_odds_difference, …)")
	}
	c.judgeBounds()
	return nil
}

// judgeBounds keeps the bound verdicts of what the system serves:
// present when every bound was prior-defined (or tightened since), absent
// when one was loosened after the first result or defined after it, weak
// when one is unknown (no history: never a pass).
func (c *collector) judgeBounds() {
	objs := map[string]bool{}
	for _, sv := range c.served {
		objs[sv.Object+"@"+sv.Alias] = true
		for _, e := range c.gateOf(sv).Evals {
			objs["evals/"+e+"#"+sv.Version] = true
		}
	}
	var ok, bad, unknown []string
	for _, bs := range c.opts.Bounds {
		if !objs[bs.Object] && !objs[bs.Object+"#"+bs.Version] {
			continue
		}
		c.bounds = append(c.bounds, bs)
		l := fmt.Sprintf("%s %s %s (version %s): %s — %s", bs.Object, bs.Metric, bs.Bound, bs.Version, bs.Status, bs.Detail)
		switch bs.Status {
		case reconciler.BoundPrior, reconciler.BoundTighter:
			ok = append(ok, l)
		case reconciler.BoundUnknown:
			unknown = append(unknown, l)
		default:
			bad = append(bad, l)
		}
	}
	all := slices.Concat(ok, unknown, bad)
	switch {
	case c.opts.Bounds == nil:
		c.set("bounds_prior_defined", weak, nil, "no bound history was read: whether the thresholds were prior-defined is unknown", "report with the state and the spec repo's git history")
	case len(bad) > 0:
		c.set("bounds_prior_defined", absent, all, fmt.Sprintf("%d bound(s) not prior-defined: %s", len(bad), strings.Join(bad, "; ")), "restore the bound in force at the first result, or waive policy prior_defined_bounds with a reason; re-test the version against the new bound")
	case len(unknown) > 0:
		c.set("bounds_prior_defined", weak, all, fmt.Sprintf("%d bound(s) of unknown history (never a pass)", len(unknown)), "apply through cairn (it records the bounds in force), or report from a full git clone")
	case len(ok) == 0:
		c.set("bounds_prior_defined", present, []string{"no threshold gates what the system serves"}, "", "")
	default:
		c.set("bounds_prior_defined", present, ok, "", "")
	}
}

// gateOf is the gate of the alias or label sv serves.
func (c *collector) gateOf(sv Served) compiler.Gate {
	kind, name, _ := strings.Cut(sv.Object, "/")
	switch {
	case kind == "models" && c.b.Models[name] != nil:
		return c.b.Models[name].Gates[sv.Alias]
	case kind == "prompts" && c.b.Prompts[name] != nil:
		return c.b.Prompts[name].Gates[sv.Alias]
	}
	return compiler.Gate{}
}

// vacuous marks kinds that hold because there is nothing they could be
// missing on (no classic model served, no prompt served), saying why.
func (c *collector) vacuous(why string, kinds ...string) {
	for _, k := range kinds {
		c.set(k, present, []string{why}, "", "")
	}
}

// moveAction is the audit action that moves obj's aliases or labels.
func moveAction(obj string) reconciler.ActionType {
	if strings.HasPrefix(obj, "models/") {
		return reconciler.MoveModelAlias
	}
	return reconciler.MovePromptLabel
}
