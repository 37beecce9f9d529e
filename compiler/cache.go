package compiler

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/token"

	"github.com/cairn-dev/cairn/internal/atomicfile"
	"github.com/cairn-dev/cairn/internal/diag"
	"github.com/cairn-dev/cairn/internal/varenc"
	"github.com/cairn-dev/cairn/prompts"
	"github.com/cairn-dev/cairn/specs"
)

// The compile cache: most of a check's time is CUE unifying the specs with
// the schema, and in the pull-request loop one file changes at a time. A
// file is evaluated on its own when nothing in it can see another file —
// no reference to a package-level name, no pattern constraint over a whole
// collection, no definition or hidden field others could use. Such a file's
// schema-checked value depends only on its bytes and the schema, so it is
// kept under the hash of both and of the cairn build. Objects are defined
// in one file each (the duplicate check) and the schema constrains each
// object on its own, so the repo's value is the union of the files' values;
// TestCompileCacheAgrees holds the cached and uncached bundles byte-identical.
// When any file is not independent, or a file's own evaluation reports
// anything, the whole repo is evaluated as one (evaluate), which also gives
// the diagnostics their usual form; errors are never cached.

// cacheFormat changes when what an entry holds changes.
const cacheFormat = "cairn-compile-cache/2"

// singletons are the top-level fields that are one struct, not a map of
// objects; each may be written in one file only for the cached path.
var singletons = []string{"project", "governance", "compliance"}

// optionalTop are the top-level fields #Spec makes optional.
var optionalTop = map[string]bool{"compliance": true}

// specField is the path of a top-level field in #Spec (an optional one is
// found only as such).
// schemaText is the schema the specs are checked against (a variable so
// that a test can change it under a warm cache).
var schemaText = specs.Schema

func specField(field string) cue.Path {
	sel := cue.Str(field)
	if optionalTop[field] {
		sel = sel.Optional()
	}
	return cue.MakePath(cue.Def("Spec"), sel)
}

// unit is what one cache entry holds: one object of a collection, or one
// singleton field, with the bytes that write it.
type unit struct {
	field, name string // name is empty for a singleton
	src         []byte // from the label to the end of the value
	off         int    // where src starts in its file
	key         string
}

// evaluateCached returns the repo's schema-checked value from per-object
// evaluations (cached, with a cache directory, or not) when every file is
// independent, top-level field by field; ok is false when the caller must
// evaluate the repo as one.
func evaluateCached(files []parsed, opts Options) (names []string, fields [][]byte, ok bool) {
	var units []unit
	written := map[string]bool{}
	for _, f := range files {
		us, ok := f.units, f.indep
		if !ok {
			return nil, nil, false
		}
		for _, u := range us {
			if u.name == "" && written[u.field] {
				return nil, nil, false // a singleton written in two files: CUE merges them
			}
			written[u.field] = true
		}
		units = append(units, us...)
	}
	// Without a cache directory the units are still evaluated apart: one
	// small CUE file per core beats the package built whole (BenchmarkCompile).
	path := ""
	store := &store{Entries: map[string]entry{}}
	if opts.CacheDir != "" {
		path = filepath.Join(opts.CacheDir, "compile.bin")
		store = readStore(path)
	}
	values := make([]json.RawMessage, len(units))
	var misses []int
	schemaSum := sha256.Sum256([]byte(schemaText()))
	schema := hex.EncodeToString(schemaSum[:])
	for i := range units {
		u := &units[i]
		u.key = unitKey(opts.CacheSalt, schema, u)
		if e, ok := store.Entries[u.key]; ok {
			values[i] = e.Value
			continue
		}
		misses = append(misses, i)
	}
	if len(misses) > 0 {
		if !evaluateUnits(units, misses, values) {
			return nil, nil, false
		}
	}

	all := map[string]json.RawMessage{}
	objects := map[string]map[string]json.RawMessage{}
	for i, u := range units {
		if u.name == "" {
			all[u.field] = values[i]
			continue
		}
		if objects[u.field] == nil {
			objects[u.field] = map[string]json.RawMessage{}
		}
		objects[u.field][u.name] = values[i]
	}
	// Fields no file writes take the schema's defaults, as evaluate does;
	// a default depends on the schema alone, so it is cached too (compiling
	// the schema for it was a tenth of a warm check).
	var absent []string
	for _, g := range groups {
		for _, field := range g {
			if !written[field] && !optionalTop[field] { // an optional block no file writes is absent
				absent = append(absent, field)
			}
		}
	}
	var schemaV *cue.Value
	added := false
	for _, field := range absent {
		key := defaultKey(opts.CacheSalt, schema, field)
		if e, ok := store.Entries[key]; ok {
			all[field] = e.Value
			continue
		}
		if schemaV == nil {
			v := cuecontext.New().CompileString(schemaText(), cue.Filename(specs.SchemaFile))
			schemaV = &v
		}
		v := schemaV.LookupPath(cue.MakePath(cue.Def("Spec"), cue.Str(field)))
		if v.Validate(cue.Concrete(true)) != nil {
			return nil, nil, false // a required singleton (project) is missing: evaluate says where
		}
		b, err := v.MarshalJSON()
		if err != nil {
			return nil, nil, false
		}
		all[field] = b
		store.Entries[key] = entry{Value: b, Gen: store.Gen + 1}
		added = true
	}
	if path != "" && (len(misses) > 0 || added) {
		opts.background(func() { store.save(path, units, values) })
	}
	// Each top-level field's JSON, written out directly: json.Marshal would
	// copy and re-validate every value (75 MB at 10,000 models, for bytes
	// decoded right after).
	for _, field := range slices.Sorted(maps.Keys(all)) {
		names, fields = append(names, field), append(fields, all[field])
	}
	for _, field := range slices.Sorted(maps.Keys(objects)) {
		var out bytes.Buffer
		m := objects[field]
		size := 2
		for name, v := range m {
			size += len(name) + len(v) + 4
		}
		out.Grow(size)
		out.WriteByte('{')
		for j, name := range slices.Sorted(maps.Keys(m)) {
			writeMember(&out, j, name, m[name])
		}
		out.WriteByte('}')
		names, fields = append(names, field), append(fields, out.Bytes())
	}
	return names, fields, true
}

