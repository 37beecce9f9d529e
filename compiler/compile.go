// Package compiler turns a spec repo into a Bundle: it loads the CUE files,
// unifies them with the embedded schema, resolves every reference, reads the
// referenced files safely and derives the facts policies and plans need.
package compiler

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"runtime/trace"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/errors"

	"github.com/cairn-dev/cairn/internal/diag"
	"github.com/cairn-dev/cairn/internal/jsondec"
	"github.com/cairn-dev/cairn/specs"
	"github.com/cairn-dev/cairn/tokens"
)

// Options tune a compilation.
type Options struct {
	// SkipProjection leaves deployments' cost projections out (for callers
	// that only need the structure).
	SkipProjection bool
	// DeferCounts, with SkipProjection, returns the bundle before its
	// templates' token counts are in (loading the BPE tables is a quarter
	// of a second on a cold cache): they are counted meanwhile, and the
	// bundle's JSON, hash and fields wait for them; Settle reports how the
	// counting went. cairn eval needs no count until it records the run.
	DeferCounts bool
	// CacheDir, when set, keeps each spec file's schema-checked value by
	// the hash of its bytes (see cache.go); CacheSalt names the build that
	// wrote it, so another cairn never reads this one's entries.
	CacheDir, CacheSalt string

	whole  bool            // evaluate the repo as one package (the reference the unit path is tested against)
	writes *sync.WaitGroup // the cache files being written, while the compilation goes on
}

// background runs a cache write beside the rest of the compilation
// (Compile waits for it before it returns).
func (o Options) background(f func()) {
	if o.writes == nil {
		f()
		return
	}
	o.writes.Go(f)
}

// Compile compiles the spec repo at dir. A non-empty list means the spec is
// invalid (every entry has severity error) and the bundle is nil.
func Compile(dir string, opts Options) (*Bundle, diag.List) {
	var writes sync.WaitGroup
	defer writes.Wait()
	opts.writes = &writes
	b, ds := compile(dir, opts)
	// Messages quote users' values; a credential pasted into a spec is never
	// printed back, and a huge value is cut to a prefix with its length.
	for i := range ds {
		ds[i].Message = diag.Shorten(diag.Redact(ds[i].Message))
	}
	return b, ds
}

func compile(dir string, opts Options) (*Bundle, diag.List) {
	c, ds := load(dir, opts)
	if len(ds) > 0 {
		ds.Sort()
		return nil, ds
	}
	reg := trace.StartRegion(context.Background(), "compile.resolve")
	b, ds := c.resolve(opts)
	reg.End()
	if len(ds) == 0 && !opts.SkipProjection {
		defer trace.StartRegion(context.Background(), "compile.projections").End()
		r := &resolver{c: c, b: b}
		r.projections()
		ds = r.ds
	}
	if len(ds) > 0 {
		ds.Sort()
		return nil, ds
	}
	return b, nil
}

// warmObjects is the most objects a repo may have for the BPE tables to be
// loaded beside its evaluation.
const warmObjects = 8000

// compilation carries one run's state from loading to resolution.
type compilation struct {
	fs  *repoFS
	ix  *posIndex
	doc Bundle // the schema-checked spec, decoded; resolve completes it
}

func errAt(code string, pos diag.Position, format string, args ...any) diag.Diagnostic {
	return diag.Diagnostic{Severity: diag.Error, Code: code, Message: fmt.Sprintf(format, args...), Pos: pos}
}

