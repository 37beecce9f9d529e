package policies

import (
	"testing"
)

// TestReads: what a policy reads of the input, read off its Rego.
func TestReads(t *testing.T) {
	for _, tc := range []struct {
		name, rego string
		want       reads
	}{
		{"a collection", `deny contains "x" if { some m in input.bundle.models; m.kind == "llm" }`, reads{collections: []string{"models"}}},
		{"object.get of a collection", `deny contains "x" if { count(object.get(input.bundle, ["project", "owners"], [])) == 0 }`, reads{collections: []string{"project"}}},
		{"a variable key", `deny contains "x" if { some k in ["models"]; input.bundle[k].a }`, reads{bundle: true}},
		{"the whole bundle", `deny contains "x" if { walk(input.bundle, [p, v]); v == "x" }`, reads{bundle: true}},
		{"the whole input", `deny contains "x" if { x := input; x.bundle.models.a }`, reads{all: true}},
		{"the time", `deny contains "x" if { time.parse_rfc3339_ns(input.now) > 0 }`, reads{now: true}},
		{"the context", `deny contains "x" if { input.context.pull_request }`, reads{ctx: true}},
		{"a key the input does not have", `deny contains "x" if { input.__clock.c0 }`, reads{all: true}},
		{"a helper's reads", `import data.cairn.util
deny contains "x" if { some m in input.bundle.models; util.now_ns > 0 }`, reads{collections: []string{"models"}, now: true}},
		{"a helper that reads nothing", `import data.cairn.util
deny contains util.target("models", "a") if { input.bundle.models.a }`, reads{collections: []string{"models"}}},
		{"another policy's rules", `deny contains "x" if { data.cairn.policy.owners.deny[_] }`, reads{all: true, others: true}},
		{"a non-deterministic built-in", `deny contains "x" if { rand.intn("x", 10) > 0 }`, reads{volatile: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mods, compiled, pols := compileTestPolicy(t, tc.rego)
			got := analyseReads(mods, compiled, pols)["t"]
			if got.all != tc.want.all || got.bundle != tc.want.bundle || got.others != tc.want.others || got.volatile != tc.want.volatile ||
				got.now != tc.want.now || got.ctx != tc.want.ctx || len(got.collections) != len(tc.want.collections) {
				t.Fatalf("reads = %+v, want %+v", got, tc.want)
			}
			for i := range got.collections {
				if got.collections[i] != tc.want.collections[i] {
					t.Fatalf("reads = %+v, want %+v", got, tc.want)
				}
			}
		})
	}
}
