package policies

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/internal/diag"
)

// TestShardable holds the reading of which collections a policy's results
// may be split over to the rules in shard.go: each case that must not be
// split is one that a split would get wrong.
func TestShardable(t *testing.T) {
	for _, tc := range []struct {
		name, rego string
		want       []string
	}{
		{"one object per result", `deny contains name if { some name, m in input.bundle.models; m.kind == "llm" }`, []string{"models"}},
		{"a reference with a variable key", `deny contains k if { m := input.bundle.models[k]; m.risk == "high" }`, []string{"models"}},
		{"a function of the object", `bad(m) if m.risk == "low"
deny contains name if { some name, m in input.bundle.models; bad(m) }`, []string{"models"}},
		{"a lookup from another collection", `deny contains name if { some name, d in input.bundle.deployments; not input.bundle.models[d.model] }`, []string{"deployments"}},
		{"rules over two collections", `deny contains name if { some name, m in input.bundle.models; m.x }
deny contains name if { some name, p in input.bundle.prompts; p.x }`, []string{"models", "prompts"}},
		{"one rule over two collections keeps one", `deny contains [n, k] if { some n, m in input.bundle.models; some k, p in input.bundle.prompts; p.model.id == m.model_id }`, []string{"prompts"}},
		{"a helper reading the collection", `llm contains name if { some name, m in input.bundle.models; m.kind == "llm" }
deny contains name if { some name in llm; input.bundle.deployments[name].public }`, []string{"deployments"}},
		{"two objects of one collection", `deny contains [a, b] if { some a, x in input.bundle.models; some b, y in input.bundle.models; a != b; x.model_id == y.model_id }`, nil},
		{"a count of the collection", `deny contains "many" if count(input.bundle.models) > 100`, nil},
		{"the collection passed whole", `f(ms) := count(ms)
deny contains "x" if { some m in input.bundle.models; f(input.bundle.models) > 2; m.a }`, nil},
		{"object.get of the collection", `deny contains "x" if { some m in input.bundle.models; m.a; count(object.get(input.bundle, "models", {})) > 1 }`, nil},
		{"a comprehension over the collection", `deny contains n if { some n, m in input.bundle.models; xs := [k | some k, y in input.bundle.models; y.a == m.a]; count(xs) > 1 }`, nil},
		{"a negation on the collection", `deny contains name if { some name, d in input.bundle.deployments; not input.bundle.models[name] }`, []string{"deployments"}},
		{"every over the collection", `deny contains "none" if { input.bundle.project; every m in input.bundle.models { m.a } }`, nil},
		{"a complete rule", `deny := {n | some n, m in input.bundle.models; m.a}`, nil},
		{"the time", `deny contains n if { some n, m in input.bundle.models; time.parse_rfc3339_ns(input.now) > time.parse_ns("2006-01-02", m.deprecated) }`, nil},
		{"the whole bundle", `deny contains p if { walk(input.bundle, [p, v]); v == "secret" }`, nil},
		{"with on another collection", `f := n if { some n, m in input.bundle.models; m.a }
deny contains x if { some m in input.bundle.prompts; x := f with input.bundle.models as {"a": m} }`, []string{"prompts"}},
		{"the collection as a with value", `g := count(data.z)
deny contains n if { some n, m in input.bundle.models; m.a; g > 1 with data.z as input.bundle.models }`, nil},
		{"a shared helper reading it", `import data.cairn.helpers
deny contains name if { some name, d in input.bundle.deployments; helpers.serves_llm(d) }`, []string{"deployments"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mods, compiled, pols := compileTestPolicy(t, tc.rego, source{name: "policies/helpers.rego", text: `package cairn.helpers

serves_llm(d) if input.bundle.models[d.model].kind == "llm"
`})
			rs := analyseReads(mods, compiled, pols)
			got := shardable(mods, compiled, pols, rs, clocks(mods, compiled, pols, rs))["t"]
			if !slices.Equal(got, tc.want) {
				t.Fatalf("split over %v, want %v", got, tc.want)
			}
		})
	}
}