func load(dir string, opts Options) (*compilation, diag.List) {
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return nil, diag.List{errAt(CodeNoRepo, diag.Position{}, "spec repo %q is not a directory", dir)}
	}
	r, err := newRepoFS(dir)
	if err != nil {
		return nil, diag.List{errAt(CodeNoRepo, diag.Position{}, "spec repo %q: %v", dir, err)}
	}
	rels, err := specFiles(r.root)
	if err != nil {
		return nil, diag.List{errAt(CodeUnreadable, diag.Position{}, "listing spec files in %q: %v", dir, stripRoot(err.Error(), r.root))}
	}
	if len(rels) == 0 {
		return nil, diag.List{errAt(CodeEmptyRepo, diag.Position{}, "no .cue files in %q (spec files live at the repo root and under specs/; 'cairn init' writes an example)", dir)}
	}
	reg := trace.StartRegion(context.Background(), "compile.parse")
	files, ds := parseFiles(r, rels, opts)
	reg.End()
	if len(ds) > 0 {
		return nil, ds
	}
	ix := repoIndex(files)
	for i := range files {
		files[i].ix = nil
	}
	// Counting waits for the BPE tables (16 ms and 4.7 MB for o200k_base
	// since tokens packs them; tiktoken-go's took 0.15 s and 22 MB): load
	// them now, beside the schema evaluation, when prompts will be counted
	// and no count is cached. Not in a repo so large that its evaluation
	// outlasts the load anyway.
	if _, ok := ix.fields.Get("prompts"); ok && len(ix.defined) <= warmObjects && (opts.CacheDir == "" || !fileExists(filepath.Join(opts.CacheDir, "tokens.gob"))) {
		go tokens.Warm(tokens.O200k)
	}
	// The same object in two files is almost always a copy-paste mistake that
	// CUE would silently merge.
	for _, obj := range slices.Sorted(maps.Keys(ix.defined)) {
		where := ix.defined[obj]
		if len(where) > 1 {
			var others []string
			for _, w := range where[1:] {
				others = append(others, w.String())
			}
			ds = append(ds, diag.Diagnostic{Severity: diag.Error, Code: CodeDuplicate, Object: obj,
				Message: fmt.Sprintf("%s is defined in more than one file (also at %s); define each object in one file", obj, strings.Join(others, ", ")),
				Pos:     where[0]})
		}
	}
	if len(ds) > 0 {
		return nil, ds
	}

	// Top-level fields are checked here, from the syntax; the schema is then
	// applied per top-level field, in two groups evaluated in parallel.
	reported := map[string]bool{}
	for _, t := range ix.top {
		// Definitions (#x), hidden fields (_x) and lets are the user's own helpers.
		if isTopLevel(t.name) || strings.HasPrefix(t.name, "#") || strings.HasPrefix(t.name, "_") || reported[t.name] {
			continue
		}
		reported[t.name] = true
		ds = append(ds, diag.Diagnostic{Severity: diag.Error, Code: CodeUnknownField, Path: t.name, Pos: t.pos,
			Message: fmt.Sprintf("unknown field %q%s", t.name, suggestField([]string{t.name}))})
	}
	if _, ok := ix.fields.Get("project"); !ok {
		ds = append(ds, errAt(CodeMissing, diag.Position{File: files[0].rel, Line: 1, Col: 1},
			"missing required field \"project\" (project: {name: ..., owners: [...]})"))
	}
	if len(ds) > 0 {
		return nil, ds
	}
	reg = trace.StartRegion(context.Background(), "compile.evaluate")
	var names []string
	var fields [][]byte
	ok := false
	if !opts.whole {
		names, fields, ok = evaluateCached(files, opts)
	}
	var js []byte
	if !ok {
		js, ds = evaluate(r, rels, files, ix)
	}
	if len(ds) > 0 {
		return nil, ds
	}
	reg.End()
	defer trace.StartRegion(context.Background(), "compile.decode").End()
	c := &compilation{fs: r, ix: ix}
	if ok {
		// One document, decoded by one json.Unmarshal: decoding the fields
		// side by side measured no faster (the other core compiles the
		// policies meanwhile) and held 10 MiB more.
		var doc bytes.Buffer
		size := 2
		for i := range names {
			size += len(names[i]) + len(fields[i]) + 4
		}
		doc.Grow(size)
		doc.WriteByte('{')
		for i := range names {
			writeMember(&doc, i, names[i], fields[i])
		}
		doc.WriteByte('}')
		js = doc.Bytes()
	}
	if err := decodeSpec(js, &c.doc); err != nil {
		return nil, diag.List{errAt(CodeInternal, diag.Position{}, "decoding the validated spec: %v", err)}
	}
	return c, nil
}

