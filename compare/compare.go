// Package compare puts two versions of a model side by side — why B and not
// A: the training runs' parameters, data and features, the metrics each
// claimed and each eval measured (with paired intervals where computed
// from the same predictions), and every alias's gate verdict for each.
package compare

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/evals"
	"github.com/cairn-dev/cairn/reconciler"
	"github.com/cairn-dev/cairn/state"
)

// Side is one version's identity.
type Side struct {
	Version      string `json:"version"`
	Digest       string `json:"digest"`
	Artifact     string `json:"artifact"`
	Commit       string `json:"commit,omitempty"`
	DataSnapshot string `json:"data_snapshot,omitempty"`
	Source       string `json:"source,omitempty"` // where the run was imported from
}

// Param is one training parameter on each side ("" where not set).
type Param struct {
	Name    string `json:"name"`
	A       string `json:"a,omitempty"`
	B       string `json:"b,omitempty"`
	Differs bool   `json:"differs"`
}

// Metric is one metric on each side. Comparable says both were measured
// on the same data (the same dataset digest, the same eval definition and
// dataset, or the same prediction rows); Diff is B − A only then.
type Metric struct {
	Name       string   `json:"name"`
	Source     string   `json:"source"` // "claimed", "eval <name>", "computed <eval>"
	A          *float64 `json:"a,omitempty"`
	B          *float64 `json:"b,omitempty"`
	Diff       *float64 `json:"difference,omitempty"`
	Low        *float64 `json:"ci_low,omitempty"` // paired bootstrap 95 % interval of the difference
	High       *float64 `json:"ci_high,omitempty"`
	Comparable bool     `json:"comparable"`
	Note       string   `json:"note,omitempty"`
}

// Input is a dataset a training run read, by name or URI, with each
// side's digest.
type Input struct {
	Name    string `json:"name"`
	A       string `json:"a,omitempty"`
	B       string `json:"b,omitempty"`
	Differs bool   `json:"differs"`
}

// Gate is an alias's gates for each version, checked against the state now.
type Gate struct {
	Alias string                 `json:"alias"`
	A     string                 `json:"a"` // "passed", "pending" or "blocked: …"
	B     string                 `json:"b"`
	GA    []reconciler.GateCheck `json:"a_checks"`
	GB    []reconciler.GateCheck `json:"b_checks"`
}

// Comparison is the whole answer.
type Comparison struct {
	Model         string   `json:"model"`
	A             Side     `json:"a"`
	B             Side     `json:"b"`
	Params        []Param  `json:"params"`
	Inputs        []Input  `json:"inputs"`
	FeaturesOnlyA []string `json:"features_only_a"`
	FeaturesOnlyB []string `json:"features_only_b"`
	Metrics       []Metric `json:"metrics"`
	Gates         []Gate   `json:"gates"`
}

