package policies

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"regexp"
	"slices"
	"strconv"
	"sync"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/open-policy-agent/opa/v1/ast"
)

// The policy input of a cached check, in parts: a run is given only what
// its policy reads, converted to OPA's values once, and a split policy's
// shard only its shard's objects.

// inputParts is the policy input split into the parts reads name, each
// with its hash, converted to OPA's values only when a policy that runs
// reads them; the split collections also object by object.
type inputParts struct {
	names  []string          // the bundle's fields, in order
	raw    map[string][]byte // their JSON
	hashes map[string]string // "bundle.<c>", "now", "context" → sha256
	now    string
	ctx    []byte

	mu     sync.Mutex
	values map[string]*lazyTerm       // a bundle field as OPA's value
	ctxV   lazyTerm                   // the context
	colls  map[string]*lazyCollection // split collections
	shards map[[2]any]*lazyTerm       // {collection, shard} → that shard's object
	clocks map[string]*ast.Term       // policy id → its clock's values (clockReads)
}

type lazyTerm struct {
	once sync.Once
	t    *ast.Term
	err  error
}

func (l *lazyTerm) get(raw []byte) (*ast.Term, error) {
	l.once.Do(func() {
		v, err := jsonValue(raw)
		l.t, l.err = ast.NewTerm(v), err
	})
	return l.t, l.err
}

// collection is one split collection: its objects' names, JSON and hashes.
type collection struct {
	names []string
	raw   [][]byte
	shard []int
	// The objects' hashes and, per shard, a digest of the names and hashes
	// of the objects in it, in order: every split policy's key for shard s
	// reads it, so the objects are hashed once per check, not once per
	// policy. Made on first use (digests): only a policy that may read
	// positions needs them for a named collection.
	full   sync.Once
	hashes []string
	digest [shardCount][sha256.Size]byte
	// The same without the objects' positions, for the policies that read
	// none (blind), made with the split: blind[i] hashes object i but its
	// "pos", blindAll the whole collection so.
	blind       []string
	blindDigest [shardCount][sha256.Size]byte
	blindAll    string
}

// digests makes the hashes with positions.
func (o *collection) digests() {
	o.full.Do(func() {
		o.hashes = make([]string, len(o.names))
		for i := range o.names {
			o.hashes[i] = sum(o.raw[i])
		}
		o.digest, _ = o.digestsOf(o.hashes)
	})
}

// digestsOf hashes the objects' names and the given hashes of them, in
// order, per shard and for the whole collection.
func (o *collection) digestsOf(hashes []string) (shards [shardCount][sha256.Size]byte, all string) {
	var hs [shardCount]hash.Hash
	for i := range hs {
		hs[i] = sha256.New()
	}
	whole := sha256.New()
	for i, n := range o.names {
		for _, h := range []hash.Hash{hs[o.shard[i]], whole} {
			h.Write([]byte{0})
			h.Write([]byte(n))
			h.Write([]byte{0})
			h.Write([]byte(hashes[i]))
		}
	}
	for i, h := range hs {
		h.Sum(shards[i][:0])
	}
	return shards, hex.EncodeToString(whole.Sum(nil))
}

// A named collection (compiler.IsKind: models, prompts, …) holds objects
// each with its source position at its top ("pos"). A policy that reads no
// position is keyed by their objects without it, so that a line added to a
// spec file does not re-run it on every object below the line. The built-in
// policies read none (TestBuiltinsReadNoPositions); a team policy is keyed
// with them.

// posTail is how an object's JSON ends when its position is its last
// member, as the compiler writes it (Bundle.Fields: struct order, Pos last).
// In JSON it can only be a key: a '"' inside a string is escaped.
var posTail = []byte(`,"pos":{"file":`)

// posRest is the rest of that member after the file name, and the end of
// the object: a nested object's position would end in a third brace.
var posRest = regexp.MustCompile(`^,"line":-?[0-9]+,"col":-?[0-9]+\}\}$`)

// isPosTail reports whether b, what follows posTail, is a JSON string and
// then exactly posRest.
func isPosTail(b []byte) bool {
	if len(b) == 0 || b[0] != '"' {
		return false
	}
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return posRest.Match(b[i+1:])
		}
	}
	return false
}

// blindSum hashes an object without its position: the bytes before its
// last member when that member is the position, else its members but "pos".
func blindSum(raw []byte) string {
	if i := bytes.LastIndex(raw, posTail); i > 0 && isPosTail(raw[i+len(posTail):]) {
		h := sha256.Sum256(raw[:i])
		return hex.EncodeToString(h[:])
	}
	names, vals, err := jsonMembers(raw)
	if err != nil {
		return sum(raw)
	}
	h := sha256.New()
	for i, n := range names {
		if n == "pos" {
			continue
		}
		h.Write([]byte{0})
		h.Write([]byte(n))
		h.Write([]byte{0})
		h.Write(vals[i])
	}
	return "m" + hex.EncodeToString(h.Sum(nil))
}