// decodeSpec decodes the schema-checked spec: internal/jsondec takes 12 ms
// where encoding/json took 49 ms for the large repo (the longest step of a
// check after an edit); TestDecodeSpecAgrees holds the two equal.
func decodeSpec(js []byte, doc *Bundle) error {
	return jsondec.Unmarshal(js, doc)
}

var (
	reIncomplete  = regexp.MustCompile(`^incomplete value`)
	reNotAllowed  = regexp.MustCompile(`field not allowed`)
	reConflict    = regexp.MustCompile(`conflicting values (.*) and (.*) \(mismatched types (\w+) and (\w+)\)`)
	reEmptyDisj   = regexp.MustCompile(`^\d+ errors in empty disjunction`)
	reConflictLit = regexp.MustCompile(`^conflicting values ("[^"]*"|[-0-9.]+|true|false) and ("[^"]*"|[-0-9.]+|true|false)$`)
	reInvalidVal  = regexp.MustCompile(`^invalid value (.*) \(out of bound (.*)\)`)
	reNoMatch     = regexp.MustCompile(`^invalid value (.*) \(does not match (.*)\)`)
)

// groups splits the top-level fields into two halves of similar cost; each is
// unified with its part of #Spec in its own CUE context, on its own core.
var groups = [][]string{
	{"prompts", "governance", "compliance"},
	{"project", "providers", "features", "models", "rag", "evals", "slos", "deployments"},
}

func isTopLevel(k string) bool {
	for _, g := range groups {
		for _, f := range g {
			if f == k {
				return true
			}
		}
	}
	return false
}

// evaluate unifies the user's value with the schema and returns it as JSON,
// defaults filled in. CUE contexts are not safe for concurrent use and
// building mutates the syntax, so the second group parses its own copy.
func evaluate(r *repoFS, rels []string, files []parsed, ix *posIndex) ([]byte, diag.List) {
	type result struct {
		parts map[string]json.RawMessage
		ds    diag.List
	}
	results := make([]result, len(groups))
	var wg sync.WaitGroup
	for gi, group := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := &results[gi]
			res.parts = map[string]json.RawMessage{}
			// Building mutates the syntax: one group builds what
			// parseFiles kept (parsing again what it let go), the other
			// parses its own copy.
			fs := files
			if gi > 0 || slices.ContainsFunc(files, func(p parsed) bool { return p.file == nil }) {
				var pds diag.List
				fs = slices.Clone(files)
				for i := range fs {
					if gi == 0 && fs[i].file != nil {
						continue
					}
					if fs[i], pds = parseFile(r, fs[i].rel); len(pds) > 0 {
						res.ds = pds
						return
					}
				}
			}
			ctx := cuecontext.New()
			inst := build.NewContext().NewInstance(r.root, nil)
			for _, f := range fs {
				if err := inst.AddSyntax(f.file); err != nil {
					res.ds = cueDiags(err, CodeEval, ix)
					return
				}
			}
			user := ctx.BuildInstance(inst)
			if err := user.Err(); err != nil {
				res.ds = cueDiags(err, CodeEval, ix)
				return
			}
			schema := ctx.CompileString(schemaText(), cue.Filename(specs.SchemaFile))
			if err := schema.Err(); err != nil {
				res.ds = diag.List{errAt(CodeInternal, diag.Position{}, "embedded schema: %v", err)}
				return
			}
			for _, field := range group {
				def := schema.LookupPath(specField(field))
				v := def
				uv := user.LookupPath(cue.MakePath(cue.Str(field)))
				if !uv.Exists() && optionalTop[field] {
					continue // an optional block the specs do not write
				}
				if uv.Exists() {
					v = def.Unify(uv)
				}
				// Exporting fails on any error or incomplete value, so a
				// valid spec is walked once; only a failed export is
				// validated, for every error at its position.
				js, err := v.MarshalJSON()
				if err != nil {
					if verr := v.Validate(cue.Concrete(true)); verr != nil {
						err = verr
					}
					res.ds = append(res.ds, cueDiags(err, CodeSchema, ix)...)
					continue
				}
				res.parts[field] = js
			}
		}()
	}
	wg.Wait()
	all := map[string]json.RawMessage{}
	var ds diag.List
	seen := map[string]bool{}
	for _, res := range results {
		for _, d := range res.ds {
			if k := d.String(); !seen[k] { // a user-value error is found by both groups
				seen[k] = true
				ds = append(ds, d)
			}
		}
		for k, v := range res.parts {
			all[k] = v
		}
	}
	if len(ds) > 0 {
		return nil, ds
	}
	js, err := json.Marshal(all)
	if err != nil {
		return nil, diag.List{errAt(CodeInternal, diag.Position{}, "encoding the validated spec: %v", err)}
	}
	return js, nil
}

