package lineage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/data"
	"github.com/cairn-dev/cairn/reconciler"
	"github.com/cairn-dev/cairn/state"
	"github.com/cairn-dev/cairn/targets"
)

// Version is the lineage of one model or prompt version: upstream, what it
// was made from and what gated it; downstream, where and when it served.
type Version struct {
	Object  string `json:"object"` // "models/credit-scoring" or "prompts/answer"
	Version string `json:"version"`
	Digest  string `json:"digest"`
	// Upstream.
	Registered   time.Time          `json:"registered"`
	RegisteredBy string             `json:"registered_by,omitempty"`
	Artifact     string             `json:"artifact,omitempty"`
	DataSnapshot string             `json:"data_snapshot,omitempty"`
	Features     []string           `json:"features,omitempty"`
	Commit       string             `json:"commit,omitempty"`
	Metrics      map[string]float64 `json:"metrics,omitempty"` // claimed at registration
	// Run is the training run's own account: parameters, data inputs by
	// digest, repository, cost (registry register, or MLflow).
	Run *state.TrainingRun `json:"run,omitempty"`
	// Trigger is the training trigger that produced the version, with the
	// evidence that fired it (from its audit entry).
	Trigger *Trigger       `json:"trigger,omitempty"`
	Evals   []EvalEvidence `json:"evals"`
	Moves   []Move         `json:"moves"`
	// Quality is the latest data validation of the model's feature set
	// (cairn data validate --state), Waivers the waivers applies used on
	// the object.
	Quality *Quality `json:"quality,omitempty"`
	Waivers []Waiver `json:"waivers,omitempty"`
	// Explanation is the global explanation attached to the version
	// (registry attach), its digest matched against its audit entry.
	Explanation *Explanation `json:"explanation,omitempty"`
	// Downstream.
	Served []Interval `json:"served"`
}

// Quality is a recorded data validation.
type Quality struct {
	FeatureSet string `json:"feature_set"`
	Data       string `json:"data"` // sha256 of the file validated
	Rows       int    `json:"rows"`
	Passed     bool   `json:"passed"`
	Failures   int    `json:"failures"`
}

// Explanation is an attached explanation: method, sample, importances.
type Explanation struct {
	Seq        int64                     `json:"seq"` // its attach_explanation entry
	At         time.Time                 `json:"at"`
	By         string                    `json:"by"`
	Digest     string                    `json:"digest"`
	Method     string                    `json:"method"`
	SampleSize int                       `json:"sample_size"`
	Dataset    string                    `json:"dataset,omitempty"`
	Features   []state.FeatureImportance `json:"features"`
}

// explanation sets out.Explanation from a verified attach_explanation
// entry of the version and the record it names; a record whose digest is
// not the entry's was changed outside cairn.
func explanation(ctx context.Context, st state.Ops, e state.AuditEntry, name, version string, out *Version) error {
	var at struct {
		Version string `json:"version"`
		Digest  string `json:"digest"`
	}
	if json.Unmarshal([]byte(e.After), &at) != nil || at.Version != version {
		return nil
	}
	if err := verify(ctx, st, e); err != nil {
		return err
	}
	a, ok, err := state.GetExplanation(ctx, st, name, version)
	if err != nil {
		return err
	}
	if !ok || a.Digest != at.Digest || a.Explanation.Digest() != at.Digest {
		return fmt.Errorf("lineage: models/%s version %s: the explanation record does not match audit entry %d (digest %s): it was changed outside cairn", name, version, e.Seq, at.Digest)
	}
	x := a.Explanation
	out.Explanation = &Explanation{Seq: e.Seq, At: e.Time, By: e.Actor, Digest: a.Digest, Method: x.Method, SampleSize: x.SampleSize, Dataset: x.Dataset, Features: x.Features}
	return nil
}

// Waiver is a waiver an apply used on the object.
type Waiver struct {
	Seq    int64     `json:"seq"` // the apply's policy_check entry
	At     time.Time `json:"at"`
	Policy string    `json:"policy"`
	Waiver string    `json:"waiver"`
}

