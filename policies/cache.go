package policies

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime/trace"
	"slices"
	"sort"
	"strconv"
	"strings"

	gojson "github.com/goccy/go-json"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/internal/atomicfile"
	"github.com/cairn-dev/cairn/internal/diag"
	"github.com/cairn-dev/cairn/internal/jsondec"
	"github.com/cairn-dev/cairn/internal/varenc"
)

// The policy cache: a policy's result is a function of its Rego (and the
// library and helpers it may call), the built-in data, and the parts of the
// input it reads. Which parts a policy reads is read off its syntax: every
// reference into input names a bundle collection (input.bundle.models), the
// time (input.now) or the context; a reference that does not — input
// itself, input.bundle with a variable key, a value passed whole to a
// function — reads everything. A policy that calls a non-deterministic
// built-in (time.now_ns, rand.intn, http.send) is never cached. Results are
// kept by the hash of exactly those parts, so an edit anywhere re-runs
// exactly the policies that could see it; positions are computed afresh
// from the new bundle, so a result that moved lines is reported where it is.

const policyCacheFormat = "cairn-policy-cache/2"

// reads says what of the input a policy's result depends on.
type reads struct {
	all         bool     // the whole input
	bundle      bool     // the whole bundle (not the time or the context)
	others      bool     // another policy's rules (so their Rego too)
	volatile    bool     // calls a non-deterministic built-in: never cached
	collections []string // input.bundle.<c>
	now, ctx    bool
	clock       string // the part standing for now (clock.go), when not ""
	blind       bool   // reads no object's position (named in input.go)
}

// analyseReads computes each policy's reads: what its modules read of the
// input (from the syntax as written, where object.get(input.bundle, "c")
// is still visible) and the rules they call (from the compiled modules,
// where every reference is fully qualified) — its own modules' reads and,
// through the rules of helper packages it calls, theirs — rule by rule, so
// a policy that uses util.target does not inherit util.now_ns's input.now.
func analyseReads(parsed, compiled map[string]*ast.Module, pols []Policy) map[string]reads {
	isPolicy := map[string]bool{}
	for _, p := range pols {
		isPolicy[p.ID] = true
	}
	type node struct {
		r    reads
		deps []string
	}
	own := map[string]*node{}    // policy id → its modules
	shared := map[string]*node{} // "data.pkg.rule" → that helper rule
	for name, m := range compiled {
		src := parsed[name]
		if src == nil || len(src.Rules) != len(m.Rules) {
			continue // not one of the sources (cannot happen): see below
		}
		id, ok := policyID(m.Package.Path)
		if ok && isPolicy[id] {
			n := own[id]
			if n == nil {
				n = &node{}
				own[id] = n
			}
			r, _ := nodeReads(src)
			_, deps := nodeReads(m)
			n.r, n.deps = merge(n.r, r), append(n.deps, deps...)
			continue
		}
		for i, rule := range m.Rules {
			key := m.Package.Path.String() + "." + rule.Head.Ref()[0].Value.String()
			n := shared[key]
			if n == nil {
				n = &node{}
				shared[key] = n
			}
			r, _ := nodeReads(src.Rules[i])
			_, deps := nodeReads(rule)
			n.r, n.deps = merge(n.r, r), append(n.deps, deps...)
		}
	}
	index := newRuleIndex(slices.Collect(maps.Keys(shared)))
	out := map[string]reads{}
	for _, p := range pols {
		n := own[p.ID]
		if n == nil { // never analysed: never cached
			out[p.ID] = reads{volatile: true}
			continue
		}
		r := n.r
		seen, used := map[string]bool{}, map[string]bool{} // deps followed, helper rules merged
		queue := append([]string(nil), n.deps...)
		for len(queue) > 0 {
			dep := queue[0]
			queue = queue[1:]
			if seen[dep] {
				continue
			}
			seen[dep] = true
			if id, ok := policyIDOf(dep); ok && isPolicy[id] {
				if id != p.ID {
					// Another policy's rules: rather than chase them, the
					// whole input and every module.
					r.all, r.others = true, true
				}
				continue
			}
			for _, key := range index.match(dep) {
				if !used[key] {
					used[key] = true
					r = merge(r, shared[key].r)
					queue = append(queue, shared[key].deps...)
				}
			}
		}
		out[p.ID] = r
	}
	return out
}

