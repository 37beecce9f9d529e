// Package operating computes the operating metrics of an ML platform from
// cairn's audit log: how often versions reach a deployment, how long a
// change takes to get there, how often a deployment fails and how fast it
// recovers, how much is rework, how fast drift turns into a new version in
// production, and what a retraining costs. Every figure is computed from
// verified-chain entries the log already holds (serve, policy_check,
// move_*, trigger_training, register_model_version), read through the
// action index, never the whole log at once.
package operating

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/data"
	"github.com/cairn-dev/cairn/reconciler"
	"github.com/cairn-dev/cairn/state"
)

// The definitions, printed verbatim beside each figure.
const (
	DefDeployment = "a deployment is a serve entry that gives a version that was not serving more than 0 % of a deployment's traffic (later canary steps of the same version do not count)"
	DefFrequency  = "deployment frequency: the number of deployments in the window, per deployment and for the project"
	DefLeadCommit = "change lead time from commit: from the committer time of the first spec commit (first-parent) that names the version for the alias, to its deployment; median and p90 by nearest rank"
	DefLeadReg    = "change lead time from registration: from the version's registration to its deployment; median and p90 by nearest rank"
	DefFailed     = "a deployment failed if within the failure window it is rolled back (a serve entry back to the previous stable version, or its canary withdrawn) or followed by a hotfix (apply --hotfix, or a Cairn-Hotfix: commit trailer)"
	DefFailRate   = "change fail rate: failed deployments ÷ deployments"
	DefRecovery   = "failed deployment recovery time: from the failed deployment to the next serve entry of that deployment that then holds for the failure window; median by nearest rank"
	DefRework     = "deployment rework rate: hotfix deployments ÷ deployments"
	DefDriftTrig  = "drift reaction, evidence → trigger: from the drift evidence (its computed time) to the training trigger it fired; median by nearest rank"
	DefTrigProd   = "drift reaction, trigger → production: from the training trigger to the first deployment, on a deployment serving prod, of the version registered with its id (by trigger id, never by matching times); versions deployed without a trigger id are left out and counted"
	DefRetrain    = "cost per retraining: the mean training cost of the versions registered in the window — the one registered with the version (registry register --training-cost-usd, or imported), else for a triggered version the model's declared training.trigger.cost_usd; versions with neither are left out and counted"
	DefEvalTokens = "eval tokens per release: the provider tokens (input and output) of every eval run of each version deployed in the window (a release), over the releases"
	DefEvalCost   = "eval cost per release: the dollars of every eval run of each version released in the window, over the releases"
	DefServing    = "cost per 1,000 predictions: per deployment from its declared traffic — an LLM deployment's projected token cost (average tokens × the served model's prices), else deployments.D.cost.usd_per_month ÷ (requests_per_day × 30) × 1,000; the project's figure is the traffic-weighted mean; deployments without traffic or a cost are left out and counted"
)

// Options say what to compute over.
type Options struct {
	Now           time.Time
	Window        time.Duration
	FailureWindow time.Duration // default 24 h
	// Object, when set ("models/x" or "prompts/y"), keeps only deployments
	// of its versions.
	Object string
	// History, when set, finds the first spec commit that names a version
	// for an alias; without it the lead time from commit is not computed.
	History History
}

// History reads the spec repository's git history.
type History interface {
	// FirstNaming walks first-parent history back from commit while file
	// names version for alias and returns the committer time of the
	// earliest such commit (false: the commit is not in the history).
	FirstNaming(commit, file, alias, version string) (time.Time, bool)
}

// Deployment is one deployment event.
type Deployment struct {
	Deployment string     `json:"deployment"`
	Object     string     `json:"object"`
	Version    string     `json:"version"`
	Role       string     `json:"role"` // stable | canary
	At         time.Time  `json:"at"`
	Seq        int64      `json:"seq"`
	Hotfix     bool       `json:"hotfix,omitempty"`
	Failed     string     `json:"failed,omitempty"` // "rolled back at …" | "hotfix at …"
	FailedAt   *time.Time `json:"failed_at,omitempty"`
	Recovered  *time.Time `json:"recovered_at,omitempty"`
	prevStable string     // the deployment's stable version before this one
	cand       *time.Time // the recovery candidate while it is not settled
}

