package policies

import (
	"context"
	"testing"
)

// TestBuiltinRegoTests runs every test_* rule of policies/lib in-process
// through OPA's tester, with the same capabilities and data as Evaluate.
func TestBuiltinRegoTests(t *testing.T) {
	res, err := Test(context.Background(), Options{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(res) == 0 {
		t.Fatal("no Rego tests ran")
	}
	perPackage := map[string]int{}
	for _, r := range res {
		perPackage[r.Package]++
		if !r.Pass {
			t.Errorf("%s (%s): failed %s%s", r.Name, r.Pos, r.Error, r.Output)
		}
	}
	// Every built-in policy has its own test package with a passing and a failing case at least.
	e, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range e.Policies() {
		if n := perPackage["data.cairn.policy."+p.ID+"_test"]; n < 2 {
			t.Errorf("policy %s has %d Rego tests, want at least 2", p.ID, n)
		}
	}
}