// Trigger is a fired training trigger.
type Trigger struct {
	ID       string    `json:"id"`
	Seq      int64     `json:"seq,omitempty"` // its audit entry (0: not found in the log)
	At       time.Time `json:"at,omitempty"`
	Via      string    `json:"via,omitempty"`
	Evidence any       `json:"evidence,omitempty"`
	Reasons  []string  `json:"reasons,omitempty"`
}

// EvalEvidence is one eval run of the version.
type EvalEvidence struct {
	Run      int64              `json:"run"`
	Eval     string             `json:"eval"`
	EvalHash string             `json:"eval_hash"` // the suite definition and dataset it ran
	Passed   bool               `json:"passed"`
	Metrics  map[string]float64 `json:"metrics"`
	At       time.Time          `json:"at"`
	// What answered: the models the provider reported (a judge's too) and
	// the RAG snapshots the contexts came from.
	Answered     []state.Answered `json:"answered,omitempty"`
	RAGSnapshots []string         `json:"rag_snapshots,omitempty"`
}

// Move is an alias or label moved to the version, with the gates it passed.
type Move struct {
	Seq   int64                  `json:"seq"`
	At    time.Time              `json:"at"`
	Actor string                 `json:"actor"`
	Name  string                 `json:"name"` // the alias or label
	Gates []reconciler.GateCheck `json:"gates"`
}

// Interval is a span during which a deployment served the version.
type Interval struct {
	Deployment string     `json:"deployment"`
	Role       string     `json:"role"` // stable or canary
	Percent    int        `json:"percent"`
	From       time.Time  `json:"from"`
	To         *time.Time `json:"to,omitempty"` // nil: still serving
	Seq        int64      `json:"seq"`          // the serve entry that began it
}

// NotFoundError says the version is not registered.
type NotFoundError struct {
	Object, Version string
	Known           []string
}

func (e *NotFoundError) Error() string {
	s := fmt.Sprintf("%s has no version %q", e.Object, e.Version)
	if len(e.Known) > 0 {
		s += " (registered: " + strings.Join(e.Known, ", ") + ")"
	}
	return s
}

