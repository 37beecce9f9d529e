package policies

import (
	"cmp"
	"hash/fnv"
	"maps"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Per-object results. Most policies judge one object at a time: each deny
// (or warn) rule iterates one collection and reads that object, the other
// collections and helper rules that do not read it. Such a policy's results
// over a collection are the union of its results over any split of that
// collection, so a policy is run on shards of it — every object falls in
// one of shardCount shards by its name — and each shard's result is cached
// by the hash of the objects in it. An edit to one model then re-runs the
// policies that read models on one shard, not on all of them.
//
// Which collections a policy may be split over is read off its Rego
// (shardable); the reading is conservative. A collection c is split only
// when
//   - the policy reads the time only through a clock (clock.go; otherwise
//     every shard would miss anyway), is deterministic and calls no other
//     policy's rules;
//   - no helper rule or function its deny and warn rules may call (its
//     own, or a helper package's) reads c at all: a helper over a shard
//     sees less. The rules of its clock are the exception: a shard run is
//     given their values, computed on the whole input (input.__clock);
//   - no rule reads a deny or warn set (an aggregate of the results);
//   - every deny and warn rule is a partial set rule (deny contains v if
//     ...), with no else and no default;
//   - in such a rule, every reference into c names one object by a
//     variable — input.bundle.c[x]..., or some x, y in input.bundle.c —
//     the same variable throughout the rule, outside any comprehension,
//     negation, every or with: so each result involves one object of c,
//     and whatever else the rule reads is the same in that object's shard
//     as in the whole;
//   - no rule reads c whole (object.get(input.bundle, "c", ...), input.bundle
//     itself, input.bundle[k] with a variable k);
//   - when several collections are split, no rule refers to objects of two
//     of them: a result's objects must all be in one shard.
// TestShardedAgrees compares sharded and whole results on every violating
// spec, after random edits and at random times; TestShardable holds the
// reading to these rules.

// shardCount is fixed so that an object's shard depends on its name alone:
// adding an object re-runs one shard, not all.
const shardCount = 32

// shardOf is the shard of object name in collection c.
func shardOf(c, name string) int {
	h := fnv.New32a()
	h.Write([]byte(c))
	h.Write([]byte{0})
	h.Write([]byte(name))
	return int(h.Sum32() % shardCount)
}

// shardPreference orders the collections tried when a rule refers to two:
// the larger ones in a typical repo first.
var shardPreference = []string{"prompts", "models", "evals", "deployments", "features", "rag", "slos", "providers"}

// shardable returns, for each policy that can be split, the collections it
// is split over. rs are the policies' reads (analyseReads).
func shardable(parsed, compiled map[string]*ast.Module, pols []Policy, rs map[string]reads, clocks map[string]*clock) map[string][]string {
	isPolicy := map[string]bool{}
	for _, p := range pols {
		isPolicy[p.ID] = true
	}
	// Helper rules, by "data.pkg.rule": their reads and the rules they call.
	type helper struct {
		r    reads
		deps []string
	}
	shared := map[string]*helper{}
	type own struct {
		entries []entryRule // deny and warn
		deps    []string    // the rules they call
		ok      bool
	}
	owns := map[string]*own{}
	entryKeys := map[string]bool{}
	for name, m := range compiled {
		src := parsed[name]
		if src == nil || len(src.Rules) != len(m.Rules) {
			continue
		}
		id, isPol := policyID(m.Package.Path)
		isPol = isPol && isPolicy[id]
		for i, rule := range m.Rules {
			rn := rule.Head.Ref()[0].Value.String()
			key := m.Package.Path.String() + "." + rn
			r, _ := nodeReads(src.Rules[i])
			_, deps := nodeReads(rule)
			if isPol && (rn == "deny" || rn == "warn") {
				o := owns[id]
				if o == nil {
					o = &own{ok: true}
					owns[id] = o
				}
				entryKeys[key] = true
				o.deps = append(o.deps, deps...)
				if rule.Default || rule.Else != nil || rule.Head.RuleKind() != ast.MultiValue {
					o.ok = false
					continue
				}
				o.entries = append(o.entries, entryRule{compiled: rule, whole: wholeReads(src.Rules[i])})
				continue
			}
			// A policy's other rules are helpers too.
			h := shared[key]
			if h == nil {
				h = &helper{}
				shared[key] = h
			}
			h.r, h.deps = merge(h.r, r), append(h.deps, deps...)
		}
	}
	index := newRuleIndex(slices.Collect(maps.Keys(shared)))
	entries := newRuleIndex(slices.Collect(maps.Keys(entryKeys)))
	out := map[string][]string{}
	for _, p := range pols {
		o, r := owns[p.ID], rs[p.ID]
		ck := clocks[p.ID]
		if o == nil || !o.ok || r.volatile || (r.now && ck == nil) || r.all || r.others {
			continue
		}
		// What the helpers its deny and warn rules call read, transitively;
		// not the clock's rules, whose values a split run is given
		// (evaluateCached), so what they read is read whole.
		var hr reads
		seen := map[string]bool{}
		if ck != nil {
			for _, k := range ck.rules {
				seen["helper:"+k] = true
			}
		}
		queue := append([]string(nil), o.deps...)
		other := false
		for len(queue) > 0 {
			dep := queue[0]
			queue = queue[1:]
			if seen[dep] {
				continue
			}
			seen[dep] = true
			if id, ok := policyIDOf(dep); ok && isPolicy[id] && id != p.ID {
				other = true
				continue
			}
			if len(entries.match(dep)) > 0 {
				other = true // a rule that reads a deny or warn set: its aggregate
				continue
			}
			for _, key := range index.match(dep) {
				if !seen["helper:"+key] {
					seen["helper:"+key] = true
					hr = merge(hr, shared[key].r)
					queue = append(queue, shared[key].deps...)
				}
			}
		}
		if other || hr.all || hr.bundle {
			continue
		}
		// Candidates in order of preference, then any other collection.
		cands := slices.Clone(shardPreference)
		for _, c := range r.collections {
			if !slices.Contains(cands, c) {
				cands = append(cands, c)
			}
		}
		var chosen []string
		for _, c := range cands {
			if !slices.Contains(r.collections, c) || slices.Contains(hr.collections, c) {
				continue
			}
			try := append(slices.Clone(chosen), c)
			fits := true
			for _, e := range o.entries {
				if !e.splits(try) {
					fits = false
					break
				}
			}
			if fits {
				chosen = try
			}
		}
		if len(chosen) > 0 {
			slices.Sort(chosen)
			out[p.ID] = chosen
		}
	}
	return out
}

// entryRule is a deny or warn rule: compiled (every some … in rewritten to
// a reference with a variable key) and what its source reads whole.
type entryRule struct {
	compiled *ast.Rule
	whole    []string // collections read whole (object.get) in the source
}

// wholeReads are the collections a rule's source reads whole through
// object.get(input.bundle, "c" or ["c", ...], default).
func wholeReads(rule *ast.Rule) []string {
	var out []string
	check := func(args []*ast.Term) {
		if c, ok := objectGetCollection(args); ok {
			out = append(out, cmp.Or(c, "*"))
		}
	}
	ast.WalkTerms(rule, func(t *ast.Term) bool {
		if v, ok := t.Value.(ast.Call); ok && len(v) > 0 && v[0].Value.String() == "object.get" {
			check(v[1:])
		}
		return false
	})
	ast.WalkExprs(rule, func(e *ast.Expr) bool {
		if e.IsCall() && e.Operator().String() == "object.get" {
			check(e.Operands())
		}
		return false
	})
	return out
}

// splits reports whether the rule's results are the union of its results
// over shards of the collections cs (see the package comment above).
func (e entryRule) splits(cs []string) bool {
	for _, c := range e.whole {
		if c == "*" || slices.Contains(cs, c) {
			return false
		}
	}
	ok := true
	var key ast.Var // the one object's variable
	var coll string // and its collection
	// visit checks every reference into input in x; guarded is true inside
	// a comprehension, negation, every or with.
	var visit func(x any, guarded bool)
	visit = func(x any, guarded bool) {
		ast.WalkTerms(x, func(t *ast.Term) bool {
			if !ok {
				return true
			}
			switch v := t.Value.(type) {
			case *ast.ArrayComprehension, *ast.SetComprehension, *ast.ObjectComprehension:
				ast.WalkTerms(v, func(u *ast.Term) bool {
					if r, isRef := u.Value.(ast.Ref); isRef && !e.refOK(r, cs, true, &key, &coll) {
						ok = false
					}
					return !ok
				})
				return true
			case ast.Ref:
				if !e.refOK(v, cs, guarded, &key, &coll) {
					ok = false
				}
			}
			return false
		})
	}
	visit(e.compiled.Head, false)
	for _, expr := range e.compiled.Body {
		guarded := expr.Negated || len(expr.With) > 0
		if _, every := expr.Terms.(*ast.Every); every {
			guarded = true
		}
		visit(expr, guarded)
		if !ok {
			return false
		}
	}
	return ok
}

// refOK checks one reference of a rule split over cs: a reference into a
// split collection must name one object by a variable, the same (collection
// and variable) as the rule's other such references, outside guarded
// places; input and input.bundle themselves are read only by object.get
// with a constant key (checked by the caller, from the source).
func (e entryRule) refOK(r ast.Ref, cs []string, guarded bool, key *ast.Var, coll *string) bool {
	if len(r) == 0 || !r[0].Equal(ast.InputRootDocument) {
		return true
	}
	if len(r) < 3 {
		return true // input or input.bundle itself: object.get, see wholeReads
	}
	b, ok := r[1].Value.(ast.String)
	if !ok || string(b) != "bundle" {
		return ok // input.now, input.context; input[x] is excluded by reads.all
	}
	c, ok := r[2].Value.(ast.String)
	if !ok {
		return false
	}
	if !slices.Contains(cs, string(c)) {
		return true
	}
	if guarded || len(r) < 4 {
		return false
	}
	v, ok := r[3].Value.(ast.Var)
	if !ok {
		return false
	}
	if *coll == "" {
		*key, *coll = v, string(c)
		return true
	}
	return *coll == string(c) && key.Equal(v)
}