func splitInput(enc *encoded, now string) (*inputParts, error) {
	p := &inputParts{raw: map[string][]byte{}, hashes: map[string]string{}, now: now, ctx: enc.ctx,
		values: map[string]*lazyTerm{}, colls: map[string]*lazyCollection{}, shards: map[[2]any]*lazyTerm{}, clocks: map[string]*ast.Term{}}
	p.names = enc.names
	sums := make([]string, len(enc.names))
	idx := make([]int, len(enc.names))
	for i := range idx {
		idx[i] = i
	}
	onCores(idx, func(i int) { sums[i] = sum(enc.fields[i]) })
	for i, k := range enc.names {
		p.raw[k] = enc.fields[i]
		p.values[k] = &lazyTerm{}
		p.hashes["bundle."+k] = sums[i]
	}
	p.hashes["now"] = sum([]byte(now))
	p.hashes["context"] = sum(enc.ctx)
	return p, nil
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// collection splits bundle field c into its objects; nil when it is not
// an object. Safe to call from several goroutines.
func (p *inputParts) collection(c string) *collection {
	p.mu.Lock()
	l := p.colls[c]
	if l == nil {
		l = &lazyCollection{}
		p.colls[c] = l
	}
	p.mu.Unlock()
	l.once.Do(func() {
		raw, ok := p.raw[c]
		if !ok {
			return
		}
		names, vals, err := jsonMembers(raw)
		if err != nil {
			return
		}
		o := &collection{names: names, raw: vals, shard: make([]int, len(names))}
		for i, n := range names {
			o.shard[i] = shardOf(c, n)
		}
		if !compiler.IsKind(c) {
			o.digests()
		} else {
			o.blind = make([]string, len(names))
			for i := range names {
				o.blind[i] = blindSum(vals[i])
			}
			o.blindDigest, o.blindAll = o.digestsOf(o.blind)
		}
		l.c = o
	})
	return l.c
}

type lazyCollection struct {
	once sync.Once
	c    *collection
}

// shards lists the shards that hold an object of any of cs (shard 0 when
// none does: the rules that read none of them still run once).
func (p *inputParts) shardsOf(cs []string) []int {
	var in [shardCount]bool
	for _, c := range cs {
		for _, s := range p.collection(c).shard {
			in[s] = true
		}
	}
	var out []int
	for s, ok := range in {
		if ok {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		out = []int{0}
	}
	return out
}

// shardKey names a split policy's result on one shard: base (its key over
// what it reads besides the split collections) and the shard's objects.
func (p *inputParts) shardKey(base string, cs []string, s int, blind bool) string {
	h := sha256.New()
	h.Write([]byte(base))
	h.Write([]byte{0})
	h.Write([]byte(strconv.Itoa(s)))
	for _, c := range cs {
		o := p.collection(c)
		h.Write([]byte{0})
		h.Write([]byte(c))
		h.Write([]byte{0})
		if blind && o.blind != nil {
			h.Write(o.blindDigest[s][:])
		} else {
			o.digests()
			h.Write(o.digest[s][:])
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// input builds the input a policy that reads r sees: the bundle fields it
// reads (all of them when it reads the bundle whole), with the split
// collections cs holding only shard s's objects.
func (p *inputParts) input(r reads, cs []string, s int) (ast.Value, error) {
	var fields [][2]*ast.Term
	for _, k := range p.names {
		if !r.all && !r.bundle && !slices.Contains(r.collections, k) {
			continue
		}
		var t *ast.Term
		var err error
		if slices.Contains(cs, k) {
			t, err = p.shard(k, s)
		} else {
			t, err = p.values[k].get(p.raw[k])
		}
		if err != nil {
			return nil, fmt.Errorf("decoding bundle: %w", err)
		}
		fields = append(fields, [2]*ast.Term{ast.StringTerm(k), t})
	}
	ctxT, err := p.ctxV.get(p.ctx)
	if err != nil {
		return nil, fmt.Errorf("decoding policy context: %w", err)
	}
	return ast.NewObject(
		[2]*ast.Term{ast.StringTerm("bundle"), ast.NewTerm(ast.NewObject(fields...))},
		[2]*ast.Term{ast.StringTerm("now"), ast.StringTerm(p.now)},
		[2]*ast.Term{ast.StringTerm("context"), ctxT},
	), nil
}

// shard is collection c's objects in shard s, as one OPA object.
func (p *inputParts) shard(c string, s int) (*ast.Term, error) {
	p.mu.Lock()
	l := p.shards[[2]any{c, s}]
	if l == nil {
		l = &lazyTerm{}
		p.shards[[2]any{c, s}] = l
	}
	p.mu.Unlock()
	o := p.collection(c)
	l.once.Do(func() {
		var members [][2]*ast.Term
		for i, n := range o.names {
			if o.shard[i] != s {
				continue
			}
			v, err := jsonValue(o.raw[i])
			if err != nil {
				l.err = err
				return
			}
			members = append(members, [2]*ast.Term{ast.StringTerm(n), ast.NewTerm(v)})
		}
		l.t = ast.NewTerm(ast.NewObject(members...))
	})
	return l.t, l.err
}

// without is r less the collections cs.
func (r reads) without(cs []string) reads {
	out := r
	out.collections = nil
	for _, c := range r.collections {
		if !slices.Contains(cs, c) {
			out.collections = append(out.collections, c)
		}
	}
	return out
}
