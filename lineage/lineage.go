// Package lineage answers which model or prompt version a deployment served
// at a moment, from the audit log's serve entries (reconciler.RecordServing):
// the one in force at T is the last with time ≤ T, and it stays in force
// until the next, so entries tᵢ give the intervals [tᵢ, tᵢ₊₁). Every entry
// it returns is verified: its hash against its content and its link to the
// entry before it.
package lineage

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/reconciler"
	"github.com/cairn-dev/cairn/state"
	"github.com/cairn-dev/cairn/targets"
)

// InForce is what a deployment served at a time.
type InForce struct {
	Deployment string    `json:"deployment"`
	At         time.Time `json:"at"`
	// Entry is the serve entry in force (nil: nothing was served yet at At).
	Entry  *state.AuditEntry      `json:"entry,omitempty"`
	Served *reconciler.ServeEntry `json:"served,omitempty"`
	Until  *time.Time             `json:"until,omitempty"` // the next serve entry's time; nil: still in force
	First  *state.AuditEntry      `json:"first,omitempty"` // before the first entry: that entry
}

// ErrUnknown says the log has no serve entry for the deployment at all.
type ErrUnknown struct{ Deployment string }

func (e *ErrUnknown) Error() string {
	return fmt.Sprintf("no serve entry for deployment %q in the audit log", e.Deployment)
}

// TamperedError names an entry that fails verification.
type TamperedError struct{ Problem *state.AuditProblem }

func (e *TamperedError) Error() string {
	return "the audit log was tampered with: " + e.Problem.Error()
}

// At returns what deployment served at t, reading only its serve entries
// (three indexed reads, whatever the log's length).
func At(ctx context.Context, st state.Ops, deployment string, t time.Time) (*InForce, error) {
	if err := CheckCheckpoint(ctx, st); err != nil {
		return nil, err
	}
	obj := "deployments/" + deployment
	out := &InForce{Deployment: deployment, At: t.UTC()}
	q := state.AuditQuery{Object: obj, Action: reconciler.ActionServe}
	last := q
	last.To, last.Desc, last.Limit = t.Add(time.Nanosecond), true, 1 // time ≤ t
	var cur *state.AuditEntry
	if err := st.ScanAudit(ctx, last, func(e state.AuditEntry) error { cur = &e; return nil }); err != nil {
		return nil, err
	}
	if cur == nil {
		first := q
		first.Limit = 1
		var f *state.AuditEntry
		if err := st.ScanAudit(ctx, first, func(e state.AuditEntry) error { f = &e; return nil }); err != nil {
			return nil, err
		}
		if f == nil {
			return nil, &ErrUnknown{Deployment: deployment}
		}
		if err := verify(ctx, st, *f); err != nil {
			return nil, err
		}
		out.First = f
		return out, nil
	}
	if err := verify(ctx, st, *cur); err != nil {
		return nil, err
	}
	var s reconciler.ServeEntry
	if err := json.Unmarshal([]byte(cur.After), &s); err != nil {
		return nil, &TamperedError{&state.AuditProblem{Seq: cur.Seq, Reason: "its serve document does not decode: " + err.Error()}}
	}
	out.Entry, out.Served = cur, &s
	next := q
	next.AfterSeq, next.Limit = cur.Seq, 1
	if err := st.ScanAudit(ctx, next, func(e state.AuditEntry) error { u := e.Time; out.Until = &u; return nil }); err != nil {
		return nil, err
	}
	return out, nil
}

// verify checks an entry's hash against its content and its link to the
// entry before it (whose own hash must hold too).
func verify(ctx context.Context, st state.Ops, e state.AuditEntry) error {
	if want := state.ChainHash(e, e.PrevHash); e.Hash != want {
		return &TamperedError{&state.AuditProblem{Seq: e.Seq, Reason: "its stored hash does not match its content: the entry was edited"}}
	}
	if e.Seq == 1 {
		if e.PrevHash != state.GenesisHash {
			return &TamperedError{&state.AuditProblem{Seq: e.Seq, Reason: "the first entry does not start the chain"}}
		}
		return nil
	}
	var prev *state.AuditEntry
	if err := st.ScanAudit(ctx, state.AuditQuery{AfterSeq: e.Seq - 2, ToSeq: e.Seq - 1}, func(p state.AuditEntry) error { prev = &p; return nil }); err != nil {
		return err
	}
	switch {
	case prev == nil:
		return &TamperedError{&state.AuditProblem{Seq: e.Seq, Reason: fmt.Sprintf("entry #%d before it is missing (deleted)", e.Seq-1)}}
	case prev.Hash != e.PrevHash:
		return &TamperedError{&state.AuditProblem{Seq: e.Seq, Reason: fmt.Sprintf("its prev_hash does not match entry #%d's hash (an entry was edited, deleted or reordered)", prev.Seq)}}
	case prev.Hash != state.ChainHash(*prev, prev.PrevHash):
		return &TamperedError{&state.AuditProblem{Seq: prev.Seq, Reason: "its stored hash does not match its content: the entry was edited"}}
	}
	return nil
}

// Serves reports whether version (with digest, when not empty) was in
// force — stable or canary — in f.
func (f *InForce) Serves(version, digest string) bool {
	if f.Served == nil || f.Served.Removed {
		return false
	}
	for _, s := range []*targets.ServedVersion{f.Served.Stable, f.Served.Canary} {
		if s != nil && s.Version == version && (digest == "" || s.Digest == digest) {
			return true
		}
	}
	return false
}

// CheckCheckpoint compares the entry `audit verify` last found at the head
// with what is stored at its sequence now: a chain rewritten after an edit
// (every hash recomputed) no longer ends in the verified hash. No checkpoint
// is no problem (none was recorded yet).
func CheckCheckpoint(ctx context.Context, st state.Ops) error {
	raw, ok, err := st.GetRecord(ctx, state.CheckpointKind, "head")
	if err != nil || !ok {
		return err
	}
	var cp state.Checkpoint
	if err := json.Unmarshal(raw, &cp); err != nil {
		return fmt.Errorf("the audit checkpoint does not decode: %w", err)
	}
	var at *state.AuditEntry
	if err := st.ScanAudit(ctx, state.AuditQuery{AfterSeq: cp.Seq - 1, ToSeq: cp.Seq}, func(e state.AuditEntry) error { at = &e; return nil }); err != nil {
		return err
	}
	if at == nil || at.Hash != cp.Hash {
		return &TamperedError{&state.AuditProblem{Seq: cp.Seq, Reason: fmt.Sprintf("the entry `audit verify` checkpointed (hash %s) is no longer there: the chain was rewritten", cp.Hash)}}
	}
	return nil
}

// Suggest returns the names close to name (a typo, a prefix), sorted.
func Suggest(name string, names []string) []string {
	var out []string
	for _, n := range names {
		if strings.Contains(n, name) || strings.Contains(name, n) || distance(n, name) <= max(2, len(name)/3) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