// writeKey writes key as json.Marshal quotes it; a name that needs no
// escaping (almost every object name) without going through it.
func writeKey(b *bytes.Buffer, key string) {
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c >= 0x80 {
			k, _ := json.Marshal(key)
			b.Write(k)
			return
		}
	}
	b.WriteByte('"')
	b.WriteString(key)
	b.WriteByte('"')
}

// defaultKey names the schema's default of a top-level field no file writes.
func defaultKey(salt, schemaSum, field string) string {
	h := sha256.New()
	for _, s := range []string{cacheFormat, salt, schemaSum, "default", field} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// writeMember writes `,"key":value` (no comma for the first member); with a
// nil value, only the key and colon.
func writeMember(b *bytes.Buffer, i int, key string, value json.RawMessage) {
	if i > 0 {
		b.WriteByte(',')
	}
	writeKey(b, key)
	b.WriteByte(':')
	b.Write(value)
}

// unitKey names a unit's value: its bytes, the schema they are checked
// against (a schema change is usually a new build too, but the key does not
// rely on it) and the build.
func unitKey(salt, schemaSum string, u *unit) string {
	h := sha256.New()
	for _, s := range []string{cacheFormat, salt, schemaSum, u.field, u.name} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	h.Write(u.src)
	return hex.EncodeToString(h.Sum(nil))
}

// evaluateUnits unifies the missed units with the schema, in one CUE file
// per core (contexts are not safe for concurrent use); the units are
// independent, so writing them side by side changes none of them.
func evaluateUnits(units []unit, misses []int, values []json.RawMessage) bool {
	// Chunks of a bounded size, each in a fresh context that is dropped
	// when done: a CUE context keeps everything it evaluated, so one
	// context per core held the whole repo (1.4 GB at 10,000 models).
	var chunks [][]int
	for len(misses) > 0 {
		n := min(len(misses), chunkUnits)
		chunks = append(chunks, misses[:n])
		misses = misses[n:]
	}
	next := make(chan []int)
	okAll := true
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < min(2, len(chunks)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for part := range next {
				if !evaluatePart(units, part, values) {
					mu.Lock()
					okAll = false
					mu.Unlock()
				}
			}
		}()
	}
	for _, c := range chunks {
		next <- c
	}
	close(next)
	wg.Wait()
	return okAll
}

// chunkUnits is how many units one CUE context evaluates: large enough
// that compiling the schema per chunk costs little, small enough that
// memory does not grow with the repo.
const chunkUnits = 250