// cueDiags turns CUE errors into diagnostics at the user's own position,
// never at cairn's schema.
func cueDiags(err error, code string, ix *posIndex) diag.List {
	var ds diag.List
	seen := map[string]bool{}
	errs := errors.Errors(err)
	for i := 0; i < len(errs); i++ {
		e := errs[i]
		format, args := e.Msg()
		msg := fmt.Sprintf(format, args...)
		path := cleanPath(e.Path())
		c := code
		pos := userPos(e, ix, path)
		switch {
		case reEmptyDisj.MatchString(msg):
			// The branches follow with the same path: one message for all of them.
			var alts []string
			got := ""
			j := i + 1
			allLiterals := true
			var first string
			for ; j < len(errs) && strings.Join(errs[j].Path(), ".") == strings.Join(e.Path(), "."); j++ {
				f, a := errs[j].Msg()
				m := fmt.Sprintf(f, a...)
				if first == "" {
					first = m
					pos = userPos(errs[j], ix, path)
				}
				if cm := reConflictLit.FindStringSubmatch(m); cm != nil {
					alts = append(alts, cm[1])
					got = cm[2]
				} else {
					allLiterals = false
				}
			}
			i = j - 1
			if allLiterals && len(alts) > 0 {
				sort.Strings(alts)
				msg = fmt.Sprintf("value %s is not allowed: must be one of %s", got, strings.Join(alts, ", "))
			} else if first != "" {
				msg = "matches none of the allowed forms; the first says: " + first
			}
		case reIncomplete.MatchString(msg) && len(path) > 0:
			c = CodeMissing
			msg = fmt.Sprintf("missing required field %q", path[len(path)-1])
			// The missing field is not written anywhere: point at its parent.
			pos = ix.lookup(path[:len(path)-1])
		case reNotAllowed.MatchString(msg) && len(path) == 2 && isKind(path[0]):
			// Under a kind every label is a name; one the pattern rejects is a bad name, not a stray field.
			msg = fmt.Sprintf("name %q is not allowed: names are lower-case letters, digits and '-', starting with a letter or digit, at most 63 characters", path[1])
		case reNotAllowed.MatchString(msg) && len(path) > 0:
			c = CodeUnknownField
			msg = fmt.Sprintf("unknown field %q%s", path[len(path)-1], suggestField(path))
		default:
			if m := reInvalidVal.FindStringSubmatch(msg); m != nil && reBoundPattern.MatchString(strings.TrimSpace(m[2])) {
				msg = fmt.Sprintf("value %s is not %s", m[1], spokenBound(m[2]))
			} else if m != nil {
				msg = fmt.Sprintf("value %s is out of bounds: must be %s", m[1], m[2])
			} else if m := reNoMatch.FindStringSubmatch(msg); m != nil {
				msg = fmt.Sprintf("value %s is not %s", m[1], spokenBound(m[2]))
			} else if m := reConflictLit.FindStringSubmatch(msg); m != nil {
				msg = fmt.Sprintf("two different values for one field: %s and %s", m[1], m[2])
				if others := otherUserPositions(e, pos); len(others) > 0 {
					msg += " (the other is set at " + strings.Join(others, ", ") + ")"
				}
			} else if m := reConflict.FindStringSubmatch(msg); m != nil {
				got, gotType, want := m[2], m[4], m[3]
				if looksLikeSchema(m[2]) && !looksLikeSchema(m[1]) {
					got, gotType, want = m[1], m[3], m[4]
				}
				msg = fmt.Sprintf("wrong type: %s is %s, expected %s", got, article(gotType), article(want))
			} else if others := otherUserPositions(e, pos); len(others) > 0 {
				msg += " (also set at " + strings.Join(others, ", ") + ")"
			}
		}
		if len(path) > 0 && path[len(path)-1] == "api_key_env" && diag.LooksSecret(msg) {
			msg = "api_key_env names the environment variable that holds the key (e.g. \"OPENAI_API_KEY\"); this value looks like a key itself. " +
				"Remove it from the spec, rotate it, and put it in the environment"
		}
		d := diag.Diagnostic{Severity: diag.Error, Code: c, Message: msg, Pos: pos}
		d.Object, d.Path = objectPath(path)
		key := d.Pos.String() + d.Code + d.Message + d.Object + d.Path
		if seen[key] {
			continue
		}
		seen[key] = true
		ds = append(ds, d)
	}
	if len(ds) == 0 {
		ds = append(ds, errAt(code, diag.Position{}, "%v", err))
	}
	return ds
}

