package reconciler

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/cairn-dev/cairn/state"
)

// StateRef identifies the state a plan was made against, as Terraform's
// lineage and serial do: Lineage is the first audit entry's hash (the same
// for every copy of one state, "" for a new one), Serial the number of audit
// entries, and Fingerprint covers what a plan reads besides the log — the
// aliases and labels, the rendered hashes and the registered model versions
// — so a change made without an audit entry makes a saved plan stale too.
type StateRef struct {
	Lineage     string `json:"lineage"`
	Serial      int    `json:"serial"`
	Fingerprint string `json:"fingerprint"`
}

// ReadStateRef reads the state's current reference.
func ReadStateRef(ctx context.Context, st state.Ops) (StateRef, error) {
	// The head and the first entry, by point reads: a plan does not load
	// the log (sequence numbers are dense, so the head's is the count).
	head := state.GenesisHash
	var ref StateRef
	last, ok, err := st.AuditHead(ctx)
	if err != nil {
		return StateRef{}, err
	}
	if ok {
		head, ref.Serial = last.Hash, int(last.Seq)
		if err := st.ScanAudit(ctx, state.AuditQuery{Limit: 1}, func(e state.AuditEntry) error {
			ref.Lineage = e.Hash
			return nil
		}); err != nil {
			return StateRef{}, err
		}
	}
	ptrs, err := st.ListPointers(ctx, "")
	if err != nil {
		return StateRef{}, err
	}
	rendered, err := st.RenderedHashes(ctx)
	if err != nil {
		return StateRef{}, err
	}
	mvs, err := st.ListModelVersions(ctx, "")
	if err != nil {
		return StateRef{}, err
	}
	models := make([]string, len(mvs))
	for i, mv := range mvs {
		models[i] = mv.Model + "@" + mv.Version + " " + mv.ContentHash()
	}
	b, _ := json.Marshal(struct {
		Head     string            `json:"head"`
		Entries  int               `json:"entries"`
		Pointers []state.Pointer   `json:"pointers"`
		Rendered map[string]string `json:"rendered"`
		Models   []string          `json:"models"`
	}{head, ref.Serial, ptrs, rendered, models})
	ref.Fingerprint = state.HashBytes(b)
	return ref, nil
}

// StalePlanError says a saved plan no longer describes the change: the
// specs or the state moved on since it was made.
type StalePlanError struct{ Why string }

func (e *StalePlanError) Error() string {
	return "the saved plan is stale: " + e.Why + "; make a new plan with 'cairn plan -out FILE'"
}

// checkFresh refuses a plan made against another bundle or state.
func checkFresh(ctx context.Context, p *Plan, bundleHash string, st state.Ops) error {
	if p.BundleHash != bundleHash {
		return &StalePlanError{Why: fmt.Sprintf("the specs changed since it was made (bundle %s, now %s)", shortHash(p.BundleHash), shortHash(bundleHash))}
	}
	ref, err := ReadStateRef(ctx, st)
	if err != nil {
		return err
	}
	switch {
	case ref.Lineage != p.State.Lineage && p.State.Lineage != "":
		return &StalePlanError{Why: fmt.Sprintf("it was made against another state (lineage %s, this state %s)", shortHash(p.State.Lineage), shortHash(ref.Lineage))}
	case ref.Fingerprint != p.State.Fingerprint:
		return &StalePlanError{Why: fmt.Sprintf("the state changed since it was made (serial %d, now %d)", p.State.Serial, ref.Serial)}
	}
	return nil
}
