package policies

import (
	"maps"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// The clock. A policy that reads the time re-ran on every check, since the
// time is never the same twice. But most read it through a rule that takes
// no arguments and changes far less often: util.today_ns (once a day), or
// deprecated_models' flag (which catalog models are past or near their
// date). When every path from a policy's rules to input.now goes through
// such rules, its result is a function of what else it reads and of those
// rules' values, so it is cached by their values instead of by the time:
// they are evaluated first, cheaply, and the policy runs again only when
// one of them changed (or when what else it reads did).

// clock is what a policy's result depends on of the time.
type clock struct {
	rules []string // "data.pkg.rule": their values stand for the time
	r     reads    // what those rules read
	raw   bool     // one of them reads input.now itself: changes every run
}

// ruleNode is one rule (all its clauses) of any module.
type ruleNode struct {
	r       reads
	deps    []string
	nullary bool // no arguments: a value, not a function
	entry   bool // a policy's deny or warn
}

// clocks finds each time-reading policy's clock; a policy missing from the
// result reads the time some other way (directly in its deny rules, in a
// function, through a rule whose value is the time itself, or the whole
// input) and is keyed by the time itself.
func clocks(parsed, compiled map[string]*ast.Module, pols []Policy, rs map[string]reads) map[string]*clock {
	nodes := map[string]*ruleNode{}
	for name, m := range compiled {
		src := parsed[name]
		if src == nil || len(src.Rules) != len(m.Rules) {
			continue
		}
		_, isPol := policyID(m.Package.Path)
		for i, rule := range m.Rules {
			rn := rule.Head.Ref()[0].Value.String()
			key := m.Package.Path.String() + "." + rn
			n := nodes[key]
			if n == nil {
				n = &ruleNode{nullary: true, entry: isPol && (rn == "deny" || rn == "warn")}
				nodes[key] = n
			}
			r, _ := nodeReads(src.Rules[i])
			_, deps := nodeReads(rule)
			n.r, n.deps = merge(n.r, r), append(n.deps, deps...)
			n.nullary = n.nullary && len(rule.Head.Args) == 0
		}
	}
	index := newRuleIndex(slices.Collect(maps.Keys(nodes)))
	matching := index.match
	// timed: the rule reads the time, itself or through the rules it calls.
	memo := map[string]int{} // 0 unknown, 1 visiting, 2 no, 3 yes
	var timed func(key string) bool
	timed = func(key string) bool {
		switch memo[key] {
		case 1, 2:
			return false
		case 3:
			return true
		}
		memo[key] = 1
		n := nodes[key]
		yes := n.r.now || n.r.all
		for _, d := range n.deps {
			for _, k := range matching(d) {
				if timed(k) {
					yes = true
				}
			}
		}
		memo[key] = 2
		if yes {
			memo[key] = 3
		}
		return yes
	}
	// transReads: what a rule reads, through the rules it calls.
	transReads := func(key string) reads {
		var r reads
		seen := map[string]bool{}
		var reach func(key string)
		reach = func(key string) {
			if seen[key] {
				return
			}
			seen[key] = true
			n := nodes[key]
			r = merge(r, n.r)
			for _, d := range n.deps {
				for _, k := range matching(d) {
					reach(k)
				}
			}
		}
		reach(key)
		return r
	}
	out := map[string]*clock{}
	for _, p := range pols {
		r := rs[p.ID]
		if !r.now || r.all || r.volatile || r.others {
			continue
		}
		prefix := "data." + PolicyPrefix + p.ID + "."
		c := &clock{}
		ok := true
		// pure: the rule reads nothing of the input but the time.
		pure := func(key string) bool {
			r := transReads(key)
			return !r.all && !r.bundle && !r.ctx && len(r.collections) == 0
		}
		var walk func(key string, seen map[string]bool) ([]string, bool)
		descend := func(key string, seen map[string]bool) ([]string, bool) {
			var out []string
			for _, d := range nodes[key].deps {
				for _, k := range matching(d) {
					ks, ok := walk(k, seen)
					if !ok {
						return nil, false
					}
					out = append(out, ks...)
				}
			}
			return out, true
		}
		// walk returns the rules below key through which it reads the time:
		// the deepest rules without arguments that read nothing else of the
		// input, or, where the time is read more directly below, key itself.
		walk = func(key string, seen map[string]bool) ([]string, bool) {
			if seen[key] || !timed(key) {
				return nil, true
			}
			seen[key] = true
			n := nodes[key]
			if n.nullary && !n.entry {
				if pure(key) || n.r.now || n.r.all {
					return []string{key}, true
				}
				if sub, ok := descend(key, maps.Clone(seen)); ok && !slices.ContainsFunc(sub, func(k string) bool { return nodes[k].r.now }) {
					return sub, true
				}
				return []string{key}, true
			}
			if n.r.now || n.r.all {
				return nil, false // a function or a deny rule reads the time itself
			}
			return descend(key, seen)
		}
		seen := map[string]bool{}
		// From the rules whose values are the results: deny and warn.
		for _, key := range slices.Sorted(maps.Keys(nodes)) {
			if nodes[key].entry && strings.HasPrefix(key, prefix) && !strings.Contains(key[len(prefix):], ".") {
				ks, good := walk(key, seen)
				ok = ok && good
				c.rules = append(c.rules, ks...)
			}
		}
		c.rules = slices.Compact(slices.Sorted(slices.Values(c.rules)))
		if !ok || len(c.rules) == 0 {
			continue
		}
		for _, k := range c.rules {
			c.raw = c.raw || nodes[k].r.now
			c.r = merge(c.r, transReads(k))
		}
		if c.r.all || c.r.volatile || c.raw {
			continue // c.raw: the clock would be the time itself
		}
		out[p.ID] = c
	}
	return out
}
