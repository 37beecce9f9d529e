package gitops

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/audit"
	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/prices"
	"github.com/cairn-dev/cairn/state"
)

// LocalDrift is the drift `cairn audit report` finds for a spec directory
// from the state alone, without fetching, planning or running anything:
// rendered files under dir edited or missing, aliases and labels changed
// outside cairn (no audit entry set them) or moved since the last reconcile
// to something the spec does not say, stale eval evidence, waivers expiring
// within audit.ExpiringWithin (from rep) and models near their
// deprecated date. cat is the price catalog eval runs use (nil: embedded).
func LocalDrift(ctx context.Context, b *compiler.Bundle, st state.Ops, dir string, rep *audit.Report, cat *prices.Catalog, now time.Time) ([]DriftItem, error) {
	out, err := RenderedDrift(ctx, st, dir)
	if err != nil {
		return nil, fmt.Errorf("drift: %w", err)
	}
	ptrs, err := PointerMap(ctx, st)
	if err != nil {
		return nil, err
	}
	audit, err := st.ListAudit(ctx)
	if err != nil {
		return nil, err
	}
	unaudited, skip := unauditedPointers(b, ptrs, audit)
	out = append(out, unaudited...)
	last, err := latestReconcile(ctx, st)
	if err != nil {
		return nil, err
	}
	if last != nil {
		// Moves since the last reconcile, except to what this directory's
		// spec says (an apply of it) and those already reported as unaudited.
		spec := specPointers(b)
		then, nowSel := map[string]string{}, map[string]string{}
		for k, v := range last.Pointers {
			then[k] = v
		}
		for k, v := range ptrs {
			nowSel[k] = v
		}
		for k := range then {
			if w, ok := spec[k]; ok && ptrs[k] == w || skip[k] {
				delete(then, k)
				delete(nowSel, k)
			}
		}
		for k := range nowSel {
			if w, ok := spec[k]; ok && ptrs[k] == w || skip[k] {
				delete(nowSel, k)
			}
		}
		out = append(out, MovedPointers(then, nowSel, audit)...)
	}
	stale, err := StaleEvals(ctx, b, st, cat)
	if err != nil {
		return nil, fmt.Errorf("stale evals: %w", err)
	}
	out = append(out, stale...)
	if rep != nil {
		out = append(out, WaiverDrift(b, rep.Waivers)...)
	}
	// Without policy results: the models' own deprecation dates only.
	out = append(out, DeprecationDrift(b, nil, now)...)
	sortDrift(out)
	return out, nil
}

// unauditedPointers lists aliases and labels whose value in state is not what
// the last audited move of them set: changed in the database directly, not
// by an apply. keys are their PointerMap keys.
func unauditedPointers(b *compiler.Bundle, ptrs map[string]string, audit []state.AuditEntry) (out []DriftItem, keys map[string]bool) {
	keys = map[string]bool{}
	for _, k := range slices.Sorted(maps.Keys(ptrs)) {
		obj, name, _ := strings.Cut(k, "#")
		e, ok := lastMove(audit, obj, name)
		var after struct {
			Version string `json:"version"`
		}
		if ok {
			_ = json.Unmarshal([]byte(e.After), &after)
		}
		if ok && after.Version == ptrs[k] {
			continue
		}
		d := fmt.Sprintf("%s is %s in state but no audited move set it", name, orUnset(ptrs[k]))
		if ok {
			d = fmt.Sprintf("%s is %s in state but its last audited move (audit #%d by %s) set %s: changed outside cairn", name, orUnset(ptrs[k]), e.Seq, e.Actor, orUnset(after.Version))
		}
		field := "labels"
		if strings.HasPrefix(obj, "models/") {
			field = "aliases"
		}
		out = append(out, DriftItem{Kind: DriftPointerMoved, Object: obj, Detail: d, Pos: b.Position(obj + "." + field + "." + name)})
		keys[k] = true
	}
	return out, keys
}

// latestReconcile is the newest reconcile record of any repository and ref.
func latestReconcile(ctx context.Context, st state.Ops) (*lastRecord, error) {
	recs, err := st.ListRecords(ctx, RecordLast, "")
	if err != nil {
		return nil, err
	}
	var newest *lastRecord
	for _, k := range slices.Sorted(maps.Keys(recs)) {
		var l lastRecord
		if err := json.Unmarshal(recs[k], &l); err != nil {
			return nil, fmt.Errorf("state record %s %q: %w", RecordLast, k, err)
		}
		if newest == nil || l.Time.After(newest.Time) {
			newest = &l
		}
	}
	return newest, nil
}

// specPointers are the spec's aliases and labels, keyed like PointerMap.
func specPointers(b *compiler.Bundle) map[string]string {
	m := map[string]string{}
	for n, p := range b.Prompts {
		for l, v := range p.Labels {
			m[pointerKey("prompts/"+n, l)] = v
		}
	}
	for n, md := range b.Models {
		for a, v := range md.Aliases {
			m[pointerKey("models/"+n, a)] = v
		}
	}
	return m
}
