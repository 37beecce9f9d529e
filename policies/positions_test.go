package policies

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/internal/diag"
)

// TestBuiltinsReadNoPositions holds the built-in policies to what the check
// cache assumes of them (policies/input.go): none reads an object's source
// position, so a cached result stays right when a line added above an
// object moves it.
//   - In their Rego, "pos" appears only as what object.remove takes away.
//   - On every violating spec, moving every object (line, column, file)
//     changes none of their results, and a warm cache re-runs none of them:
//     it reports what an uncached check reports of the moved bundle,
//     positions included.
func TestBuiltinsReadNoPositions(t *testing.T) {
	srcs, err := Options{}.sources(false)
	if err != nil {
		t.Fatal(err)
	}
	mods, errs := parse(srcs)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for name, m := range mods {
		if strings.HasSuffix(name, "_test.rego") {
			continue
		}
		seen, removed := 0, 0
		ast.WalkTerms(m, func(x *ast.Term) bool {
			if s, ok := x.Value.(ast.String); ok && s == "pos" {
				seen++
			}
			if c, ok := x.Value.(ast.Call); ok && len(c) == 3 && c[0].String() == "object.remove" {
				if set, ok := c[2].Value.(ast.Set); ok && set.Len() == 1 && set.Contains(ast.StringTerm("pos")) {
					removed++
				}
			}
			return false
		})
		if seen != removed {
			t.Errorf("%s: %d references to \"pos\", %d of them in object.remove(_, {\"pos\"}): a built-in reads a position", name, seen, removed)
		}
	}

	plain := newEngine(t, Options{})
	rng := rand.New(rand.NewPCG(13, 17))
	eachViolatingSpec(t, func(t *testing.T, _ string, b *compiler.Bundle) {
		doc := bundleDoc(t, b)
		before := docBundle(t, doc)
		moved := 0
		for _, c := range slices.Sorted(maps.Keys(doc)) { // in order: the moves are seeded
			if !compiler.IsKind(c) {
				continue
			}
			objs, _ := doc[c].(map[string]any)
			for _, n := range slices.Sorted(maps.Keys(objs)) {
				if o, ok := objs[n].(map[string]any); ok {
					// A file name shaped like a credential too: a policy that
					// searched positions for secrets would report it.
					file := fmt.Sprintf("specs/moved-%d.cue", rng.IntN(9))
					if rng.IntN(3) == 0 {
						file = "specs/sk-proj-AbCdEf1234567890AbCdEf1234567890.cue"
					}
					o["pos"] = map[string]any{"file": file, "line": 1 + rng.IntN(5000), "col": 1 + rng.IntN(40)}
					moved++
				}
			}
		}
		if moved == 0 {
			t.Fatal("the spec has no named objects to move")
		}
		after := docBundle(t, doc)
		cached := newEngine(t, Options{CacheDir: t.TempDir()})
		if _, err := cached.Evaluate(context.Background(), before, specNow, nil); err != nil {
			t.Fatal(err)
		}
		want := agreeCached(t, plain, cached, after, specNow, nil, "after moving every object")
		if ran := cached.Ran(); len(ran) > 0 {
			t.Errorf("moving objects re-ran %v", ran)
		}
		unmoved, err := plain.Evaluate(context.Background(), before, specNow, nil)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := results(want), results(unmoved); !slices.Equal(g, w) {
			t.Errorf("a built-in's results depend on positions:\nmoved:\n%s\nin place:\n%s", strings.Join(g, "\n"), strings.Join(w, "\n"))
		}
	})
}

// results are a check's findings without their positions.
func results(l diag.List) []string {
	var out []string
	for _, d := range l {
		out = append(out, fmt.Sprintf("%s %s %s %s %s", d.Severity, d.Code, d.Object, d.Path, d.Message))
	}
	slices.Sort(out)
	return out
}

// blindSum ignores an object's own position, wherever it is written, and
// nothing else: not another field, not a position nested in a value.
func TestBlindSum(t *testing.T) {
	same := [][2]string{
		{`{"name":"m","owner":"a","pos":{"file":"specs/a.cue","line":3,"col":2}}`, `{"name":"m","owner":"a","pos":{"file":"specs/b.cue","line":300,"col":9}}`},
		{`{"name":"m","pos":{"file":"specs/we\"ird}.cue","line":3,"col":2}}`, `{"name":"m","pos":{"file":"specs/a.cue","line":4,"col":2}}`},
		{`{"pos":{"file":"a","line":1,"col":1},"name":"m"}`, `{"pos":{"file":"b","line":2,"col":1},"name":"m"}`},
	}
	for _, c := range same {
		if blindSum([]byte(c[0])) != blindSum([]byte(c[1])) {
			t.Errorf("%s and %s differ only in position, but hash apart", c[0], c[1])
		}
	}
	differ := [][2]string{
		{`{"name":"m","owner":"a","pos":{"file":"a","line":3,"col":2}}`, `{"name":"m","owner":"b","pos":{"file":"a","line":3,"col":2}}`},
		{`{"x":{"pos":{"file":"f","line":1,"col":1}}}`, `{"x":{"pos":{"file":"f","line":2,"col":1}}}`},
		{`{"name":"m","pos":{"file":"a","line":1,"col":1}}`, `{"name":"n","pos":{"file":"a","line":1,"col":1}}`},
	}
	for _, c := range differ {
		if blindSum([]byte(c[0])) == blindSum([]byte(c[1])) {
			t.Errorf("%s and %s differ in a value, but hash alike", c[0], c[1])
		}
	}
}