// article puts "a" or "an" before a CUE kind name.
func article(kind string) string {
	if kind != "" && strings.ContainsRune("aeiou", rune(kind[0])) {
		return "an " + kind
	}
	return "a " + kind
}

// looksLikeSchema tells a schema constraint from a user's literal in CUE's
// "conflicting values A and B" (the order varies).
func looksLikeSchema(s string) bool {
	return strings.ContainsAny(s, "#|") || strings.Contains(s, "...") || strings.Contains(s, "=~") ||
		strings.HasPrefix(s, ">") || strings.HasPrefix(s, "<") ||
		s == "string" || s == "int" || s == "number" || s == "bool" || s == "float"
}

// otherUserPositions lists the further places in users' files an error names
// (a value set differently in two files).
func otherUserPositions(e errors.Error, first diag.Position) []string {
	var out []string
	for _, p := range errors.Positions(e) {
		if p.IsValid() && p.Filename() != specs.SchemaFile {
			if q := posOf(p); q != first {
				out = append(out, q.String())
			}
		}
	}
	return out
}

// cleanPath drops the schema's root and unquotes labels like "fraud-detector".
func cleanPath(p []string) []string {
	if len(p) > 0 && p[0] == "#Spec" {
		p = p[1:]
	}
	out := make([]string, len(p))
	for i, s := range p {
		if u, err := strconv.Unquote(s); err == nil {
			s = u
		}
		out[i] = s
	}
	return out
}

// userPos picks the error position that lies in a user's file; CUE reports
// both the schema's constraint and the user's value.
func userPos(e errors.Error, ix *posIndex, path []string) diag.Position {
	for _, p := range errors.Positions(e) {
		if p.IsValid() && p.Filename() != specs.SchemaFile {
			return posOf(p)
		}
	}
	return ix.lookup(path)
}

// objectPath splits a CUE path into "kind/name" and the field path inside it.
func objectPath(path []string) (object, field string) {
	if len(path) >= 2 && isKind(path[0]) {
		return path[0] + "/" + path[1], strings.Join(path[2:], ".")
	}
	if len(path) >= 1 && (path[0] == "project" || path[0] == "governance") {
		return path[0], strings.Join(path[1:], ".")
	}
	return "", strings.Join(path, ".")
}