// policyIDOf is policyID of a reference written as a string.
func policyIDOf(ref string) (string, bool) {
	const prefix = "data." + PolicyPrefix
	if rest, ok := strings.CutPrefix(ref, prefix); ok && !strings.ContainsAny(rest, `["`) {
		id, _, _ := strings.Cut(rest, ".")
		return id, id != ""
	}
	// A ref is written with dots where its terms allow; one under neither
	// data.cairn.policy nor a bracket before it names no policy, and most
	// refs are such (data.cairn.util.…): parsing them was a tenth of New.
	if !strings.HasPrefix(ref, "data.cairn.policy") && !strings.HasPrefix(ref, "data[") && !strings.HasPrefix(ref, "data.cairn[") {
		return "", false
	}
	r, err := ast.ParseRef(ref)
	if err != nil || len(r) < 4 {
		return "", false
	}
	return policyID(r[:4])
}

// ruleIndex finds the rules ("data.pkg.rule") a data reference may reach:
// the rule it names or reaches into, or every rule under the package it names.
type ruleIndex struct {
	rules map[string]bool
	under map[string][]string // "data.pkg" → its rules
}

func newRuleIndex(keys []string) *ruleIndex {
	x := &ruleIndex{rules: map[string]bool{}, under: map[string][]string{}}
	for _, k := range keys {
		x.rules[k] = true
		for p := k; ; {
			i := strings.LastIndexByte(p, '.')
			if i < 0 {
				break
			}
			p = p[:i]
			x.under[p] = append(x.under[p], k)
		}
	}
	return x
}

func (x *ruleIndex) match(dep string) []string {
	out := slices.Clone(x.under[dep])
	for p := dep; ; {
		if x.rules[p] {
			out = append(out, p)
		}
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			return out
		}
		p = p[:i]
	}
}

func merge(a, b reads) reads {
	a.all = a.all || b.all
	a.others = a.others || b.others
	a.bundle = a.bundle || b.bundle
	a.volatile = a.volatile || b.volatile
	a.now = a.now || b.now
	a.ctx = a.ctx || b.ctx
	for _, c := range b.collections {
		if !slices.Contains(a.collections, c) {
			a.collections = append(a.collections, c)
		}
	}
	sort.Strings(a.collections)
	return a
}

// nodeReads is what a module or rule reads of the input, and the data
// references it makes (other rules it may call).
func nodeReads(x any) (reads, []string) {
	var r reads
	var deps []string
	handled := map[*ast.Term]bool{}
	// object.get(input.bundle, "c" or ["c", ...], default) reads collection c.
	objectGet := func(args []*ast.Term) {
		if c, ok := objectGetCollection(args); ok && c != "" {
			r = merge(r, reads{collections: []string{c}})
			handled[args[0]] = true
		}
	}
	ast.WalkExprs(x, func(e *ast.Expr) bool {
		if e.IsCall() {
			if e.Operator().String() == "object.get" {
				objectGet(e.Operands())
			}
			if b, ok := ast.BuiltinMap[e.Operator().String()]; ok && b.Nondeterministic {
				r.volatile = true
			}
		}
		return false
	})
	ast.WalkTerms(x, func(t *ast.Term) bool {
		switch v := t.Value.(type) {
		case ast.Call:
			if len(v) > 0 && v[0].Value.String() == "object.get" {
				objectGet(v[1:])
			}
			if len(v) > 0 {
				if b, ok := ast.BuiltinMap[v[0].Value.String()]; ok && b.Nondeterministic {
					r.volatile = true
				}
			}
		case ast.Ref:
			if handled[t] || len(v) == 0 {
				return false
			}
			switch {
			case v[0].Equal(ast.InputRootDocument):
				r = merge(r, inputReads(v))
			case v[0].Equal(ast.DefaultRootDocument):
				deps = append(deps, v.ConstantPrefix().String())
			}
		}
		return false
	})
	return r, deps
}