func evaluatePart(units []unit, part []int, values []json.RawMessage) bool {
	// The units' text is parsed again, not their syntax kept from
	// parseFiles: that would hold every file's syntax through the whole
	// evaluation (digest).
	var src bytes.Buffer
	src.WriteString("package cache\n")
	var fields []string
	for _, i := range part {
		u := units[i]
		if u.name != "" {
			src.WriteString(u.field)
			src.WriteString(": ")
		}
		src.Write(u.src)
		src.WriteString("\n")
		if !slices.Contains(fields, u.field) {
			fields = append(fields, u.field)
		}
	}
	ctx := cuecontext.New()
	user := ctx.CompileBytes(src.Bytes(), cue.Filename("cache.cue"))
	if user.Err() != nil {
		return false
	}
	schema := ctx.CompileString(schemaText(), cue.Filename(specs.SchemaFile))
	if schema.Err() != nil {
		return false
	}
	byField := map[string]json.RawMessage{}
	for _, field := range fields {
		v := schema.LookupPath(specField(field)).Unify(user.LookupPath(cue.MakePath(cue.Str(field))))
		if v.Validate(cue.Concrete(true)) != nil {
			return false
		}
		b, err := v.MarshalJSON()
		if err != nil {
			return false
		}
		byField[field] = b
	}
	split := map[string]map[string]json.RawMessage{}
	for _, i := range part {
		u := units[i]
		if u.name == "" {
			values[i] = byField[u.field]
			continue
		}
		m, ok := split[u.field]
		if !ok {
			if json.Unmarshal(byField[u.field], &m) != nil {
				return false
			}
			split[u.field] = m
		}
		if values[i], ok = m[u.name]; !ok {
			return false
		}
	}
	return true
}

// independent splits a file into units when each can be computed without
// anything else: no reference to a package-level name or to a sibling
// object, no pattern constraint over a whole collection, no definition,
// hidden field, let or comprehension at the top. ok is false otherwise.
func independent(p parsed) ([]unit, bool) {
	var units []unit
	seen := map[string]bool{}
	span := func(from, to ast.Node) ([]byte, int, bool) {
		a, b := from.Pos().Offset(), to.End().Offset()
		if !from.Pos().IsValid() || a < 0 || b > len(p.src) || a >= b {
			return nil, 0, false
		}
		return p.src[a:b], a, true
	}
	collections := map[*ast.StructLit]bool{}
	for _, d := range p.file.Decls {
		switch x := d.(type) {
		case *ast.Package, *ast.CommentGroup, *ast.Attribute:
		case *ast.Field:
			name, ok := regularLabel(x.Label)
			if !ok || !isTopLevel(name) || seen[name] || x.Constraint != token.ILLEGAL {
				return nil, false
			}
			seen[name] = true
			if !isKind(name) {
				b, off, ok := span(x, x.Value)
				if !ok {
					return nil, false
				}
				units = append(units, unit{field: name, src: b, off: off})
				continue
			}
			// A collection holds plain named objects: a pattern such as
			// [string]: {...} or an embedding would reach other files' objects.
			st, ok := x.Value.(*ast.StructLit)
			if !ok {
				return nil, false
			}
			collections[st] = true
			for _, e := range st.Elts {
				if _, comment := e.(*ast.CommentGroup); comment {
					continue
				}
				of, isField := e.(*ast.Field)
				if !isField {
					return nil, false
				}
				obj, regular := regularLabel(of.Label)
				if !regular || of.Constraint != token.ILLEGAL {
					return nil, false
				}
				b, off, ok := span(of, of.Value)
				if !ok {
					return nil, false
				}
				units = append(units, unit{field: name, name: obj, src: b, off: off})
			}
		default: // let, embedding, comprehension, import
			return nil, false
		}
	}
	// Every name used must be declared inside its object, or be one of
	// CUE's predeclared identifiers: a top-level name means the package's
	// value, which other files add to, and a sibling object is another unit.
	labels := map[*ast.Ident]bool{}
	ok := true
	ast.Walk(p.file, func(n ast.Node) bool {
		if !ok {
			return false
		}
		switch x := n.(type) {
		case *ast.Package:
			labels[x.Name] = true
		case *ast.Field:
			if id, isIdent := x.Label.(*ast.Ident); isIdent {
				labels[id] = true
			}
		case *ast.SelectorExpr:
			if id, isIdent := x.Sel.(*ast.Ident); isIdent {
				labels[id] = true
			}
		case *ast.Alias:
			labels[x.Ident] = true
		case *ast.Ident:
			if labels[x] {
				return true
			}
			switch sc := x.Scope.(type) {
			case *ast.File:
				ok = false
			case *ast.StructLit:
				if collections[sc] {
					ok = false
				}
			case nil:
				if x.Node == nil && !predeclared(x.Name) {
					ok = false
				}
			}
		}
		return true
	}, nil)
	return units, ok
}

// regularLabel is a field's name when it is a plain identifier or string.
func regularLabel(l ast.Label) (string, bool) {
	switch l.(type) {
	case *ast.Ident, *ast.BasicLit:
	default:
		return "", false
	}
	name, ok := labelName(l)
	if !ok || strings.HasPrefix(name, "#") || strings.HasPrefix(name, "_") {
		return "", false
	}
	return name, true
}