// TestShardedAgrees: on every violating spec, and after random edits to its
// objects (a field changed, removed or set to a value some policy denies, an
// object removed or copied) at random times, a check whose results come
// from the cache — the split policies' shard by shard, the time-reading
// ones by their clocks — reports exactly what a check without a cache
// reports.
func TestShardedAgrees(t *testing.T) {
	plain := newEngine(t, Options{})
	rng := rand.New(rand.NewPCG(7, 11))
	eachViolatingSpec(t, func(t *testing.T, dir string, b *compiler.Bundle) {
		var pctx map[string]any
		if raw, err := os.ReadFile(filepath.Join(dir, "context.json")); err == nil {
			json.Unmarshal(raw, &pctx)
		}
		cached := newEngine(t, Options{CacheDir: t.TempDir()})
		agree := func(b *compiler.Bundle, at time.Time, what string) {
			t.Helper()
			agreeCached(t, plain, cached, b, at, pctx, what)
		}
		doc := bundleDoc(t, b)
		for round := 0; round < 8; round++ {
			if round > 0 {
				mutate(rng, doc)
			}
			// The time moves too: by seconds, across a day, across
			// catalog deprecation dates and the AI Act's dates.
			agree(docBundle(t, doc), times[rng.IntN(len(times))], fmt.Sprintf("round %d", round))
		}
		// The same bundle at every time in turn.
		b = docBundle(t, doc)
		for _, at := range times {
			agree(b, at, at.String())
		}
	})
}

