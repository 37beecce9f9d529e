package reconciler

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/evals/classic"
	"github.com/cairn-dev/cairn/evals/scorer"
	"github.com/cairn-dev/cairn/internal/gitfile"
	"github.com/cairn-dev/cairn/state"
)

// AuditBounds is the audit action recording the thresholds an apply put
// in force, whenever they differ from the last recorded set: the record
// of when each bound was first seen in an applied bundle (Art 9(8)).
const AuditBounds = "bounds"

// Bound is one threshold of a gate or an eval: the metric must be Op Value.
type Bound struct {
	Op    string  `json:"op"`
	Value float64 `json:"value"`
	// Field is where the spec sets it ("models/x.gates.prod.metrics.auc").
	Field string `json:"-"`
}

func (b Bound) String() string { return b.Op + " " + fmtNum(b.Value) }

// stricterOrSame reports whether a is the same bound as b or a stricter
// one: a lower bound (> or >=) at least as high, an upper bound (< or <=)
// at least as low, at equal values the strict operator the stricter.
func (a Bound) stricterOrSame(b Bound) bool {
	if a.Op[0] != b.Op[0] {
		return false
	}
	switch a.Op[0] {
	case '>':
		if a.Value != b.Value {
			return a.Value > b.Value
		}
		return a.Op == b.Op || a.Op == ">"
	case '<':
		if a.Value != b.Value {
			return a.Value < b.Value
		}
		return a.Op == b.Op || a.Op == "<"
	}
	return a.Value == b.Value
}

// Bounds are the bundle's thresholds by key: "models/x@prod auc" for a
// gate's metric, "evals/y parity" for an eval's metric.
func Bounds(b *compiler.Bundle) map[string]Bound {
	out := map[string]Bound{}
	gates := func(kind, name string, gs map[string]compiler.Gate) {
		for alias, g := range gs {
			for m, expr := range g.Metrics {
				if op, v, err := ParseBound(expr); err == nil {
					out[fmt.Sprintf("%s/%s@%s %s", kind, name, alias, m)] = Bound{Op: op, Value: v, Field: fmt.Sprintf("%s/%s.gates.%s.metrics.%s", kind, name, alias, m)}
				}
			}
		}
	}
	for n, m := range b.Models {
		gates("models", n, m.Gates)
	}
	for n, p := range b.Prompts {
		gates("prompts", n, p.Gates)
	}
	for n, e := range b.Evals {
		for mn, m := range e.Metrics {
			out["evals/"+n+" "+mn] = Bound{Op: evalOp(e, m), Value: m.Threshold, Field: "evals/" + n + ".metrics." + mn}
		}
	}
	return out
}

// evalOp is the direction of an eval metric's threshold, as evals judges it.
func evalOp(e *compiler.Eval, m compiler.Metric) string {
	lower := scorer.LowerIsBetter(m.Scorer) && m.Aggregate != "pass_rate"
	if e.Predictions != nil {
		lower = classic.LowerIsBetter(m.Scorer)
	}
	if lower {
		return "<="
	}
	return ">="
}

// recordBounds appends an AuditBounds entry when the bundle's bounds
// differ from the last recorded ones.
func recordBounds(ctx context.Context, tx state.Ops, b *compiler.Bundle, e state.AuditEntry) error {
	cur := map[string]string{}
	for k, v := range Bounds(b) {
		cur[k] = v.String()
	}
	var last map[string]string
	if err := tx.ScanAudit(ctx, state.AuditQuery{Action: AuditBounds, Desc: true, Limit: 1}, func(e state.AuditEntry) error {
		return json.Unmarshal([]byte(e.After), &last)
	}); err != nil {
		return err
	}
	if maps.Equal(cur, last) {
		return nil
	}
	e.Action, e.After = AuditBounds, doc(cur)
	_, err := tx.AppendAudit(ctx, e)
	return err
}

// BoundChange is one value a bound took, from when it was first applied.
type BoundChange struct {
	Bound Bound
	Since time.Time
	Seq   int64
}

// BoundHistory reads the bounds every apply put in force, per key.
func BoundHistory(ctx context.Context, st state.Ops) (map[string][]BoundChange, error) {
	out := map[string][]BoundChange{}
	err := st.ScanAudit(ctx, state.AuditQuery{Action: AuditBounds}, func(e state.AuditEntry) error {
		var m map[string]string
		if err := json.Unmarshal([]byte(e.After), &m); err != nil {
			return fmt.Errorf("audit entry #%d (bounds): %w", e.Seq, err)
		}
		for k, s := range m {
			op, v, err := ParseBound(s)
			if err != nil {
				continue
			}
			h := out[k]
			if n := len(h); n == 0 || h[n-1].Bound.Op != op || h[n-1].Bound.Value != v {
				out[k] = append(h, BoundChange{Bound: Bound{Op: op, Value: v}, Since: e.Time, Seq: e.Seq})
			}
		}
		return nil
	})
	return out, err
}