// Versions compares versions a and b of model, both registered.
func Versions(ctx context.Context, b *compiler.Bundle, st state.Ops, model, va, vb string) (*Comparison, error) {
	ma, err := st.GetModelVersion(ctx, model, va)
	if err != nil {
		return nil, err
	}
	mb, err := st.GetModelVersion(ctx, model, vb)
	if err != nil {
		return nil, err
	}
	c := &Comparison{Model: model, A: side(ma), B: side(mb), Params: []Param{}, Inputs: []Input{}, Metrics: []Metric{}, Gates: []Gate{}}
	ra, rb := run(ma), run(mb)
	for _, k := range union(ra.Params, rb.Params) {
		c.Params = append(c.Params, Param{Name: k, A: ra.Params[k], B: rb.Params[k], Differs: ra.Params[k] != rb.Params[k]})
	}
	ia, ib := inputs(ra), inputs(rb)
	for _, k := range union(ia, ib) {
		c.Inputs = append(c.Inputs, Input{Name: k, A: ia[k], B: ib[k], Differs: ia[k] != ib[k]})
	}
	c.FeaturesOnlyA, c.FeaturesOnlyB = minus(ma.Features, mb.Features), minus(mb.Features, ma.Features)

	// Claimed metrics: comparable when both name the same dataset digest.
	for _, k := range union(ma.Metrics, mb.Metrics) {
		m := Metric{Name: k, Source: "claimed"}
		if v, ok := ma.Metrics[k]; ok {
			m.A = &v
		}
		if v, ok := mb.Metrics[k]; ok {
			m.B = &v
		}
		da, db := ra.MetricDatasets[k], rb.MetricDatasets[k]
		switch {
		case m.A == nil || m.B == nil:
			m.Note = "claimed by one version only"
		case da != "" && db != "" && da != db:
			m.Note = fmt.Sprintf("not comparable: measured on different datasets (%s vs %s)", da, db)
		default:
			m.Comparable = true
			if da == "" || db == "" {
				m.Note = "the dataset it was measured on is not recorded"
			}
		}
		c.Metrics = append(c.Metrics, m.withDiff())
	}

	// Eval runs: the latest run of each eval for each version; comparable
	// when both ran the same suite definition and dataset.
	runs, err := st.ListEvalRuns(ctx, "")
	if err != nil {
		return nil, err
	}
	latest := map[string]map[string]state.EvalRun{} // version → eval → run
	for _, r := range runs {
		if r.Target != "models/"+model {
			continue
		}
		for _, v := range []*state.ModelVersion{ma, mb} {
			if r.TargetVersion == v.Version || r.SubjectHash == v.ContentHash() {
				if latest[v.Version] == nil {
					latest[v.Version] = map[string]state.EvalRun{}
				}
				if old, ok := latest[v.Version][r.Eval]; !ok || r.ID > old.ID {
					latest[v.Version][r.Eval] = r
				}
			}
		}
	}
	for _, e := range union(latest[va], latest[vb]) {
		xa, okA := latest[va][e]
		xb, okB := latest[vb][e]
		for _, k := range union(xa.Metrics, xb.Metrics) {
			m := Metric{Name: k, Source: "eval " + e}
			if v, ok := xa.Metrics[k]; okA && ok {
				m.A = &v
			}
			if v, ok := xb.Metrics[k]; okB && ok {
				m.B = &v
			}
			switch {
			case m.A == nil || m.B == nil:
				m.Note = "measured for one version only"
			case xa.EvalHash != xb.EvalHash:
				m.Note = fmt.Sprintf("not comparable: the suite or its dataset changed between the runs (#%d %s, #%d %s)", xa.ID, xa.EvalHash, xb.ID, xb.EvalHash)
			default:
				m.Comparable = true
				m.Note = fmt.Sprintf("runs #%d (%s) and #%d (%s)", xa.ID, verdict(xa.Passed), xb.ID, verdict(xb.Passed))
			}
			c.Metrics = append(c.Metrics, m.withDiff())
		}
	}

	// Per-version classic evals: B against A on the same prediction rows,
	// with the paired bootstrap interval of the difference.
	for _, e := range slices.Sorted(maps.Keys(b.Evals)) {
		ev := b.Evals[e]
		if ev.Target.Model != model || !evals.PerVersion(ev) {
			continue
		}
		cs, err := evals.CompareVersions(ctx, b, e, vb, va)
		if err != nil {
			c.Metrics = append(c.Metrics, Metric{Name: "*", Source: "computed " + e, Note: "not compared: " + err.Error()})
			continue
		}
		for _, x := range cs {
			a, bb, d := x.Champion, x.Challenger, x.Diff
			c.Metrics = append(c.Metrics, Metric{Name: x.Name, Source: "computed " + e, A: &a, B: &bb, Diff: &d, Low: x.Low, High: x.High, Comparable: true,
				Note: fmt.Sprintf("%d paired rows", x.Pairs)})
		}
	}

	if m := b.Models[model]; m != nil {
		for _, alias := range slices.Sorted(maps.Keys(m.Aliases)) {
			g := Gate{Alias: alias}
			for _, x := range []struct {
				v      string
				status *string
				checks *[]reconciler.GateCheck
			}{{va, &g.A, &g.GA}, {vb, &g.B, &g.GB}} {
				_, gs, err := reconciler.GateEvidence(ctx, b, st, reconciler.MoveModelAlias, "models/"+model, alias, x.v, m.Gates[alias])
				if err != nil {
					return nil, err
				}
				*x.checks, *x.status = gs, gateVerdict(gs)
			}
			c.Gates = append(c.Gates, g)
		}
	}
	return c, nil
}

func (m Metric) withDiff() Metric {
	if m.Comparable && m.A != nil && m.B != nil {
		d := *m.B - *m.A
		m.Diff = &d
	}
	return m
}

func gateVerdict(gs []reconciler.GateCheck) string {
	var failed []string
	pending := false
	for _, g := range gs {
		switch g.Status {
		case reconciler.GateFailed:
			failed = append(failed, g.Gate)
		case reconciler.GatePending:
			pending = true
		}
	}
	switch {
	case len(failed) > 0:
		return "blocked: " + strings.Join(failed, ", ")
	case pending:
		return "pending"
	}
	return "passed"
}

func verdict(passed bool) string {
	if passed {
		return "passed"
	}
	return "failed"
}

func side(v *state.ModelVersion) Side {
	s := Side{Version: v.Version, Digest: v.ContentHash(), Artifact: v.ArtifactURI, Commit: v.Commit, DataSnapshot: v.DataSnapshot}
	if v.Run != nil {
		s.Source = v.Run.Source
	}
	return s
}

func run(v *state.ModelVersion) *state.TrainingRun {
	if v.Run == nil {
		return &state.TrainingRun{}
	}
	return v.Run
}

// inputs keys a run's data inputs by name (else URI), plus the snapshot.
func inputs(r *state.TrainingRun) map[string]string {
	out := map[string]string{}
	for _, in := range r.Inputs {
		k := in.Name
		if k == "" {
			k = in.URI
		}
		out[k] = in.Digest
	}
	return out
}

func union[V any](a, b map[string]V) []string {
	ks := map[string]bool{}
	for k := range a {
		ks[k] = true
	}
	for k := range b {
		ks[k] = true
	}
	return slices.Sorted(maps.Keys(ks))
}

func minus(a, b []string) []string {
	out := []string{}
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}