// OfVersion assembles a version's lineage from the state: its registration,
// its eval runs, the moves to it and — from the serve entries, streamed —
// the intervals during which each deployment served it.
func OfVersion(ctx context.Context, st state.Ops, kind, name, version string) (*Version, error) {
	if err := CheckCheckpoint(ctx, st); err != nil {
		return nil, err
	}
	out := &Version{Object: kind + "/" + name, Version: version, Evals: []EvalEvidence{}, Moves: []Move{}, Served: []Interval{}}
	switch kind {
	case "models":
		mv, err := st.GetModelVersion(ctx, name, version)
		if err != nil || mv == nil {
			return nil, notFound(ctx, st, kind, name, version, err)
		}
		out.Digest, out.Registered, out.RegisteredBy = mv.ContentHash(), mv.RegisteredAt, mv.RegisteredBy
		out.Artifact, out.DataSnapshot, out.Features, out.Commit, out.Metrics, out.Run = mv.ArtifactURI, mv.DataSnapshot, mv.Features, mv.Commit, mv.Metrics, mv.Run
		if mv.TriggerID != "" {
			out.Trigger = &Trigger{ID: mv.TriggerID}
		}
	case "prompts":
		pv, err := st.GetPromptVersion(ctx, name, version)
		if err != nil || pv == nil {
			return nil, notFound(ctx, st, kind, name, version, err)
		}
		out.Digest, out.Registered, out.RegisteredBy = pv.ContentHash, pv.RegisteredAt, pv.RegisteredBy
	default:
		return nil, fmt.Errorf("lineage: %q is not models or prompts", kind)
	}
	runs, err := st.ListEvalRuns(ctx, "")
	if err != nil {
		return nil, err
	}
	for _, r := range runs {
		if r.Target == out.Object && (r.SubjectHash == out.Digest || r.TargetVersion == version) {
			out.Evals = append(out.Evals, EvalEvidence{Run: r.ID, Eval: r.Eval, EvalHash: r.EvalHash, Passed: r.Passed, Metrics: r.Metrics, At: r.FinishedAt,
				Answered: r.Answered, RAGSnapshots: r.RAGSnapshots})
		}
	}
	sort.Slice(out.Evals, func(i, j int) bool { return out.Evals[i].Run < out.Evals[j].Run })
	err = st.ScanAudit(ctx, state.AuditQuery{Object: out.Object}, func(e state.AuditEntry) error {
		if e.Action == string(reconciler.TriggerTraining) && out.Trigger != nil {
			var tr struct {
				Trigger    string   `json:"trigger"`
				EvidenceID string   `json:"evidence_id"`
				Evidence   any      `json:"evidence"`
				Reasons    []string `json:"reasons"`
			}
			if json.Unmarshal([]byte(e.After), &tr) == nil && tr.EvidenceID == out.Trigger.ID {
				if err := verify(ctx, st, e); err != nil {
					return err
				}
				out.Trigger.Seq, out.Trigger.At, out.Trigger.Via, out.Trigger.Evidence, out.Trigger.Reasons = e.Seq, e.Time, tr.Trigger, tr.Evidence, tr.Reasons
			}
			return nil
		}
		if e.Action == state.AuditAttachExplanation {
			return explanation(ctx, st, e, name, version, out)
		}
		if e.Action != string(reconciler.MoveModelAlias) && e.Action != string(reconciler.MovePromptLabel) {
			return nil
		}
		var m struct {
			Name    string                 `json:"name"`
			Version string                 `json:"version"`
			Gates   []reconciler.GateCheck `json:"gates"`
		}
		if json.Unmarshal([]byte(e.After), &m) != nil || m.Version != version {
			return nil
		}
		if err := verify(ctx, st, e); err != nil {
			return err
		}
		out.Moves = append(out.Moves, Move{Seq: e.Seq, At: e.Time, Actor: e.Actor, Name: m.Name, Gates: m.Gates})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if kind == "models" {
		if raw, ok, err := st.GetRecord(ctx, data.KindValidationLatest, name); err != nil {
			return nil, err
		} else if ok {
			var r data.Report
			if json.Unmarshal(raw, &r) == nil && r.Data != nil {
				out.Quality = &Quality{FeatureSet: name, Data: r.Data.SHA256, Rows: r.Rows, Passed: r.Passed, Failures: r.Failures}
			}
		}
	}
	err = st.ScanAudit(ctx, state.AuditQuery{Action: reconciler.AuditPolicy}, func(e state.AuditEntry) error {
		var pc struct {
			Waived []struct{ Policy, Target, Waiver string } `json:"waived"`
		}
		if json.Unmarshal([]byte(e.After), &pc) != nil {
			return nil
		}
		for _, w := range pc.Waived {
			if w.Target == out.Object {
				out.Waivers = append(out.Waivers, Waiver{Seq: e.Seq, At: e.Time, Policy: w.Policy, Waiver: w.Waiver})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Downstream: the serve entries of the deployments that ever served
	// the object (an index), each walked once, keeping the interval of this
	// version that is open.
	deps, err := st.ListRecords(ctx, reconciler.RecordServedBy, out.Object+" ")
	if err != nil {
		return nil, err
	}
	open := map[string]int{} // deployment → index in out.Served of its open interval
	scan := func(e state.AuditEntry) error {
		var s reconciler.ServeEntry
		if err := json.Unmarshal([]byte(e.After), &s); err != nil {
			return nil
		}
		role, pct := "", 0
		for _, x := range []struct {
			r string
			v *targets.ServedVersion
		}{{"stable", s.Stable}, {"canary", s.Canary}} {
			if !s.Removed && x.v != nil && x.v.Object == out.Object && x.v.Version == version {
				role, pct = x.r, x.v.Percent
			}
		}
		if i, ok := open[s.Deployment]; ok && (out.Served[i].Role != role || out.Served[i].Percent != pct) {
			t := e.Time
			out.Served[i].To = &t
			delete(open, s.Deployment)
		}
		if _, ok := open[s.Deployment]; !ok && role != "" {
			if err := verify(ctx, st, e); err != nil {
				return err
			}
			out.Served = append(out.Served, Interval{Deployment: s.Deployment, Role: role, Percent: pct, From: e.Time, Seq: e.Seq})
			open[s.Deployment] = len(out.Served) - 1
		}
		return nil
	}
	for _, key := range slices.Sorted(maps.Keys(deps)) {
		dep := strings.TrimPrefix(key, out.Object+" ")
		if err := st.ScanAudit(ctx, state.AuditQuery{Object: "deployments/" + dep, Action: reconciler.ActionServe}, scan); err != nil {
			return nil, err
		}
	}
	sort.SliceStable(out.Served, func(i, j int) bool { return out.Served[i].Seq < out.Served[j].Seq })
	return out, nil
}

func notFound(ctx context.Context, st state.Ops, kind, name, version string, cause error) error {
	if cause != nil && !errors.Is(cause, state.ErrNotFound) {
		return cause
	}
	e := &NotFoundError{Object: kind + "/" + name, Version: version}
	switch kind {
	case "models":
		if vs, err := st.ListModelVersions(ctx, name); err == nil {
			for _, v := range vs {
				e.Known = append(e.Known, v.Version)
			}
		}
	case "prompts":
		if vs, err := st.ListPromptVersions(ctx, name); err == nil {
			for _, v := range vs {
				e.Known = append(e.Known, v.Version)
			}
		}
	}
	return e
}

// Mermaid draws the lineage as a Mermaid flowchart: what the version was
// made from and gated by on the left, where it served on the right.
func (v *Version) Mermaid() string {
	var b strings.Builder
	id := func(s string) string {
		return "n" + strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
				return r
			}
			return '_'
		}, s)
	}
	q := func(s string) string { return strings.ReplaceAll(s, `"`, "'") }
	self := id(v.Object + "@" + v.Version)
	b.WriteString("flowchart LR\n")
	fmt.Fprintf(&b, "  %s[\"%s@%s<br/>%s\"]\n", self, q(v.Object), q(v.Version), q(short(v.Digest)))
	if v.DataSnapshot != "" {
		fmt.Fprintf(&b, "  %s[(\"data %s\")] --> %s\n", id("data"+v.DataSnapshot), q(v.DataSnapshot), self)
	}
	for _, f := range v.Features {
		fmt.Fprintf(&b, "  %s([\"feature %s\"]) --> %s\n", id("feature"+f), q(f), self)
	}
	if v.Commit != "" {
		fmt.Fprintf(&b, "  %s{{\"commit %s\"}} --> %s\n", id("commit"+v.Commit), q(v.Commit), self)
	}
	if v.Trigger != nil {
		fmt.Fprintf(&b, "  %s>\"trigger %s %s\"] ==> %s\n", id("trigger"+v.Trigger.ID), q(v.Trigger.Via), q(short(v.Trigger.ID)), self)
	}
	for _, e := range v.Evals {
		verdict := "failed"
		if e.Passed {
			verdict = "passed"
		}
		fmt.Fprintf(&b, "  %s[/\"eval %s run %d: %s\"/] -.-> %s\n", id(fmt.Sprint("eval", e.Run)), q(e.Eval), e.Run, verdict, self)
	}
	if x := v.Explanation; x != nil {
		fmt.Fprintf(&b, "  %s[/\"explanation %s, %d rows<br/>%s\"/] -.-> %s\n", id("explanation"+x.Digest), q(x.Method), x.SampleSize, q(short(x.Digest)), self)
	}
	for _, s := range v.Served {
		to := "now"
		if s.To != nil {
			to = s.To.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(&b, "  %s -- \"%s %d%% %s → %s\" --> %s[\"deployments/%s\"]\n", self, s.Role, s.Percent, s.From.UTC().Format(time.RFC3339), to, id("dep"+s.Deployment), q(s.Deployment))
	}
	return b.String()
}

func short(h string) string {
	if len(h) > 19 {
		return h[:19] + "…"
	}
	return h
}