// BoundStatus says whether one threshold a served version is judged by
// was defined before the version's first result on it (Art 9(8)).
type BoundStatus struct {
	Object  string `json:"object"`  // models/x@prod or evals/y
	Metric  string `json:"metric"`  // auc
	Bound   string `json:"bound"`   // ">= 0.92"
	Version string `json:"version"` // the version judged
	Status  string `json:"status"`  // prior_defined | tightened | loosened | not_prior_defined | unknown
	Detail  string `json:"detail"`
	Pos     string `json:"pos,omitempty"`
}

// Statuses of a bound.
const (
	BoundPrior    = "prior_defined"
	BoundTighter  = "tightened"
	BoundLoosened = "loosened"
	BoundLate     = "not_prior_defined"
	BoundUnknown  = "unknown"
)

// JudgeBounds judges every bound that gates the version each alias and
// label names now (in state, else in the specs): was the same or a
// stricter bound in force before the version's first result on that
// metric and dataset? In force is first seen in an applied bundle (the
// bounds entries of the audit log); a bound cairn never applied is dated
// by the first-parent commit that set its line in dir ("per git"). With
// neither, it is unknown — never a pass.
//
// only limits the judgement to those objects ("models/x", "prompts/y");
// nil judges every alias and label.
func JudgeBounds(ctx context.Context, b *compiler.Bundle, st state.Ops, dir string, only map[string]bool) ([]BoundStatus, error) {
	var hist map[string][]BoundChange
	if st != nil {
		var err error
		if hist, err = BoundHistory(ctx, st); err != nil {
			return nil, err
		}
	}
	bounds := Bounds(b)
	var out []BoundStatus
	judge := func(key, object, metric, version string, first time.Time, firstWhat string) {
		cur := bounds[key]
		bs := BoundStatus{Object: object, Metric: metric, Bound: cur.String(), Version: version, Pos: b.FieldPos.At(cur.Field).String()}
		if first.IsZero() {
			bs.Status, bs.Detail = BoundPrior, "no result yet for version "+version+": the bound is defined before any"
			out = append(out, bs)
			return
		}
		var then *BoundChange
		for i, c := range hist[key] {
			if !c.Since.After(first) {
				then = &hist[key][i]
			}
		}
		switch {
		case then != nil && (then.Bound == Bound{Op: cur.Op, Value: cur.Value}):
			bs.Status, bs.Detail = BoundPrior, fmt.Sprintf("in force since audit #%d (%s), before %s (%s)", then.Seq, state.FormatTime(then.Since), firstWhat, state.FormatTime(first))
		case then != nil && then.Bound.stricterOrSame(cur):
			bs.Status, bs.Detail = BoundLoosened, fmt.Sprintf("%s was in force at %s (%s, audit #%d); it was loosened to %s after that result", then.Bound, firstWhat, state.FormatTime(first), then.Seq, cur)
		case then != nil:
			bs.Status, bs.Detail = BoundTighter, fmt.Sprintf("%s was in force at %s (%s, audit #%d); tightened to %s since (allowed)", then.Bound, firstWhat, state.FormatTime(first), then.Seq, cur)
		case len(hist[key]) > 0:
			c := hist[key][0]
			bs.Status, bs.Detail = BoundLate, fmt.Sprintf("first applied at audit #%d (%s), after %s (%s)", c.Seq, state.FormatTime(c.Since), firstWhat, state.FormatTime(first))
		default:
			bs.Status, bs.Detail = perGit(b, dir, cur, first, firstWhat)
		}
		out = append(out, bs)
	}
	type served struct{ kind, name, alias, version string }
	var all []served
	for n, m := range b.Models {
		for a, v := range m.Aliases {
			all = append(all, served{"models", n, a, v})
		}
	}
	for n, p := range b.Prompts {
		for l, v := range p.Labels {
			all = append(all, served{"prompts", n, l, v})
		}
	}
	slices.SortFunc(all, func(x, y served) int {
		return strings.Compare(x.kind+"/"+x.name+"@"+x.alias, y.kind+"/"+y.name+"@"+y.alias)
	})
	for _, s := range all {
		obj := s.kind + "/" + s.name
		if only != nil && !only[obj] {
			continue
		}
		version := s.version
		if st != nil {
			if v, ok, err := st.GetPointer(ctx, obj, s.alias); err != nil {
				return nil, err
			} else if ok {
				version = v
			}
		}
		var gate compiler.Gate
		if s.kind == "models" {
			gate = b.Models[s.name].Gates[s.alias]
		} else {
			gate = b.Prompts[s.name].Gates[s.alias]
		}
		// A gate metric is a registered (claimed) metric: its first result
		// is the version's registration.
		var registered time.Time
		if s.kind == "models" && st != nil {
			if mv, err := st.GetModelVersion(ctx, s.name, version); err == nil {
				registered = mv.RegisteredAt
			} else if !errors.Is(err, state.ErrNotFound) {
				return nil, err
			}
		}
		for _, m := range slices.Sorted(maps.Keys(gate.Metrics)) {
			judge(fmt.Sprintf("%s@%s %s", obj, s.alias, m), obj+"@"+s.alias, m, version, registered, "its registration")
		}
		for _, en := range gate.Evals {
			e := b.Evals[en]
			if e == nil {
				continue
			}
			first, err := firstEvalResult(ctx, st, en, obj, version, e.DatasetHash)
			if err != nil {
				return nil, err
			}
			for _, mn := range slices.Sorted(maps.Keys(e.Metrics)) {
				judge("evals/"+en+" "+mn, "evals/"+en, mn, version, first, "its first run on dataset "+shortHash(e.DatasetHash))
			}
		}
	}
	if st == nil {
		// Without state there is no first result to date: unknown, unless
		// there is no result at all.
		for i := range out {
			if out[i].Status != BoundUnknown && !strings.HasPrefix(out[i].Detail, "per git") {
				out[i].Status, out[i].Detail = BoundUnknown, "no state: the first result cannot be dated"
			}
		}
	}
	return out, nil
}