func predeclared(name string) bool {
	switch name {
	case "_", "string", "bytes", "bool", "int", "float", "number", "null", "error", "len", "close",
		"and", "or", "div", "mod", "quo", "rem", "self", "matchIf", "matchN", "rune",
		"int8", "int16", "int32", "int64", "int128", "uint", "uint8", "uint16", "uint32", "uint64", "uint128",
		"float32", "float64":
		return true
	}
	return strings.HasPrefix(name, "__")
}

// store is the compile cache's one file: reading one file beats reading
// thousands. Its encoding is plain — each entry's key, generation and value
// with their lengths — so reading it slices the values out of the file's
// bytes and writing it is one copy (gob took a tenth of a warm check).
type store struct {
	Gen     int // how many times it was written
	Entries map[string]entry
}

type entry struct {
	Value []byte
	Gen   int // when last used
}

func readStore(path string) *store {
	empty := &store{Entries: map[string]entry{}}
	b, err := os.ReadFile(path)
	if err != nil || !bytes.HasPrefix(b, []byte(cacheFormat+"\n")) {
		return empty
	}
	d := &varenc.Decoder{B: b[len(cacheFormat)+1:]}
	s := &store{Gen: d.Int(), Entries: map[string]entry{}}
	for len(d.B) > 0 && d.Err == nil {
		k, gen, v := d.Str(), d.Int(), d.Bytes()
		s.Entries[k] = entry{Value: v, Gen: gen}
	}
	if d.Err != nil {
		return empty // torn: start over
	}
	return s
}

func (s *store) save(path string, units []unit, values []json.RawMessage) {
	s.Gen++
	for i, u := range units {
		if e, ok := s.Entries[u.key]; ok { // a hit: its key is its source's, its value was checked when kept
			e.Gen = s.Gen
			s.Entries[u.key] = e
			continue
		}
		if v := string(values[i]); diag.Redact(v) != v {
			continue
		}
		s.Entries[u.key] = entry{Value: values[i], Gen: s.Gen}
	}
	if limit := 2 * len(units); len(s.Entries) > limit {
		var old []string
		for k, e := range s.Entries {
			if e.Gen < s.Gen {
				old = append(old, k)
			}
		}
		slices.SortFunc(old, func(a, b string) int { return s.Entries[b].Gen - s.Entries[a].Gen })
		for _, k := range old[min(len(old), max(0, limit-len(units))):] {
			delete(s.Entries, k)
		}
	}
	n := len(cacheFormat) + 1 + varenc.MaxOverhead
	for k, e := range s.Entries {
		n += len(k) + len(e.Value) + 3*varenc.MaxOverhead
	}
	e := &varenc.Encoder{B: make([]byte, 0, n)}
	e.B = append(e.B, cacheFormat+"\n"...)
	e.Int(s.Gen)
	for _, k := range slices.Sorted(maps.Keys(s.Entries)) {
		e.Str(k)
		e.Int(s.Entries[k].Gen)
		e.Bytes(s.Entries[k].Value)
	}
	_ = os.MkdirAll(filepath.Dir(path), 0o755) // a read-only repo simply runs uncached
	_ = atomicfile.Write(path, e.B, 0o644)
}

// countKey names a prompt's token count: the encoding (or the chat model,
// whose format adds tokens per message) and the text counted.
func countKey(salt string, p *Prompt) string {
	h := sha256.New()
	for _, s := range []string{cacheFormat, salt, p.Model.ID, p.Encoding} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	if len(p.Messages) > 0 {
		for _, m := range p.Messages {
			h.Write([]byte{1})
			h.Write([]byte(m.Role))
			h.Write([]byte{0})
			h.Write([]byte(m.Content))
		}
	} else {
		h.Write([]byte{2})
		h.Write([]byte(prompts.Canonical(p.Template)))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func readCounts(path string) map[string]int {
	m := map[string]int{}
	if f, err := os.Open(path); err == nil {
		defer f.Close()
		if gob.NewDecoder(bufio.NewReader(f)).Decode(&m) != nil {
			return map[string]int{}
		}
	}
	return m
}

// writeCounts keeps this run's counts only: a count is cheap to redo.
func writeCounts(path string, m map[string]int) {
	var buf bytes.Buffer
	if gob.NewEncoder(&buf).Encode(m) != nil {
		return
	}
	_ = os.MkdirAll(filepath.Dir(path), 0o755)
	_ = atomicfile.Write(path, buf.Bytes(), 0o644)
}
