package policies

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/cairn-dev/cairn/internal/atomicfile"
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

const policyCacheFormat = "cairn-policy-cache/1"

// reads says what of the input a policy's result depends on.
type reads struct {
	all         bool     // the whole input
	bundle      bool     // the whole bundle (not the time or the context)
	others      bool     // another policy's rules (so their Rego too)
	volatile    bool     // calls a non-deterministic built-in: never cached
	collections []string // input.bundle.<c>
	now, ctx    bool
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
			for key, h := range shared {
				if key == dep || strings.HasPrefix(dep, key+".") || strings.HasPrefix(key, dep+".") {
					if !used[key] {
						used[key] = true
						r = merge(r, h.r)
						queue = append(queue, h.deps...)
					}
				}
			}
		}
		out[p.ID] = r
	}
	return out
}

// policyIDOf is policyID of a reference written as a string.
func policyIDOf(ref string) (string, bool) {
	r, err := ast.ParseRef(ref)
	if err != nil || len(r) < 4 {
		return "", false
	}
	return policyID(r[:4])
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
		if len(args) < 2 || args[0].Value.Compare(inputBundle) != 0 {
			return
		}
		key := args[1].Value
		if a, ok := key.(*ast.Array); ok && a.Len() > 0 {
			key = a.Elem(0).Value
		}
		if c, ok := key.(ast.String); ok {
			r = merge(r, reads{collections: []string{string(c)}})
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
	return reads{} // a key the input does not have
}

// inputParts is the policy input split into the parts reads name, each
// with its hash.
type inputParts struct {
	bundle map[string]json.RawMessage
	hashes map[string]string // "bundle.<c>", "now", "context" → sha256
}

func splitInput(bundleJSON []byte, now string, ctxJSON []byte) (*inputParts, error) {
	p := &inputParts{hashes: map[string]string{}}
	if err := json.Unmarshal(bundleJSON, &p.bundle); err != nil {
		return nil, err
	}
	for k, v := range p.bundle {
		p.hashes["bundle."+k] = sum(v)
	}
	p.hashes["now"] = sum([]byte(now))
	p.hashes["context"] = sum(ctxJSON)
	return p, nil
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
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
			write("bundle." + c)
		}
		if r.now {
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

func readResults(path string) *resultCache {
	c := &resultCache{Entries: map[string]cachedResult{}}
	f, err := os.Open(path)
	if err != nil {
		return c
	}
	defer f.Close()
	if gob.NewDecoder(bufio.NewReader(f)).Decode(c) != nil || c.Entries == nil {
		return &resultCache{Entries: map[string]cachedResult{}}
	}
	return c
}

func (c *resultCache) write(path string) {
	var buf bytes.Buffer
	if gob.NewEncoder(&buf).Encode(c) != nil {
		return
	}
	_ = os.MkdirAll(filepath.Dir(path), 0o755) // a read-only repo simply runs uncached
	_ = atomicfile.Write(path, buf.Bytes(), 0o644)
}

// decodeBindings reads cached bindings back in the shapes rego returns.
func decodeBindings(b []byte) (map[string]any, bool) {
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	var m map[string]any
	if d.Decode(&m) != nil {
		return nil, false
	}
	return m, true
}

var inputBundle = ast.MustParseRef("input.bundle")