// firstEvalResult is the time of the first run of eval on version with
// the given dataset, from the run_eval entries of the audit log.
func firstEvalResult(ctx context.Context, st state.Ops, eval, target, version, dataset string) (time.Time, error) {
	var at time.Time
	if st == nil {
		return at, nil
	}
	err := st.ScanAudit(ctx, state.AuditQuery{Object: "evals/" + eval, Action: string(RunEval)}, func(e state.AuditEntry) error {
		var after struct {
			Target, Version string
			Dataset         string `json:"dataset_hash"`
		}
		if json.Unmarshal([]byte(e.After), &after) == nil && after.Target == target && after.Version == version && after.Dataset == dataset {
			at = e.Time
			return errStopScan
		}
		return nil
	})
	if errors.Is(err, errStopScan) {
		err = nil
	}
	return at, err
}

var errStopScan = errors.New("stop")

// perGit dates a bound cairn never applied by the first-parent commit
// that set its line, as the spec file has it now.
func perGit(b *compiler.Bundle, dir string, cur Bound, first time.Time, firstWhat string) (string, string) {
	pos, ok := b.FieldPos.Get(cur.Field)
	if !ok || pos.File == "" || dir == "" {
		return BoundUnknown, "never applied, and its line in the specs is unknown"
	}
	line, err := lineAt(filepath.Join(dir, filepath.FromSlash(pos.File)), pos.Line)
	if err != nil {
		return BoundUnknown, "never applied; " + err.Error()
	}
	commit, at, ok, err := gitfile.LineSince(dir, pos.File, line)
	switch {
	case errors.Is(err, gitfile.ErrShallow):
		return BoundUnknown, "never applied, and per git: " + err.Error()
	case err != nil || !ok:
		return BoundUnknown, "never applied, and not committed to git"
	case !at.After(first):
		return BoundPrior, fmt.Sprintf("per git: set by commit %s at %s, before %s (%s)", shortHash(commit), state.FormatTime(at), firstWhat, state.FormatTime(first))
	}
	return BoundLate, fmt.Sprintf("per git: set by commit %s at %s, after %s (%s)", shortHash(commit), state.FormatTime(at), firstWhat, state.FormatTime(first))
}

func lineAt(path string, n int) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for i := 1; sc.Scan(); i++ {
		if i == n {
			return sc.Text(), nil
		}
	}
	return "", fmt.Errorf("%s has no line %d", path, n)
}

// SystemObjects are the models and prompts the deployments of the declared
// AI systems serve; highRisk limits them to high-risk systems.
func SystemObjects(b *compiler.Bundle, highRisk bool) map[string]bool {
	out := map[string]bool{}
	if b.Compliance == nil {
		return out
	}
	for _, s := range b.Compliance.Systems {
		if highRisk && !s.HighRisk {
			continue
		}
		for _, dn := range s.Deployments {
			switch d := b.Deployments[dn]; {
			case d == nil:
			case d.Model != "":
				out["models/"+d.Model] = true
			default:
				out["prompts/"+d.Prompt] = true
			}
		}
	}
	return out
}
