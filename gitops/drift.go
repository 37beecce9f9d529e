package gitops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/audit"
	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/internal/diag"
	"github.com/cairn-dev/cairn/prices"
	"github.com/cairn-dev/cairn/reconciler"
	"github.com/cairn-dev/cairn/state"
)

// DriftKind classifies a drift item.
type DriftKind string

const (
	// DriftRenderedEdited: a rendered file differs from what apply wrote.
	DriftRenderedEdited DriftKind = "rendered_edited"
	// DriftRenderedMissing: a rendered file apply wrote is gone.
	DriftRenderedMissing DriftKind = "rendered_missing"
	// DriftPointerMoved: an alias or label in state differs from git (moved
	// outside git, or moved since the last reconcile by someone else).
	DriftPointerMoved DriftKind = "pointer_moved"
	// DriftEvalStale: the evidence behind a served version was produced with
	// another judge, other scorer settings or another price catalog.
	DriftEvalStale DriftKind = "eval_stale"
	// DriftWaiverExpiring: a waiver expires within 14 days (or has expired).
	DriftWaiverExpiring DriftKind = "waiver_expiring"
	// DriftModelDeprecated: a served model is past or near its deprecation date.
	DriftModelDeprecated DriftKind = "model_deprecated"
)

// DriftKinds lists every kind, for metrics (a gauge per kind, zero included).
var DriftKinds = []DriftKind{DriftRenderedEdited, DriftRenderedMissing, DriftPointerMoved, DriftEvalStale, DriftWaiverExpiring, DriftModelDeprecated}

// DeprecationWarning is how far ahead a model's deprecation date is drift
// (the deprecated_models policy warns as far ahead).
const DeprecationWarning = 60 * 24 * time.Hour

// DriftItem is one place where what runs differs from what git and the
// recorded evidence say. Plain data: the CLI prints it, the report lists it.
type DriftItem struct {
	Kind   DriftKind     `json:"kind"`
	Object string        `json:"object"` // "rendered/kubernetes/x.yaml", "prompts/a", "evals/s", "governance/waivers"
	Detail string        `json:"detail"`
	Pos    diag.Position `json:"pos,omitzero"`
}

func (d DriftItem) String() string {
	s := fmt.Sprintf("%s %s: %s", d.Kind, d.Object, d.Detail)
	if d.Pos.IsValid() {
		s = d.Pos.String() + ": " + s
	}
	return s
}

func sortDrift(items []DriftItem) {
	sort.SliceStable(items, func(i, j int) bool {
		a, b := items[i], items[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Object != b.Object {
			return a.Object < b.Object
		}
		return a.Detail < b.Detail
	})
}

// RenderedDrift compares the rendered-file hashes recorded in state with the
// files under root (the checkout).
func RenderedDrift(ctx context.Context, st state.Ops, root string) ([]DriftItem, error) {
	have, err := st.RenderedHashes(ctx)
	if err != nil {
		return nil, err
	}
	var out []DriftItem
	for _, p := range slices.Sorted(maps.Keys(have)) {
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(p)))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			out = append(out, DriftItem{Kind: DriftRenderedMissing, Object: p, Detail: fmt.Sprintf("apply rendered it (%s) but the file is gone", short(have[p]))})
		case err != nil:
			return nil, err
		default:
			if h := state.HashBytes(data); h != have[p] {
				out = append(out, DriftItem{Kind: DriftRenderedEdited, Object: p,
					Detail: fmt.Sprintf("edited by hand: content is %s, apply rendered %s", short(h), short(have[p]))})
			}
		}
	}
	return out, nil
}

// MovedPointers compares the pointers recorded after the last reconcile with
// the state now: a difference was made by something other than this reconciler.
func MovedPointers(recorded, now map[string]string, audit []state.AuditEntry) []DriftItem {
	var out []DriftItem
	keys := map[string]bool{}
	for k := range recorded {
		keys[k] = true
	}
	for k := range now {
		keys[k] = true
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if recorded[k] == now[k] {
			continue
		}
		obj, name, _ := strings.Cut(k, "#")
		d := fmt.Sprintf("%s moved outside git: reconciled at %s, state now has %s", name, orUnset(recorded[k]), orUnset(now[k]))
		if e, ok := lastMove(audit, obj, name); ok {
			d += fmt.Sprintf(" (audit #%d by %s at %s)", e.Seq, e.Actor, e.Time.UTC().Format(time.RFC3339))
		}
		out = append(out, DriftItem{Kind: DriftPointerMoved, Object: obj, Detail: d})
	}
	return out
}