// objectGetCollection reads the arguments of object.get: ok when it reads
// input.bundle, with the collection it names ("" when the key is not a
// constant).
func objectGetCollection(args []*ast.Term) (string, bool) {
	if len(args) < 2 || args[0].Value.Compare(inputBundle) != 0 {
		return "", false
	}
	key := args[1].Value
	if a, ok := key.(*ast.Array); ok && a.Len() > 0 {
		key = a.Elem(0).Value
	}
	c, _ := key.(ast.String)
	return string(c), true
}

func inputReads(ref ast.Ref) reads {
	key := func(i int) (string, bool) {
		if len(ref) <= i {
			return "", false
		}
		s, ok := ref[i].Value.(ast.String)
		return string(s), ok
	}
	top, ok := key(1)
	switch {
	case !ok:
		return reads{all: true}
	case top == "now":
		return reads{now: true}
	case top == "context":
		return reads{ctx: true}
	case top == "bundle":
		if c, ok := key(2); ok {
			return reads{collections: []string{c}}
		}
		return reads{bundle: true}
	}
	// A key the input does not have (or input.__clock, which only a split
	// run is given): read as everything, so such a policy is neither split
	// nor given a partial input.
	return reads{all: true}
}

// key names one policy's result on this input; "" when it is not cacheable.
func (p *inputParts) key(base string, r reads) string {
	if r.volatile {
		return ""
	}
	h := sha256.New()
	h.Write([]byte(base))
	write := func(name string) {
		h.Write([]byte{0})
		h.Write([]byte(name))
		h.Write([]byte{0})
		h.Write([]byte(p.hashes[name]))
	}
	if r.all {
		names := make([]string, 0, len(p.hashes))
		for n := range p.hashes {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			write(n)
		}
	} else {
		if r.bundle {
			names := make([]string, 0, len(p.hashes))
			for n := range p.hashes {
				if strings.HasPrefix(n, "bundle.") {
					names = append(names, n)
				}
			}
			sort.Strings(names)
			for _, n := range names {
				write(n)
			}
		}
		for _, c := range r.collections {
			if r.blind && compiler.IsKind(c) && p.collection(c) != nil {
				o := p.collection(c)
				h.Write([]byte{0})
				h.Write([]byte("bundle." + c + " without positions"))
				h.Write([]byte{0})
				h.Write([]byte(o.blindAll))
				continue
			}
			write("bundle." + c)
		}
		switch {
		case r.clock != "":
			write(r.clock)
		case r.now:
			write("now")
		}
		if r.ctx {
			write("context")
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// policyDigests names, for each policy, the Rego and data its results were
// computed with: its own modules, the helper modules any policy may call,
// the built-in data and the cairn build. A policy that reads another
// policy's rules depends on every module.
func policyDigests(salt string, srcs []source, mods map[string]*ast.Module, pols []Policy, rs map[string]reads) map[string]string {
	base := sha256.New()
	base.Write([]byte(policyCacheFormat))
	base.Write([]byte{0})
	base.Write([]byte(salt))
	if d, err := builtinData(); err == nil {
		b, _ := json.Marshal(d)
		base.Write(b)
	}
	isPolicy := map[string]bool{}
	for _, p := range pols {
		isPolicy[p.ID] = true
	}
	owner := func(s source) string {
		if m, ok := mods[s.name]; ok {
			if id, ok := policyID(m.Package.Path); ok && isPolicy[id] {
				return id
			}
		}
		return ""
	}
	out := map[string]string{}
	for _, p := range pols {
		h := sha256.New()
		h.Write(base.Sum(nil))
		for _, s := range srcs {
			if o := owner(s); o != "" && o != p.ID && !rs[p.ID].others {
				continue
			}
			h.Write([]byte{0})
			h.Write([]byte(s.name))
			h.Write([]byte{0})
			h.Write([]byte(s.text))
		}
		out[p.ID] = hex.EncodeToString(h.Sum(nil))
	}
	return out
}

// resultCache holds each policy's last results: policy id → {key, bindings}.
type resultCache struct {
	Entries map[string]cachedResult
}

type cachedResult struct {
	Key      string
	Bindings []byte // JSON of the rule bindings, rule → value
}

// The cache file: its format line, then each entry's name, key and
// bindings (internal/varenc).
func readResults(path string) *resultCache {
	empty := &resultCache{Entries: map[string]cachedResult{}}
	b, err := os.ReadFile(path)
	if err != nil || !bytes.HasPrefix(b, []byte(policyCacheFormat+"\n")) {
		return empty
	}
	c := &resultCache{Entries: map[string]cachedResult{}}
	d := &varenc.Decoder{B: b[len(policyCacheFormat)+1:]}
	for len(d.B) > 0 && d.Err == nil {
		name, key, bindings := d.Str(), d.Str(), d.Bytes()
		c.Entries[name] = cachedResult{Key: key, Bindings: bindings}
	}
	if d.Err != nil {
		return empty // torn or foreign: start over
	}
	return c
}

func (c *resultCache) write(path string) {
	n := len(policyCacheFormat) + 1
	for name, r := range c.Entries {
		n += len(name) + len(r.Key) + len(r.Bindings) + 3*varenc.MaxOverhead
	}
	e := &varenc.Encoder{B: make([]byte, 0, n)}
	e.B = append(e.B, policyCacheFormat+"\n"...)
	for _, name := range slices.Sorted(maps.Keys(c.Entries)) {
		e.Str(name)
		e.Str(c.Entries[name].Key)
		e.Bytes(c.Entries[name].Bindings)
	}
	_ = os.MkdirAll(filepath.Dir(path), 0o755) // a read-only repo simply runs uncached
	_ = atomicfile.Write(path, e.B, 0o644)
}

// rawBindings are a run's bindings, rule by rule, as JSON.
type rawBindings map[string]json.RawMessage

func parseBindings(b []byte) (rawBindings, bool) {
	var m rawBindings
	return m, jsondec.Unmarshal(b, &m) == nil
}

var inputBundle = ast.MustParseRef("input.bundle")

// evaluateCached runs the policies whose results (whole, or for a split
// policy shard by shard) are not in the cache, each on the part of the input
// it reads, and keeps the new results. It returns each policy's bindings and
// run-time error, by policy index.
func (e *Engine) evaluateCached(ctx context.Context, parts *inputParts) ([]map[string]any, []error) {
	path := filepath.Join(e.cacheDir, "policies.bin")
	reg := trace.StartRegion(ctx, "policies.cache")
	cache := readResults(path)
	kept := &resultCache{Entries: map[string]cachedResult{}}
	type task struct {
		policy, shard int // shard -1: the whole policy
		split         []string
		key, entry    string
		bindings      map[string]any
		err           error
	}
	var tasks []*task
	got := make([][]rawBindings, len(e.policies)) // per policy, its parts' bindings
	// The split collections' objects and their hashes, side by side.
	var split []string
	for _, cs := range e.shards {
		for _, c := range cs {
			if !slices.Contains(split, c) {
				split = append(split, c)
			}
		}
	}
	// The named collections too: the built-ins are keyed by their objects
	// without positions, read whole or split.
	for _, c := range parts.names {
		if compiler.IsKind(c) && !slices.Contains(split, c) {
			split = append(split, c)
		}
	}
	slices.SortFunc(split, func(a, b string) int { return len(parts.raw[b]) - len(parts.raw[a]) })
	idx := make([]int, len(split))
	for i := range idx {
		idx[i] = i
	}
	onCores(idx, func(i int) { parts.collection(split[i]) })
	reads := e.clockReads(ctx, parts)
	for i, p := range e.policies {
		r := reads[p.ID]
		r.blind = p.Builtin
		var split []string
		for _, c := range e.shards[p.ID] {
			if parts.collection(c) != nil {
				split = append(split, c)
			}
		}
		if e.clocks[p.ID] != nil && parts.clocks[p.ID] == nil {
			split = nil // its clock failed: run whole, where its rules compute their values
		}
		if len(split) == 0 {
			key := parts.key(e.digests[p.ID], r)
			if c, ok := cache.Entries[p.ID]; ok && key != "" && c.Key == key {
				if m, ok := parseBindings(c.Bindings); ok {
					got[i] = append(got[i], m)
					kept.Entries[p.ID] = c
					continue
				}
			}
			if r.now && r.clock == "" {
				key = "" // keyed by the time itself: never found again
			}
			tasks = append(tasks, &task{policy: i, shard: -1, key: key, entry: p.ID})
			continue
		}
		base := parts.key(e.digests[p.ID], r.without(split))
		for _, s := range parts.shardsOf(split) {
			key, entry := parts.shardKey(base, split, s, r.blind), p.ID+"#"+strconv.Itoa(s)
			if c, ok := cache.Entries[entry]; ok && c.Key == key {
				if m, ok := parseBindings(c.Bindings); ok {
					got[i] = append(got[i], m)
					kept.Entries[entry] = c
					continue
				}
			}
			tasks = append(tasks, &task{policy: i, shard: s, split: split, key: key, entry: entry})
		}
	}
	// The bundle fields the runs read whole, converted side by side first
	// (largest first, so the last to finish is a small one); a run converts
	// its shard's objects itself.
	var fields []string
	for _, t := range tasks {
		r := reads[e.policies[t.policy].ID]
		for _, k := range parts.names {
			if (r.all || r.bundle || slices.Contains(r.collections, k)) && !slices.Contains(t.split, k) && !slices.Contains(fields, k) {
				fields = append(fields, k)
			}
		}
	}
	slices.SortFunc(fields, func(a, b string) int { return len(parts.raw[b]) - len(parts.raw[a]) })
	reg.End()
	idx = make([]int, len(fields))
	for i := range idx {
		idx[i] = i
	}
	reg = trace.StartRegion(ctx, "policies.input")
	onCores(idx, func(j int) { parts.values[fields[j]].get(parts.raw[fields[j]]) })
	reg.End()
	idx = make([]int, len(tasks))
	for i := range idx {
		idx[i] = i
	}
	onCores(idx, func(j int) {
		t := tasks[j]
		id := e.policies[t.policy].ID
		in, err := parts.input(reads[id], t.split, t.shard)
		if err != nil {
			t.err = err
			return
		}
		if q, ok := e.clocked[id]; ok && t.shard >= 0 {
			in.(ast.Object).Insert(ast.StringTerm(clockField), parts.clocks[id])
			t.bindings, t.err = e.evalQuery(ctx, id, q, in)
			return
		}
		t.bindings, t.err = e.eval(ctx, t.policy, in)
	})
	errs := make([]error, len(e.policies))
	e.ran, e.shardRuns = e.ran[:0], map[string]int{}
	for _, t := range tasks {
		id := e.policies[t.policy].ID
		if !slices.Contains(e.ran, id) {
			e.ran = append(e.ran, id)
		}
		if t.shard >= 0 {
			e.shardRuns[id]++
		}
		if t.err != nil {
			if errs[t.policy] == nil {
				errs[t.policy] = t.err
			}
			continue
		}
		js, err := json.Marshal(t.bindings)
		m, ok := parseBindings(js)
		if err != nil || !ok {
			errs[t.policy] = fmt.Errorf("encoding the results of policy %s: %v", id, err)
			continue
		}
		got[t.policy] = append(got[t.policy], m)
		// A result quoting what looks like a credential is not kept.
		if t.key != "" && diag.Redact(string(js)) == string(js) {
			kept.Entries[t.entry] = cachedResult{Key: t.key, Bindings: js}
		}
	}
	sort.Strings(e.ran)
	// Written beside the rest of the evaluation; Evaluate waits for it.
	if !maps.EqualFunc(kept.Entries, cache.Entries, func(a, b cachedResult) bool { return a.Key == b.Key }) {
		e.writes.Go(func() { kept.write(path) })
	}
	out := make([]map[string]any, len(e.policies))
	var ok []int
	for i := range e.policies {
		if errs[i] == nil {
			ok = append(ok, i)
		}
	}
	// Decoding thousands of cached results is a serial step before the
	// diagnostics; the policies' results decode side by side.
	onCores(ok, func(i int) { out[i] = union(e.policies[i].rules, got[i]) })
	return out, errs
}

// union merges a policy's bindings part by part (a split policy's shard by
// shard): each rule's set is the union of its sets, its members in the order
// of their JSON (as sets come), decoded in the shapes rego returns. The
// members are compared as JSON, which json.Marshal writes one way for one
// value.
func union(rules []string, parts []rawBindings) map[string]any {
	out := map[string]any{}
	for _, rule := range rules {
		seen := map[string]bool{}
		var members []string
		for _, b := range parts {
			raw, ok := b[rule]
			if !ok {
				continue
			}
			var set []json.RawMessage
			if jsondec.Unmarshal(raw, &set) != nil {
				if len(parts) == 1 { // not a set: as rego returned it
					out[rule] = decodeJSON(raw)
				}
				continue
			}
			for _, x := range set {
				if !seen[string(x)] {
					seen[string(x)] = true
					members = append(members, string(x))
				}
			}
		}
		if len(members) == 0 && out[rule] != nil {
			continue
		}
		slices.Sort(members)
		out[rule] = decodeMembers(members)
	}
	return out
}

// decodeMembers decodes a set's members, each JSON, as one array: one
// decoder for thousands of messages rather than one each.
func decodeMembers(members []string) []any {
	n := 2
	for _, m := range members {
		n += len(m) + 1
	}
	buf := make([]byte, 0, n)
	buf = append(buf, '[')
	for i, m := range members {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, m...)
	}
	buf = append(buf, ']')
	if v, ok := decodeJSON(buf).([]any); ok && len(v) == len(members) {
		return v
	}
	out := make([]any, len(members)) // one member is not JSON: the rest still decode
	for i, m := range members {
		out[i] = decodeJSON([]byte(m))
	}
	return out
}

// decodeJSON decodes a value as rego returns it (numbers as json.Number).
// The thousands of cached results a check decodes take goccy/go-json a
// third of encoding/json's time; TestDecodeJSONAgrees holds the two equal,
// and encoding/json decodes what goccy refuses.
func decodeJSON(b []byte) any {
	g := gojson.NewDecoder(bytes.NewReader(b))
	g.UseNumber()
	var v any
	if g.Decode(&v) == nil && !g.More() {
		return v
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	v = nil
	if d.Decode(&v) != nil {
		return nil
	}
	return v
}

// clockReads evaluates the policies' clocks (clock.go) and returns each
// policy's reads with the time replaced by its clock's value where it has
// one. A clock that fails to evaluate leaves its policy keyed by the time.
func (e *Engine) clockReads(ctx context.Context, parts *inputParts) map[string]reads {
	out := maps.Clone(e.reads)
	ids := slices.Sorted(maps.Keys(e.clockQ))
	if len(ids) == 0 {
		return out
	}
	defer trace.StartRegion(ctx, "policies.clocks").End()
	for _, id := range ids {
		in, err := parts.input(e.clocks[id].r, nil, 0)
		if err != nil {
			continue
		}
		rs, err := e.clockQ[id].Eval(ctx, rego.EvalParsedInput(in))
		if err != nil {
			continue
		}
		var b map[string]any
		if len(rs) > 0 {
			b = rs[0].Bindings
		}
		js, err := json.Marshal(b)
		if err != nil {
			continue
		}
		part := "clock:" + id
		var members [][2]*ast.Term
		for i := range e.clocks[id].rules {
			v, err := ast.InterfaceToValue(b[fmt.Sprintf("c%d", i)])
			if err != nil {
				break
			}
			members = append(members, [2]*ast.Term{ast.StringTerm(fmt.Sprintf("c%d", i)), ast.NewTerm(v)})
		}
		if len(members) != len(e.clocks[id].rules) {
			continue
		}
		parts.mu.Lock()
		parts.hashes[part] = sum(js)
		parts.clocks[id] = ast.NewTerm(ast.NewObject(members...))
		parts.mu.Unlock()
		r := out[id]
		r.clock = part
		out[id] = r
	}
	return out
}
