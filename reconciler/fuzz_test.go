package reconciler

import (
	"strings"
	"testing"
)

// FuzzDecodePlan feeds the saved-plan reader arbitrary bytes: anything that
// is not a plan this cairn wrote is a *PlanFileError naming the file, never a
// panic, and a plan it accepts has a bundle hash, a state reference and
// known actions only.
func FuzzDecodePlan(f *testing.F) {
	f.Add(`{"format_version": "2.0", "bundle_hash": "sha256:ab", "state": {"lineage": "", "serial": 0, "fingerprint": "sha256:cd"}, "approvals": 0, "actions": []}`)
	f.Add(`{"format_version": "2.0", "bundle_hash": "sha256:ab", "state": {"fingerprint": "x"}, "actions": [{"type": "move_model_alias", "object": "models/m", "status": "ready"}]}`)
	f.Add(`{"format_version": "2.0", "steps": []}`)
	f.Add(`{oops`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, data string) {
		p, err := DecodePlan("plan.json", strings.NewReader(data))
		if err != nil {
			if _, ok := err.(*PlanFileError); !ok {
				t.Fatalf("error %T: %v", err, err)
			}
			return
		}
		if !strings.HasPrefix(p.BundleHash, "sha256:") || p.State.Fingerprint == "" {
			t.Fatalf("accepted %+v", p)
		}
		for _, a := range p.Actions {
			if !knownActions[a.Type] || (a.Status != StatusReady && !strings.HasPrefix(a.Status, "blocked: ")) {
				t.Fatalf("accepted action %+v", a)
			}
		}
	})
}