// lastMove finds the newest audit entry that moved obj's alias/label name.
func lastMove(audit []state.AuditEntry, obj, name string) (state.AuditEntry, bool) {
	for i := len(audit) - 1; i >= 0; i-- {
		e := audit[i]
		if e.Object != obj || (e.Action != string(reconciler.MovePromptLabel) && e.Action != string(reconciler.MoveModelAlias)) {
			continue
		}
		var after struct {
			Name string `json:"name"`
		}
		if json.Unmarshal([]byte(e.After), &after) == nil && after.Name == name {
			return e, true
		}
	}
	return state.AuditEntry{}, false
}

// pointerKey keys pointers as "prompts/x#prod".
func pointerKey(obj, name string) string { return obj + "#" + name }

// PointerMap reads every alias and label from state.
func PointerMap(ctx context.Context, st state.Ops) (map[string]string, error) {
	ps, err := st.ListPointers(ctx, "")
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(ps))
	for _, p := range ps {
		m[pointerKey(p.Object, p.Name)] = p.Version
	}
	return m, nil
}

// SpecDrift lists aliases and labels whose state differs from the spec,
// except those a gate keeps from moving (blocked: keys "prompts/x#prod").
func SpecDrift(b *compiler.Bundle, ptrs map[string]string, blocked map[string]bool) []DriftItem {
	var out []DriftItem
	check := func(obj, field, name, want string) {
		k := pointerKey(obj, name)
		if got := ptrs[k]; got != want && !blocked[k] {
			out = append(out, DriftItem{Kind: DriftPointerMoved, Object: obj, Pos: b.Position(obj + "." + field + "." + name),
				Detail: fmt.Sprintf("%s.%s: spec has %s, state has %s", field, name, orUnset(want), orUnset(got))})
		}
	}
	for _, n := range slices.Sorted(maps.Keys(b.Prompts)) {
		for _, l := range slices.Sorted(maps.Keys(b.Prompts[n].Labels)) {
			check("prompts/"+n, "labels", l, b.Prompts[n].Labels[l])
		}
	}
	for _, n := range slices.Sorted(maps.Keys(b.Models)) {
		for _, a := range slices.Sorted(maps.Keys(b.Models[n].Aliases)) {
			check("models/"+n, "aliases", a, b.Models[n].Aliases[a])
		}
	}
	return out
}

// StaleEvals checks the evidence behind every served alias/label that the
// spec gates with evals: when the run that passed it recorded its inputs and
// they differ from what a run would use now, the evidence is stale.
func StaleEvals(ctx context.Context, b *compiler.Bundle, st state.Ops, cat *prices.Catalog) ([]DriftItem, error) {
	var out []DriftItem
	seen := map[string]bool{}
	current := map[string]*EvalInputs{}
	for _, g := range b.Gating {
		version, ok, err := st.GetPointer(ctx, g.Object, g.Alias)
		if err != nil {
			return nil, err
		}
		ev := b.Evals[g.Eval]
		if !ok || ev == nil {
			continue
		}
		subject, err := subjectOf(ctx, st, g.Object, version)
		if err != nil || subject == "" {
			continue // an unregistered version is reported by the plan, not here
		}
		eh := reconciler.EvalHashFor(b, ev)
		key := evalInputsKey(g.Eval, subject, eh)
		if seen[key] {
			continue
		}
		seen[key] = true
		run, ok, err := st.LatestEvalRun(ctx, g.Eval, subject, eh)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		raw, ok, err := st.GetRecord(ctx, RecordEvalInputs, key)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue // run by a tool that did not record its inputs: nothing to compare
		}
		var then EvalInputs
		if err := json.Unmarshal(raw, &then); err != nil {
			return nil, fmt.Errorf("state record %s %q: %w", RecordEvalInputs, key, err)
		}
		now := current[g.Eval]
		if now == nil {
			in, err := CurrentEvalInputs(b, g.Eval, cat)
			if err != nil {
				out = append(out, DriftItem{Kind: DriftEvalStale, Object: "evals/" + g.Eval, Pos: ev.Pos,
					Detail: fmt.Sprintf("cannot resolve the suite's current inputs: %v", err)})
				continue
			}
			now = &in
			current[g.Eval] = now
		}
		if why := StaleReasons(then, *now); len(why) > 0 {
			out = append(out, DriftItem{Kind: DriftEvalStale, Object: "evals/" + g.Eval, Pos: ev.Pos,
				Detail: fmt.Sprintf("run #%d behind %s@%s (%s): %s; re-run the suite", run.ID, g.Object, version, g.Alias, strings.Join(why, "; "))})
		}
	}
	return out, nil
}