// fieldsOf lists the schema's field names per context, for "did you mean".
var knownFields = map[string][]string{
	"":            {"project", "providers", "features", "models", "prompts", "rag", "evals", "slos", "deployments", "governance"},
	"models":      {"kind", "owner", "description", "domain", "risk", "deprecated", "task", "framework", "features", "training", "explainability", "monitoring", "provider", "model_id", "aliases", "gates"},
	"prompts":     {"owner", "description", "version", "template", "template_file", "messages", "inputs", "model", "rag", "labels", "gates"},
	"features":    {"owner", "entity", "source", "dtype", "description", "transformation", "freshness", "pii", "quality"},
	"deployments": {"model", "prompt", "description", "target", "namespace", "alias", "exposure", "image", "rollout", "autoscaling", "resources", "traffic", "schedule"},
	"evals":       {"description", "target", "dataset", "metrics", "repeats", "min_passes"},
	"slos":        {"deployment", "description", "objective", "window", "sli", "budget"},
	"rag":         {"owner", "description", "sources", "chunking", "embedding", "retrieval"},
	"providers":   {"kind", "base_url", "api_key_env", "api_version", "rate_limit", "timeout_seconds", "max_concurrency", "prices"},
}

func suggestField(path []string) string {
	var ctx string
	switch {
	case len(path) == 1:
		ctx = ""
	case len(path) == 3 && isKind(path[0]):
		ctx = path[0]
	default:
		return ""
	}
	if s := closest(path[len(path)-1], knownFields[ctx]); s != "" {
		return fmt.Sprintf("; did you mean %q?", s)
	}
	return ""
}

// closest returns the candidate nearest to s by edit distance, if near enough.
func closest(s string, cands []string) string {
	best, bestD := "", 1<<30
	for _, c := range cands {
		d := levenshtein(s, c)
		if d < bestD {
			best, bestD = c, d
		}
	}
	if bestD <= max(1, len(s)/3) && bestD < len(s) {
		return best
	}
	return ""
}

// levenshtein is the optimal-string-alignment distance: insertions,
// deletions, substitutions and adjacent transpositions ("taks") cost 1.
func levenshtein(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// spokenForms say in words what the schema's patterns require, so a message
// never shows a raw regular expression.
var spokenForms = map[string]string{
	`^[a-z0-9][a-z0-9-]{0,62}$`:                                               "a name: lower-case letters, digits and '-', starting with a letter or digit, at most 63 characters",
	`^[@A-Za-z0-9][A-Za-z0-9@._/+:-]*$`:                                       "an owner such as \"@acme/team\" or \"team:ml\" (letters, digits and @ . _ / + : -, no spaces)",
	`^([0-9]+(ms|s|m|h|d|w))+$`:                                               "a duration such as \"30s\", \"15m\", \"24h\" or \"7d\"",
	`^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$`: "a semantic version such as \"1.4.0\" (no leading \"v\")",
	`^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9:.]+(Z|[+-][0-9]{2}:[0-9]{2}))?$`:       "a date such as \"2026-12-31\" (or an RFC 3339 time)",
	`^[A-Z_][A-Z0-9_]*$`:                                                      "an environment variable name such as \"OPENAI_API_KEY\" (upper-case letters, digits and _)",
	`^https?://`:                                                              "an http:// or https:// URL",
	`^\\s*(>=|<=|>|<|==)\\s*-?[0-9]+(\\.[0-9]+)?\\s*$`:                        "a bound such as \">= 0.92\" or \"< 0.05\"",
	`^[A-Za-z_][A-Za-z0-9_]*$`:                                                "an input name: letters, digits and _, not starting with a digit",
	`^[A-E]$`:                                                                 "a factuality category, one of A, B, C, D or E",
}

var reBoundPattern = regexp.MustCompile(`^=~"(.*)"$`)

// spokenBound turns a schema bound into words: a known pattern by its
// meaning, an unknown one as "of the required form", anything else as is.
func spokenBound(b string) string {
	m := reBoundPattern.FindStringSubmatch(strings.TrimSpace(b))
	if m == nil {
		return b
	}
	if s, ok := spokenForms[m[1]]; ok {
		return s
	}
	return "of the form the schema requires (see 'cairn schema')"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