// eachViolatingSpec runs f, as a subtest, on the bundle of every spec in
// specsDir (each laid over the base spec) and the directory it compiled.
func eachViolatingSpec(t *testing.T, f func(t *testing.T, dir string, b *compiler.Bundle)) {
	t.Helper()
	entries, err := os.ReadDir(specsDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, ent := range entries {
		if !ent.IsDir() {
			continue
		}
		t.Run(ent.Name(), func(t *testing.T) {
			dirs := []string{filepath.Join(specsDir, "base")}
			if ent.Name() != "base" {
				dirs = append(dirs, filepath.Join(specsDir, ent.Name()))
			}
			dir := overlay(t, dirs...)
			b, ds := compiler.Compile(dir, compiler.Options{})
			if b == nil || ds.Count(diag.Error) > 0 {
				t.Fatalf("spec does not compile:\n%s", render(ds))
			}
			f(t, dir, b)
		})
	}
}

// TestShardRerunsOneShard: an edit to one object re-runs, of a policy split
// over its collection, only that object's shard.
func TestShardRerunsOneShard(t *testing.T) {
	b := bigBundle(200)
	e := newEngine(t, Options{CacheDir: t.TempDir()})
	if _, err := e.Evaluate(context.Background(), b, specNow, nil); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(e.shards["owners"], "models") {
		t.Fatalf("owners is split over %v; the test needs models", e.shards["owners"])
	}
	first := e.shardRuns["owners"]
	var name string
	for n := range b.Models {
		if name == "" || n < name {
			name = n
		}
	}
	m := b.Models[name]
	m.Owner = "team:tbd"
	b.Models[name] = m
	l, err := e.Evaluate(context.Background(), b, specNow, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.shardRuns["owners"]; got != 1 {
		t.Fatalf("owners ran %d shards after one model's edit (%d on a cold cache); want 1", got, first)
	}
	if !strings.Contains(render(l), "models/"+name+" has no accountable owner") {
		t.Fatalf("the edit's denial is missing:\n%s", render(l))
	}
}

func bundleDoc(t *testing.T, b *compiler.Bundle) map[string]any {
	t.Helper()
	raw, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func docBundle(t *testing.T, doc map[string]any) *compiler.Bundle {
	t.Helper()
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	// A value of the wrong type leaves its field empty; both checks see
	// the same bundle.
	var b compiler.Bundle
	var te *json.UnmarshalTypeError
	if err := json.Unmarshal(raw, &b); err != nil && !errors.As(err, &te) {
		t.Fatal(err)
	}
	return &b
}

// times a check may run at: around a catalog model's deprecation date
// (gpt-4-0613, 2025-06-06) and its warning window, the AI Act's dates, and
// seconds apart on one day.
var times = []time.Time{
	specNow, specNow.Add(time.Second), specNow.Add(23 * time.Hour), specNow.Add(25 * time.Hour),
	time.Date(2025, 4, 7, 12, 0, 0, 0, time.UTC), time.Date(2025, 6, 5, 23, 59, 59, 0, time.UTC),
	time.Date(2025, 6, 6, 0, 0, 0, 0, time.UTC), time.Date(2026, 8, 1, 23, 0, 0, 0, time.UTC),
	time.Date(2026, 8, 2, 0, 0, 1, 0, time.UTC), time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC),
}

// values some built-in policy judges.
var mutations = []any{"team:tbd", "gpt-4-0613", "2025-06-06", "2026-09-01T10:00:00Z", "sk-" + strings.Repeat("a1B2", 8), "", "high", "llm", "prod", true, false, 0.5}

// mutate edits one random object of a random collection.
func mutate(rng *rand.Rand, doc map[string]any) {
	var colls []string
	for k, v := range doc {
		if m, ok := v.(map[string]any); ok && len(m) > 0 && isCollection(k) {
			colls = append(colls, k)
		}
	}
	if len(colls) == 0 {
		return
	}
	sort.Strings(colls)
	coll := doc[colls[rng.IntN(len(colls))]].(map[string]any)
	names := make([]string, 0, len(coll))
	for n := range coll {
		names = append(names, n)
	}
	sort.Strings(names)
	name := names[rng.IntN(len(names))]
	switch rng.IntN(5) {
	case 0:
		delete(coll, name)
	case 1:
		coll[name+"-copy"] = coll[name]
	default:
		obj, ok := coll[name].(map[string]any)
		if !ok {
			return
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if len(keys) == 0 {
			return
		}
		k := keys[rng.IntN(len(keys))]
		if rng.IntN(3) == 0 {
			delete(obj, k)
		} else {
			obj[k] = mutations[rng.IntN(len(mutations))]
		}
		coll[name] = obj
	}
}

func isCollection(k string) bool {
	return slices.Contains(shardPreference, k)
}

// TestClocks: which rules stand for the time in a policy's cache key, and
// which policies have none (and are keyed by the time itself).
func TestClocks(t *testing.T) {
	for _, tc := range []struct {
		name, rego string
		want       []string // nil: no clock
	}{
		{"today", `import data.cairn.util
deny contains n if { some n, m in input.bundle.models; util.today_ns >= util.date_ns(m.from) }`, []string{"data.cairn.util.today_ns"}},
		{"through a function", `import data.cairn.util
after(d) if util.today_ns >= util.date_ns(d)
deny contains n if { some n, m in input.bundle.models; after(m.from) }`, []string{"data.cairn.util.today_ns"}},
		{"a rule of its own over the catalog", `import data.cairn.util
late contains id if { some id, e in data.cairn.catalog.deprecations.models; util.today_ns >= util.date_ns(e.date) }
deny contains n if { some n, m in input.bundle.models; m.model_id in late }`, []string{"data.cairn.policy.t.late"}},
		{"a rule reading objects and the time", `import data.cairn.util
past[n] if { some n, m in input.bundle.models; util.now_ns >= time.parse_rfc3339_ns(m.at) }
deny contains n if { some n, m in input.bundle.models; past[n] }`, []string{"data.cairn.policy.t.past"}},
		{"the time in a deny rule", `deny contains n if { some n, m in input.bundle.models; time.parse_rfc3339_ns(input.now) > 0 }`, nil},
		{"the time itself", `import data.cairn.util
deny contains n if { some n, m in input.bundle.models; util.now_ns > 0 }`, nil},
		{"the time in a function", `before(x) if time.parse_rfc3339_ns(input.now) < x
deny contains n if { some n, m in input.bundle.models; before(m.x) }`, nil},
		{"the whole input", `deny contains n if { x := input; some n, m in x.bundle.models; m.a }`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mods, compiled, pols := compileTestPolicy(t, tc.rego)
			var got []string
			if ck := clocks(mods, compiled, pols, analyseReads(mods, compiled, pols))["t"]; ck != nil {
				got = ck.rules
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("clock %v, want %v", got, tc.want)
			}
		})
	}
}

// TestBuiltinsKeepResults: every built-in policy that reads the time has a
// clock, and the ones that judge objects one by one are split: a built-in
// written otherwise would re-run on every check.
func TestBuiltinsKeepResults(t *testing.T) {
	e := newEngine(t, Options{CacheDir: t.TempDir()})
	for _, p := range e.policies {
		if e.reads[p.ID].now && e.clocks[p.ID] == nil {
			t.Errorf("%s reads the time without a clock", p.ID)
		}
	}
	for id, want := range map[string][]string{
		"owners":         {"features", "models", "prompts", "rag"},
		"no_secrets":     {"deployments", "evals", "features", "models", "prompts", "providers", "rag", "secret_findings", "slos"},
		"prod_gated":     {"models", "prompts"},
		"llm_prod_evals": {"models", "prompts"},
	} {
		if got := e.shards[id]; !slices.Equal(got, want) {
			t.Errorf("%s is split over %v, want %v", id, got, want)
		}
	}
}

// TestPolicyCacheTorn: a policy cache file cut short or foreign is read as
// empty; the results are those of an uncached check.
func TestPolicyCacheTorn(t *testing.T) {
	b := bigBundle(20)
	dir := t.TempDir()
	e := newEngine(t, Options{CacheDir: dir})
	want := render(eval(t, newEngine(t, Options{}), b, specNow))
	if got := render(eval(t, e, b, specNow)); got != want {
		t.Fatalf("cold cache:\n%s\nwant:\n%s", got, want)
	}
	p := filepath.Join(dir, "policies.bin")
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{len(raw) - 1, len(raw) / 2, 10} {
		os.WriteFile(p, raw[:n], 0o644)
		if got := len(readResults(p).Entries); got != 0 {
			t.Errorf("cut at %d: %d entries read", n, got)
		}
		if got := render(eval(t, newEngine(t, Options{CacheDir: dir}), b, specNow)); got != want {
			t.Fatalf("cut at %d:\n%s\nwant:\n%s", n, got, want)
		}
		os.WriteFile(p, raw, 0o644)
	}
	// Random bytes after the format line: read as empty or as a few
	// entries, never a panic.
	rng := rand.New(rand.NewPCG(9, 9))
	for range 500 {
		junk := make([]byte, rng.IntN(120))
		for j := range junk {
			junk[j] = byte(rng.IntN(256))
		}
		os.WriteFile(p, append([]byte(policyCacheFormat+"\n"), junk...), 0o644)
		readResults(p)
	}
}

// compileTestPolicy compiles the built-in library and one policy t of the
// given rules, for the analyses' tests.
func compileTestPolicy(t *testing.T, rego string, helpers ...source) (parsed, compiled map[string]*ast.Module, pols []Policy) {
	t.Helper()
	srcs, err := Options{}.sources(false)
	if err != nil {
		t.Fatal(err)
	}
	srcs = append(srcs, helpers...)
	srcs = append(srcs, source{name: "policies/t.rego", text: "# METADATA\n# custom:\n#   id: t\npackage cairn.policy.t\n\n" + rego})
	mods, errs := parse(srcs)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	c := newCompiler()
	if c.Compile(mods); c.Failed() {
		t.Fatal(c.Errors)
	}
	pols, _ = discover(mods)
	return mods, c.Modules, pols
}

// agreeCached fails t unless the cached engine reports on b what the plain
// one does, positions included; it returns the plain engine's findings.
func agreeCached(t *testing.T, plain, cached *Engine, b *compiler.Bundle, at time.Time, pctx map[string]any, what string) diag.List {
	t.Helper()
	want, err := plain.Evaluate(context.Background(), b, at, pctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := cached.Evaluate(context.Background(), b, at, pctx)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := render(got), render(want); g != w {
		t.Fatalf("%s: cached results differ from uncached:\ncached:\n%s\nuncached:\n%s", what, g, w)
	}
	return want
}