func subjectOf(ctx context.Context, st state.Ops, obj, version string) (string, error) {
	kind, name, _ := strings.Cut(obj, "/")
	if kind == "prompts" {
		pv, err := st.GetPromptVersion(ctx, name, version)
		if err != nil {
			return "", err
		}
		return pv.ContentHash, nil
	}
	mv, err := st.GetModelVersion(ctx, name, version)
	if err != nil {
		return "", err
	}
	return mv.ContentHash(), nil
}

// WaiverDrift lists waivers that expire within audit.ExpiringWithin or
// have expired, from the audit report's waiver statuses.
func WaiverDrift(b *compiler.Bundle, ws []audit.WaiverInfo) []DriftItem {
	var out []DriftItem
	for i, w := range ws {
		var d string
		switch w.Status {
		case "expiring":
			d = fmt.Sprintf("waiver of %s for %s expires %s (in %d days; approved by %s)", w.Policy, w.Target, w.Expires, w.DaysLeft, w.Approver)
		case "expired":
			d = fmt.Sprintf("waiver of %s for %s expired %s", w.Policy, w.Target, w.Expires)
		default:
			continue
		}
		it := DriftItem{Kind: DriftWaiverExpiring, Object: "governance/waivers", Detail: d}
		if i < len(b.Governance.Waivers) {
			it.Pos = b.Governance.Waivers[i].Pos
		}
		out = append(out, it)
	}
	return out
}

// DeprecationDrift lists models past or within DeprecationWarning of their
// declared `deprecated` date, and the deprecated_models policy's findings
// (which also know the providers' deprecation catalog for LLM model ids).
func DeprecationDrift(b *compiler.Bundle, policy diag.List, now time.Time) []DriftItem {
	var out []DriftItem
	seen := map[string]bool{}
	for _, n := range slices.Sorted(maps.Keys(b.Models)) {
		m := b.Models[n]
		if m.Deprecated == "" {
			continue
		}
		t, err := time.Parse("2006-01-02", m.Deprecated)
		if err != nil {
			if t, err = time.Parse(time.RFC3339, m.Deprecated); err != nil {
				continue // the schema rejects it; nothing to add here
			}
		}
		left := t.Sub(now)
		if left > DeprecationWarning {
			continue
		}
		obj := "models/" + n
		served := "not served"
		if len(m.ServedBy) > 0 {
			served = "served by " + strings.Join(m.ServedBy, ", ")
		}
		d := fmt.Sprintf("deprecated on %s (in %d days), %s", m.Deprecated, int(left.Hours()/24), served)
		if left <= 0 {
			d = fmt.Sprintf("deprecated since %s, %s", m.Deprecated, served)
		}
		seen[obj] = true
		out = append(out, DriftItem{Kind: DriftModelDeprecated, Object: obj, Detail: d, Pos: b.Position(obj + ".deprecated")})
	}
	for _, d := range policy {
		if d.Code != "deprecated_models" || seen[d.Object+" "+d.Message] {
			continue
		}
		if d.Path == "deprecated" && seen[d.Object] {
			continue // the model's own date, listed above
		}
		seen[d.Object+" "+d.Message] = true
		out = append(out, DriftItem{Kind: DriftModelDeprecated, Object: d.Object, Detail: d.Message, Pos: d.Pos})
	}
	return out
}

func orUnset(s string) string {
	if s == "" {
		return "(unset)"
	}
	return s
}

func short(h string) string {
	if i := strings.IndexByte(h, ':'); i >= 0 && len(h) > i+13 {
		return h[:i+13]
	}
	return h
}
