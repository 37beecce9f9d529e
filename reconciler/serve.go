package reconciler

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/state"
	"github.com/cairn-dev/cairn/targets"
)

// ActionServe is the audit action of a change to what a deployment serves.
const ActionServe = "serve"

// recordServed holds, per deployment, what the last serve entry said (the
// comparison that decides whether a new one is due).
const recordServed = "serve.current"

// RecordServedBy indexes which deployments ever served an object: key
// "<object> <deployment>", so that a version's lineage reads only those
// deployments' serve entries.
const RecordServedBy = "serve.by"

// ServeEntry is the document of a serve audit entry: what cairn put in force
// for a deployment from that moment — the cluster applies it when it syncs,
// which is outside cairn's view. Removed says the deployment serves nothing.
type ServeEntry struct {
	Deployment string                 `json:"deployment"`
	Namespace  string                 `json:"namespace,omitempty"`
	Stable     *targets.ServedVersion `json:"stable,omitempty"`
	Canary     *targets.ServedVersion `json:"canary,omitempty"`
	Removed    bool                   `json:"removed,omitempty"`
	BundleHash string                 `json:"bundle_hash"`
}

// same reports whether two entries serve the same thing (the bundle hash
// alone changing is not a change to what is served).
func (e ServeEntry) same(o ServeEntry) bool {
	e.BundleHash, o.BundleHash = "", ""
	a, _ := json.Marshal(e)
	b, _ := json.Marshal(o)
	return string(a) == string(b)
}

// RecordServing compares what each deployment serves now — the bundle's
// deployments resolved against the state, as the renderers resolve them —
// with the last serve entry of each, and appends a serve entry for every
// deployment whose stable or canary version, digest or share changed, that
// appeared, or that no longer serves anything. Every path that can change
// what is served calls it after its change: apply (alias and label moves,
// deployment edits), a recorded canary step or rollback.
//
// rendered, when not nil, are the deployments rendered before this change
// (an apply renders a new KServe deployment's first revision without its
// canary, then records it as rendered); nil takes them from the state.
func RecordServing(ctx context.Context, st state.Store, b *compiler.Bundle, now time.Time, actor, commit string, rendered map[string]bool) ([]ServeEntry, error) {
	v, err := ServedView(ctx, st)
	if err != nil {
		return nil, fmt.Errorf("serving: %w", err)
	}
	if rendered != nil {
		v.Rendered = rendered
	}
	cur := targets.Serving(b, v)
	hash := b.Hash()
	var out []ServeEntry
	err = st.Update(ctx, func(tx state.Ops) error {
		out = nil
		recs, err := tx.ListRecords(ctx, recordServed, "")
		if err != nil {
			return err
		}
		names := map[string]bool{}
		for n := range recs {
			names[n] = true
		}
		for n := range cur {
			names[n] = true
		}
		for _, name := range slices.Sorted(maps.Keys(names)) {
			next := ServeEntry{Deployment: name, BundleHash: hash}
			if s, ok := cur[name]; ok {
				stable := s.Stable
				next.Namespace, next.Stable, next.Canary = s.Namespace, &stable, s.Canary
			} else {
				next.Removed = true
			}
			var last ServeEntry
			raw, had := recs[name]
			if had {
				if err := json.Unmarshal(raw, &last); err != nil {
					return fmt.Errorf("serving: record of %s: %w", name, err)
				}
			}
			if had && last.same(next) || !had && next.Removed {
				continue
			}
			after, _ := json.Marshal(next)
			before := ""
			if had {
				before = string(raw)
			}
			if _, err := tx.AppendAudit(ctx, state.AuditEntry{Time: now.UTC(), Actor: actor, Commit: commit, Action: ActionServe,
				Object: "deployments/" + name, Before: before, After: string(after)}); err != nil {
				return err
			}
			if err := tx.PutRecord(ctx, recordServed, name, after); err != nil {
				return err
			}
			for _, v := range []*targets.ServedVersion{next.Stable, next.Canary} {
				if v != nil {
					if err := tx.PutRecord(ctx, RecordServedBy, v.Object+" "+name, []byte("{}")); err != nil {
						return err
					}
				}
			}
			out = append(out, next)
		}
		return nil
	})
	return out, err
}

// ServedDeployments lists the deployments that have serve entries.
func ServedDeployments(ctx context.Context, st state.Ops) ([]string, error) {
	recs, err := st.ListRecords(ctx, recordServed, "")
	if err != nil {
		return nil, err
	}
	return slices.Sorted(maps.Keys(recs)), nil
}