// Figure is one operating metric.
type Figure struct {
	Name       string             `json:"name"`
	Definition string             `json:"definition"`
	Unit       string             `json:"unit"` // count, ratio, hours, usd
	Value      *float64           `json:"value,omitempty"`
	P90        *float64           `json:"p90,omitempty"`
	N          int                `json:"n"`                  // observations behind it
	LeftOut    int                `json:"left_out,omitempty"` // observations without what the figure needs
	Breakdown  map[string]float64 `json:"breakdown,omitempty"`
	Note       string             `json:"note,omitempty"`
}

// Formatted is the figure's value with its unit, and its p90 ("—" when
// there was nothing to measure).
func (f Figure) Formatted() string {
	if f.Value == nil {
		return "—"
	}
	one := func(v float64) string {
		switch f.Unit {
		case "hours":
			return strconv.FormatFloat(v, 'f', 2, 64) + " h"
		case "ratio":
			return strconv.FormatFloat(v, 'f', 3, 64)
		case "usd":
			return "$" + strconv.FormatFloat(v, 'f', 2, 64)
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	s := one(*f.Value)
	if f.P90 != nil {
		s += ", p90 " + one(*f.P90)
	}
	return s
}

// Report is the metrics over one window.
type Report struct {
	From        time.Time    `json:"from"`
	To          time.Time    `json:"to"` // now (excluded)
	Object      string       `json:"object,omitempty"`
	Deployments []Deployment `json:"deployments"`
	Figures     []Figure     `json:"figures"`
}

func in(t time.Time, o Options) bool { return !t.Before(o.Now.Add(-o.Window)) && t.Before(o.Now) }

// Compute reads the audit log and the registry.
func Compute(ctx context.Context, b *compiler.Bundle, st state.Ops, o Options) (*Report, error) {
	if o.FailureWindow <= 0 {
		o.FailureWindow = 24 * time.Hour
	}
	r := &Report{From: o.Now.Add(-o.Window), To: o.Now, Object: o.Object, Deployments: []Deployment{}}

	// Hotfix applies: the policy_check entry each apply writes first says so.
	hotfixAt := map[int64]bool{} // seq of a hotfix apply's policy_check
	var checks []int64
	// What happened before since (the window less one failure window)
	// matters only as each deployment's state then: its last serve entry.
	since := o.Now.Add(-o.Window - o.FailureWindow)
	from, err := state.FirstSeqAt(ctx, st, since)
	if err != nil {
		return nil, err
	}
	err = st.ScanAudit(ctx, state.AuditQuery{Action: reconciler.AuditPolicy, AfterSeq: from - 1, From: since, To: o.Now}, func(e state.AuditEntry) error {
		var pc struct {
			Hotfix bool `json:"hotfix"`
		}
		_ = json.Unmarshal([]byte(e.After), &pc) // older entries have no hotfix field
		checks = append(checks, e.Seq)
		hotfixAt[e.Seq] = pc.Hotfix
		return nil
	})
	if err != nil {
		return nil, err
	}
	// hotfix reports whether the apply a serve entry belongs to (the last
	// policy_check before it) was a hotfix.
	hotfix := func(seq int64) bool {
		i := sort.Search(len(checks), func(i int) bool { return checks[i] > seq })
		return i > 0 && hotfixAt[checks[i-1]]
	}

	// Deployments, failures and recoveries, deployment by deployment, in
	// one pass over the serve entries (state per deployment, not per entry).
	type serveState struct {
		serving map[string]int // object@version → percent
		stable  string         // object@version
		open    []*Deployment  // deployments still inside their failure window
	}
	// kept are the deployments in the window; one before it is held only
	// while a failure or recovery can still change it (memory stays flat
	// in the log's length).
	var kept []*Deployment
	states := map[string]*serveState{}
	var pending []*Deployment // failed deployments whose recovery is not settled
	served := func(s reconciler.ServeEntry) (map[string]int, string) {
		cur := map[string]int{}
		stable := ""
		if !s.Removed {
			if v := s.Stable; v != nil && v.Percent > 0 {
				stable = v.Object + "@" + v.Version
				cur[stable] = v.Percent
			}
			if v := s.Canary; v != nil && v.Percent > 0 {
				cur[v.Object+"@"+v.Version] = v.Percent
			}
		}
		return cur, stable
	}
	// Each deployment that ever served (the serve.by index) starts from
	// its last entry before since.
	byObj, err := st.ListRecords(ctx, reconciler.RecordServedBy, "")
	if err != nil {
		return nil, err
	}
	for key := range byObj {
		_, dep, _ := strings.Cut(key, " ")
		if dep == "" || states[dep] != nil {
			continue
		}
		ds := &serveState{serving: map[string]int{}}
		states[dep] = ds
		err := st.ScanAudit(ctx, state.AuditQuery{Object: "deployments/" + dep, Action: reconciler.ActionServe, To: since, Desc: true, Limit: 1}, func(e state.AuditEntry) error {
			var s reconciler.ServeEntry
			if err := json.Unmarshal([]byte(e.After), &s); err != nil {
				return fmt.Errorf("serve entry #%d: %w", e.Seq, err)
			}
			ds.serving, ds.stable = served(s)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	err = st.ScanAudit(ctx, state.AuditQuery{Action: reconciler.ActionServe, AfterSeq: from - 1, From: since, To: o.Now}, func(e state.AuditEntry) error {
		var s reconciler.ServeEntry
		if err := json.Unmarshal([]byte(e.After), &s); err != nil {
			return fmt.Errorf("serve entry #%d: %w", e.Seq, err)
		}
		ds := states[s.Deployment]
		if ds == nil {
			ds = &serveState{serving: map[string]int{}}
			states[s.Deployment] = ds
		}
		// Recovery: the first entry from the failure on that then holds for
		// the failure window. A candidate is settled by the next entry of
		// its deployment: at least a window later, it held; sooner, this
		// entry is the new candidate.
		var still []*Deployment
		for _, d := range pending {
			if d.Deployment != s.Deployment {
				still = append(still, d)
				continue
			}
			if e.Time.Sub(*d.cand) >= o.FailureWindow {
				d.Recovered = d.cand
				continue
			}
			d.cand = ptr(e.Time)
			still = append(still, d)
		}
		pending = still
		cur, stable := served(s)
		hf := hotfix(e.Seq)
		// Failures of the deployment's recent deployments: rolled back (the
		// version gone and the stable back to the one before it) or replaced
		// by a hotfix within the failure window.
		var open []*Deployment
		for _, d := range ds.open {
			if e.Time.Sub(d.At) > o.FailureWindow {
				continue
			}
			open = append(open, d)
			if _, serving := cur[d.Object+"@"+d.Version]; serving || d.Failed != "" {
				continue
			}
			switch {
			case d.prevStable != "" && stable == d.prevStable:
				d.Failed = "rolled back at " + state.FormatTime(e.Time)
			case hf:
				d.Failed = "replaced by a hotfix at " + state.FormatTime(e.Time)
			default:
				continue
			}
			d.FailedAt, d.cand = ptr(e.Time), ptr(e.Time)
			pending = append(pending, d)
		}
		ds.open = open
		for _, key := range sortedKeys(cur) {
			if _, was := ds.serving[key]; was {
				continue
			}
			obj, ver, _ := strings.Cut(key, "@")
			role := "canary"
			if key == stable {
				role = "stable"
			}
			d := &Deployment{Deployment: s.Deployment, Object: obj, Version: ver, Role: role, At: e.Time, Seq: e.Seq, Hotfix: hf, prevStable: ds.stable}
			if in(d.At, o) && (o.Object == "" || d.Object == o.Object) {
				kept = append(kept, d)
			}
			ds.open = append(ds.open, d)
		}
		ds.serving, ds.stable = cur, stable
		return nil
	})
	if err != nil {
		return nil, err
	}
	// A candidate with no entry after it holds once a whole window has
	// passed by now; until then the deployment has not recovered yet.
	for _, d := range pending {
		if o.Now.Sub(*d.cand) >= o.FailureWindow {
			d.Recovered = d.cand
		}
	}
	for _, d := range kept {
		r.Deployments = append(r.Deployments, *d)
	}
	ds := r.Deployments

	// Frequency.
	freq := Figure{Name: "deployment_frequency", Definition: DefFrequency, Unit: "count", N: len(ds), Breakdown: map[string]float64{}}
	freq.Value = num(float64(len(ds)))
	for _, d := range ds {
		freq.Breakdown[d.Deployment]++
	}
	r.Figures = append(r.Figures, Figure{Name: "deployment", Definition: DefDeployment, Unit: "count", N: len(ds), Value: num(float64(len(ds)))}, freq)

	// The registry's model versions, read once (lead times, drift, cost).
	vs, err := st.ListModelVersions(ctx, "")
	if err != nil {
		return nil, err
	}
	models := make(map[string]state.ModelVersion, len(vs))
	for _, v := range vs {
		models[v.Model+"@"+v.Version] = v
	}

	// Lead times.
	var fromCommit, fromReg []float64
	noCommit, noReg := 0, 0
	for _, d := range ds {
		kind, name, _ := strings.Cut(d.Object, "/")
		var registered time.Time
		switch kind {
		case "models":
			if mv, ok := models[name+"@"+d.Version]; ok {
				registered = mv.RegisteredAt
			}
		case "prompts":
			if pv, err := st.GetPromptVersion(ctx, name, d.Version); err == nil {
				registered = pv.RegisteredAt
			}
		}
		if registered.IsZero() {
			noReg++
		} else {
			fromReg = append(fromReg, d.At.Sub(registered).Hours())
		}
		t, ok, err := commitTime(ctx, b, st, o.History, d)
		if err != nil {
			return nil, err
		}
		if ok {
			fromCommit = append(fromCommit, d.At.Sub(t).Hours())
		} else {
			noCommit++
		}
	}
	lc := quantiles("change_lead_time_from_commit", DefLeadCommit, fromCommit, noCommit)
	if o.History == nil {
		lc.Note = "no git history of the spec repo: not computed"
	}
	r.Figures = append(r.Figures, lc, quantiles("change_lead_time_from_registration", DefLeadReg, fromReg, noReg))

	// Failures, recovery, rework.
	failed, hot := 0, 0
	var recovery []float64
	unrecovered := 0
	for _, d := range ds {
		if d.Hotfix {
			hot++
		}
		if d.Failed == "" {
			continue
		}
		failed++
		if d.Recovered != nil {
			recovery = append(recovery, d.Recovered.Sub(d.At).Hours())
		} else {
			unrecovered++
		}
	}
	r.Figures = append(r.Figures,
		Figure{Name: "failed_deployments", Definition: DefFailed, Unit: "count", N: len(ds), Value: num(float64(failed))},
		ratio("change_fail_rate", DefFailRate, failed, len(ds)))
	rec := quantiles("failed_deployment_recovery_time", DefRecovery, recovery, unrecovered)
	rec.P90 = nil
	r.Figures = append(r.Figures, rec, ratio("deployment_rework_rate", DefRework, hot, len(ds)))

	// Drift reaction.
	dt, tp, untriggered, unknown, err := driftReaction(ctx, b, st, ds, models)
	if err != nil {
		return nil, err
	}
	f1 := quantiles("drift_reaction_evidence_to_trigger", DefDriftTrig, dt, unknown)
	f1.P90 = nil
	f2 := quantiles("drift_reaction_trigger_to_production", DefTrigProd, tp, untriggered)
	f2.P90 = nil
	r.Figures = append(r.Figures, f1, f2)

	// Cost per retraining.
	var costs []float64
	noCost := 0
	for _, v := range vs {
		if !in(v.RegisteredAt, o) || (o.Object != "" && o.Object != "models/"+v.Model) {
			continue
		}
		switch m := b.Models[v.Model]; {
		case v.Run != nil && v.Run.CostUSD > 0:
			costs = append(costs, v.Run.CostUSD)
		case v.TriggerID != "" && m != nil && m.Training != nil && m.Training.Trigger != nil && m.Training.Trigger.CostUSD > 0:
			costs = append(costs, m.Training.Trigger.CostUSD) // declared per trigger
		default:
			noCost++
		}
	}
	cf := Figure{Name: "cost_per_retraining", Definition: DefRetrain, Unit: "usd", N: len(costs), LeftOut: noCost}
	if len(costs) > 0 {
		sum := 0.0
		for _, c := range costs {
			sum += c
		}
		cf.Value = num(sum / float64(len(costs)))
	}
	r.Figures = append(r.Figures, cf)

	// Eval tokens and cost per release: the eval runs of each version
	// released (deployed) in the window, over all its runs.
	runs, err := st.ListEvalRuns(ctx, "")
	if err != nil {
		return nil, err
	}
	type spend struct {
		tokens int
		usd    float64
	}
	spent := map[string]spend{}
	for _, er := range runs {
		if er.TargetVersion == "" {
			continue
		}
		k := er.Target + "@" + er.TargetVersion
		s := spent[k]
		s.tokens += er.Tokens
		s.usd += er.CostUSD
		spent[k] = s
	}
	released := map[string]bool{}
	var tokens, usd float64
	for _, d := range ds {
		k := d.Object + "@" + d.Version
		if released[k] {
			continue
		}
		released[k] = true
		tokens += float64(spent[k].tokens)
		usd += spent[k].usd
	}
	et := Figure{Name: "eval_tokens_per_release", Definition: DefEvalTokens, Unit: "count", N: len(released)}
	ec := Figure{Name: "eval_cost_per_release", Definition: DefEvalCost, Unit: "usd", N: len(released)}
	if n := float64(len(released)); n > 0 {
		et.Value, ec.Value = num(tokens/n), num(usd/n)
	}
	r.Figures = append(r.Figures, et, ec, servingCost(b, o))
	return r, nil
}

// servingCost is the cost per 1,000 predictions of each deployment in
// scope, from the declared traffic: the projected token cost for an LLM
// deployment, cost.usd_per_month over 30 days of requests otherwise.
func servingCost(b *compiler.Bundle, o Options) Figure {
	f := Figure{Name: "cost_per_1k_predictions", Definition: DefServing, Unit: "usd", Breakdown: map[string]float64{}}
	var usd, reqs float64
	names := make([]string, 0, len(b.Deployments))
	for name := range b.Deployments {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		d := b.Deployments[name]
		obj := "models/" + d.Model
		if d.Prompt != "" {
			obj = "prompts/" + d.Prompt
		}
		if o.Object != "" && obj != o.Object {
			continue
		}
		per1k := -1.0
		switch {
		case d.Traffic == nil || d.Traffic.RequestsPerDay == 0:
		case d.Kind == "llm" && d.Projection != nil && d.Projection.Error == "":
			per1k = d.Projection.USDPer1kRequests
		case d.Cost != nil:
			per1k = d.Cost.USDPerMonth / (float64(d.Traffic.RequestsPerDay) * 30) * 1000
		}
		if per1k < 0 {
			f.LeftOut++
			continue
		}
		f.N++
		f.Breakdown[name] = per1k
		usd += per1k * float64(d.Traffic.RequestsPerDay)
		reqs += float64(d.Traffic.RequestsPerDay)
	}
	if reqs > 0 {
		f.Value = num(usd / reqs)
	}
	return f
}

func ptr(t time.Time) *time.Time { return &t }

func num(f float64) *float64 { return &f }

func sortedKeys(m map[string]int) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func ratio(name, def string, k, n int) Figure {
	f := Figure{Name: name, Definition: def, Unit: "ratio", N: n}
	if n > 0 {
		f.Value = num(float64(k) / float64(n))
	}
	return f
}

// quantiles is the median and p90 by nearest rank (the ⌈q·n⌉-th smallest).
func quantiles(name, def string, xs []float64, leftOut int) Figure {
	f := Figure{Name: name, Definition: def, Unit: "hours", N: len(xs), LeftOut: leftOut}
	if len(xs) == 0 {
		return f
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	rank := func(q float64) *float64 { return num(s[int(math.Ceil(q*float64(len(s))))-1]) }
	f.Value, f.P90 = rank(0.5), rank(0.9)
	return f
}

// commitTime is the committer time of the first spec commit that names
// d's version for the alias it was moved to: from the last move of the
// object to the version before d, walked back first-parent by History.
func commitTime(ctx context.Context, b *compiler.Bundle, st state.Ops, h History, d Deployment) (time.Time, bool, error) {
	if h == nil {
		return time.Time{}, false, nil
	}
	action := string(reconciler.MoveModelAlias)
	field := "aliases"
	if strings.HasPrefix(d.Object, "prompts/") {
		action, field = string(reconciler.MovePromptLabel), "labels"
	}
	var commit, alias string
	err := st.ScanAudit(ctx, state.AuditQuery{Object: d.Object, Action: action, ToSeq: d.Seq}, func(e state.AuditEntry) error {
		var m struct{ Name, Version string }
		if json.Unmarshal([]byte(e.After), &m) == nil && m.Version == d.Version && e.Commit != "" {
			commit, alias = e.Commit, m.Name
		}
		return nil
	})
	if err != nil || commit == "" {
		return time.Time{}, false, err
	}
	pos := b.Position(d.Object + "." + field + "." + alias)
	t, ok := h.FirstNaming(commit, pos.File, alias, d.Version)
	return t, ok, nil
}

// driftReaction measures, for each version deployed on a deployment that
// serves prod, evidence → trigger and trigger → production, by the
// version's trigger id.
func driftReaction(ctx context.Context, b *compiler.Bundle, st state.Ops, ds []Deployment, models map[string]state.ModelVersion) (evToTrig, trigToProd []float64, untriggered, unknown int, err error) {
	seen := map[string]bool{}
	// Each object's triggers by evidence id, read once per object.
	triggers := map[string]map[string]state.AuditEntry{}
	for _, d := range ds {
		kind, name, _ := strings.Cut(d.Object, "/")
		dep := b.Deployments[d.Deployment]
		if kind != "models" || dep == nil || dep.Alias != reconciler.ProdAlias || seen[d.Object+"@"+d.Version] {
			continue
		}
		seen[d.Object+"@"+d.Version] = true
		mv, ok := models[name+"@"+d.Version]
		if !ok || mv.TriggerID == "" {
			untriggered++
			continue
		}
		byID, ok := triggers[d.Object]
		if !ok {
			byID = map[string]state.AuditEntry{}
			triggers[d.Object] = byID
			err = st.ScanAudit(ctx, state.AuditQuery{Object: d.Object, Action: string(reconciler.TriggerTraining)}, func(e state.AuditEntry) error {
				var tr struct {
					EvidenceID string `json:"evidence_id"`
				}
				if json.Unmarshal([]byte(e.After), &tr) == nil {
					byID[tr.EvidenceID] = e
				}
				return nil
			})
			if err != nil {
				return
			}
		}
		e, ok := byID[mv.TriggerID]
		if !ok {
			untriggered++
			continue
		}
		trig := &e
		var run reconciler.TrainingRun
		if err = json.Unmarshal([]byte(e.After), &run); err != nil {
			return
		}
		trigToProd = append(trigToProd, d.At.Sub(trig.Time).Hours())
		// The earliest drift evidence behind the trigger, by its computed time.
		var first time.Time
		for _, ev := range run.Evidence {
			if ev.Kind != "drift" {
				continue
			}
			raw, ok, gerr := st.GetRecord(ctx, data.KindDrift, name+"/"+ev.EvidenceID)
			if gerr != nil || !ok {
				continue
			}
			var dr data.DriftResult
			if json.Unmarshal(raw, &dr) != nil {
				continue
			}
			if t, perr := time.Parse(time.RFC3339, dr.ComputedAt); perr == nil && (first.IsZero() || t.Before(first)) {
				first = t
			}
		}
		if first.IsZero() {
			unknown++
		} else {
			evToTrig = append(evToTrig, trig.Time.Sub(first).Hours())
		}
	}
	return
}
