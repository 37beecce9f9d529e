package compiler

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"cuelang.org/go/cue/parser"

	"github.com/cairn-dev/cairn/internal/specgen"
	"github.com/cairn-dev/cairn/limits"
)

// TestCompileCacheAgrees: the per-file cached path gives the same bundle,
// byte for byte, as evaluating the repo as one — cold, warm, and after one
// file changes — and the diagnostics of a broken file are the same too.
func TestCompileCacheAgrees(t *testing.T) {
	repos := cacheTestRepos(t)
	gen := repos["generated"]
	for name, src := range repos {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			copyTree(t, src, dir, nil)
			want := bundleJSON(t, dir, Options{whole: true})
			cache := t.TempDir()
			opts := Options{CacheDir: cache, CacheSalt: "test"}
			if got := bundleJSON(t, dir, Options{}); !bytes.Equal(got, want) {
				t.Fatalf("bundle evaluated object by object differs from the package evaluated whole")
			}
			if got := bundleJSON(t, dir, opts); !bytes.Equal(got, want) {
				t.Fatalf("cold cached bundle differs from the uncached one")
			}
			if got := bundleJSON(t, dir, opts); !bytes.Equal(got, want) {
				t.Fatalf("warm cached bundle differs from the uncached one")
			}
			if name == "generated" && countEntries(t, cache) == 0 {
				t.Fatal("the generated repo's files are independent, but nothing was cached")
			}
		})
	}

	// One edit: only the edited object's entry is new, and the bundle follows it.
	dir := t.TempDir()
	copyTree(t, gen, dir, nil)
	cache := t.TempDir()
	opts := Options{CacheDir: cache, CacheSalt: "test"}
	bundleJSON(t, dir, opts)
	before := countEntries(t, cache)
	f := filepath.Join(dir, "specs", "features-000.cue")
	src, _ := os.ReadFile(f)
	edited := strings.Replace(string(src), `entity: "entity-0"`, `entity: "entity-edited"`, 1)
	if edited == string(src) {
		t.Fatal("the edit did not apply; the generator changed")
	}
	os.WriteFile(f, []byte(edited), 0o644)
	got := bundleJSON(t, dir, opts)
	if n := countEntries(t, cache); n != before+1 {
		t.Errorf("entries after one edit = %d, want %d (one new object value)", n, before+1)
	}
	if want := bundleJSON(t, dir, Options{whole: true}); !bytes.Equal(got, want) {
		t.Fatal("bundle after an edit differs from the uncached one")
	}
	if !strings.Contains(string(got), "entity-edited") {
		t.Fatal("the edit is not in the bundle")
	}
	// Another salt (another cairn build) does not read these entries.
	bundleJSON(t, dir, Options{CacheDir: cache, CacheSalt: "other build"})
	if n := countEntries(t, cache); n <= before+1 {
		t.Errorf("another build reused this build's entries (%d entries)", n)
	}

	// A schema error in a file: the same diagnostics with and without the cache.
	os.WriteFile(f, []byte(strings.Replace(edited, `dtype: "float"`, `dtype: "decimal"`, 1)), 0o644)
	_, plain := Compile(dir, Options{whole: true})
	_, cached := Compile(dir, opts)
	if len(plain) == 0 || list(plain) != list(cached) {
		t.Fatalf("diagnostics differ:\nuncached:\n%s\ncached:\n%s", list(plain), list(cached))
	}
}

// TestIndependentFiles: which files may be evaluated alone.
func TestIndependentFiles(t *testing.T) {
	for _, tc := range []struct {
		src  string
		want bool
	}{
		{`models: m: {owner: "@a", task: "binary_classification"}`, true},
		{`project: {name: "x", owners: ["@a"]}` + "\n" + `features: f: {owner: "@a", dtype: string}`, true},
		{`models: m: {a: 1, b: a + 1}`, true},                       // a sibling inside the object
		{`models: m: {owner: _team}`, false},                        // a hidden field of another file
		{`models: m: {owner: project.owners[0]}`, false},            // the package's project
		{`models: [string]: {owner: "@a"}`, false},                  // a pattern over every file's models
		{`_team: "@a"` + "\n" + `models: m: {owner: _team}`, false}, // a hidden field others could add to
		{`let t = "@a"` + "\n" + `models: m: {owner: t}`, false},
		{`models: {for i in [1] {"m\(i)": {}}}`, false},
		{`#M: {owner: string}`, false},
		{`models: m: {x: len("ab")}`, true},
		{`models: {a: {x: 1}, b: {y: a.x}}`, false}, // a sibling object
		{`models: m?: {x: 1}`, false},
	} {
		src := "package x\n" + tc.src
		f, err := parser.ParseFile("t.cue", src)
		if err != nil {
			t.Fatal(err)
		}
		if _, got := independent(parsed{rel: "t.cue", file: f, src: []byte(src)}); got != tc.want {
			t.Errorf("independent(%q) = %v, want %v", tc.src, got, tc.want)
		}
	}
}

func bundleJSON(t *testing.T, dir string, opts Options) []byte {
	t.Helper()
	b, ds := Compile(dir, opts)
	if len(ds) > 0 {
		t.Fatalf("compile: %s", list(ds))
	}
	js, err := b.JSON()
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func countEntries(t *testing.T, cache string) int {
	t.Helper()
	return len(readStore(filepath.Join(cache, "compile.bin")).Entries)
}

// TestUnitKey: every input of a unit's value is in its key.
func TestUnitKey(t *testing.T) {
	u := unit{field: "models", name: "m", src: []byte(`"m": {owner: "@a"}`)}
	base := unitKey("cairn 1", "#Spec: {}", &u)
	for name, k := range map[string]string{
		"another build":  unitKey("cairn 2", "#Spec: {}", &u),
		"another schema": unitKey("cairn 1", "#Spec: {x: int}", &u),
		"another object": unitKey("cairn 1", "#Spec: {}", &unit{field: "models", name: "n", src: u.src}),
		"another kind":   unitKey("cairn 1", "#Spec: {}", &unit{field: "features", name: "m", src: u.src}),
		"other bytes":    unitKey("cairn 1", "#Spec: {}", &unit{field: "models", name: "m", src: []byte(`"m": {owner: "@b"}`)}),
	} {
		if k == base {
			t.Errorf("%s: same key", name)
		}
	}
	if unitKey("cairn 1", "#Spec: {}", &u) != base {
		t.Error("the key is not a function of its inputs")
	}
}

// TestCacheKeepsNoSecret: an object holding what looks like a credential is
// compiled as usual but never written to the cache.
func TestCacheKeepsNoSecret(t *testing.T) {
	dir := t.TempDir()
	if err := specgen.Write(dir, specgen.Small); err != nil {
		t.Fatal(err)
	}
	key := "sk-proj-" + strings.Repeat("A1b2C3d4", 5)
	f := filepath.Join(dir, "specs", "features-000.cue")
	src, _ := os.ReadFile(f)
	edited := strings.Replace(string(src), `source: "warehouse.t0"`, `source: "`+key+`"`, 1)
	if edited == string(src) {
		t.Fatal("the edit did not apply; the generator changed")
	}
	os.WriteFile(f, []byte(edited), 0o644)
	cache := t.TempDir()
	b, ds := Compile(dir, Options{CacheDir: cache, CacheSalt: "test"})
	if len(ds) > 0 {
		t.Fatal(list(ds))
	}
	if b.Features["f-0000"].Source != key {
		t.Fatalf("the object was not compiled: %+v", b.Features["f-0000"])
	}
	raw, err := os.ReadFile(filepath.Join(cache, "compile.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), key) || countEntries(t, cache) == 0 {
		t.Fatalf("the credential is in the cache (or nothing was cached: %d entries)", countEntries(t, cache))
	}
}

// TestParseCacheAgrees: a file's digest from the parse cache — positions,
// top-level labels, objects and their bytes, package — is the one parsing
// it gives, on every example and generated repo, cold and warm, after one
// file changes and when the cache file is torn; and the bundle's field
// positions are the same with and without the cache.
func TestParseCacheAgrees(t *testing.T) {
	repos := cacheTestRepos(t)
	gen := repos["generated"]
	digests := func(t *testing.T, dir string, opts Options) []parsed {
		t.Helper()
		r, err := newRepoFS(dir)
		if err != nil {
			t.Fatal(err)
		}
		rels, err := specFiles(r.root)
		if err != nil {
			t.Fatal(err)
		}
		files, ds := parseFiles(r, rels, opts)
		if len(ds) > 0 {
			t.Fatal(list(ds))
		}
		return files
	}
	same := func(t *testing.T, what string, got, want []parsed) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d files, want %d", what, len(got), len(want))
		}
		for i := range want {
			g, w := got[i], want[i]
			if g.rel != w.rel || g.pkg != w.pkg || g.pkgPos != w.pkgPos || g.indep != w.indep ||
				!maps.Equal(g.ix.pos, w.ix.pos) || !slices.Equal(g.ix.top, w.ix.top) ||
				!maps.EqualFunc(g.ix.defined, w.ix.defined, slices.Equal) || len(g.units) != len(w.units) {
				t.Fatalf("%s: %s's digest differs from a fresh parse's", what, w.rel)
			}
			for j := range w.units {
				gu, wu := g.units[j], w.units[j]
				if gu.field != wu.field || gu.name != wu.name || gu.off != wu.off || !bytes.Equal(gu.src, wu.src) {
					t.Fatalf("%s: %s's object %s/%s differs from a fresh parse's", what, w.rel, wu.field, wu.name)
				}
			}
		}
	}
	for name, src := range repos {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			copyTree(t, src, dir, nil)
			cache := t.TempDir()
			opts := Options{CacheDir: cache, CacheSalt: "test"}
			want := digests(t, dir, Options{})
			same(t, "cold", digests(t, dir, opts), want)
			same(t, "warm", digests(t, dir, opts), want)
			b, ds := Compile(dir, opts)
			pb, pds := Compile(dir, Options{})
			if len(ds) > 0 || len(pds) > 0 {
				t.Fatal(list(ds), list(pds))
			}
			if !maps.Equal(b.FieldPos.All(), pb.FieldPos.All()) {
				t.Fatal("field positions differ with the parse cache")
			}
		})
	}
	// One file changes: its digest is fresh, the others come from the cache.
	dir := t.TempDir()
	copyTree(t, gen, dir, nil)
	cache := t.TempDir()
	opts := Options{CacheDir: cache, CacheSalt: "test"}
	digests(t, dir, opts)
	f := filepath.Join(dir, "specs", "features-000.cue")
	src, _ := os.ReadFile(f)
	os.WriteFile(f, append([]byte("// a line above moves every position\n"), src...), 0o644)
	same(t, "after an edit", digests(t, dir, opts), digests(t, dir, Options{}))
	// A torn cache file is read as empty.
	p := filepath.Join(cache, "parse.bin")
	b, _ := os.ReadFile(p)
	for _, n := range []int{len(b) / 2, len(parseCacheFormat) + 10, 3} {
		os.WriteFile(p, b[:n], 0o644)
		same(t, fmt.Sprintf("torn at %d", n), digests(t, dir, opts), digests(t, dir, Options{}))
	}
}

// TestCompileStoreTorn: a compile cache file cut short, or holding other
// bytes, is read as empty (or as the entries before the cut) and the bundle
// is the same.
func TestCompileStoreTorn(t *testing.T) {
	gen := t.TempDir()
	if err := specgen.Write(gen, specgen.Small); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	opts := Options{CacheDir: cache, CacheSalt: "test"}
	want := bundleJSON(t, gen, opts)
	p := filepath.Join(cache, "compile.bin")
	b, _ := os.ReadFile(p)
	full := len(readStore(p).Entries)
	if full == 0 {
		t.Fatal("nothing cached")
	}
	for _, n := range []int{len(b) - 1, len(b) / 2, len(cacheFormat) + 3, 5} {
		os.WriteFile(p, b[:n], 0o644)
		if got := len(readStore(p).Entries); got >= full {
			t.Errorf("cut at %d: %d entries read of %d", n, got, full)
		}
		if got := bundleJSON(t, gen, opts); !bytes.Equal(got, want) {
			t.Fatalf("cut at %d: the bundle differs", n)
		}
		os.WriteFile(p, b, 0o644)
	}
	os.WriteFile(p, []byte("not a cache"), 0o644)
	if got := bundleJSON(t, gen, opts); !bytes.Equal(got, want) {
		t.Fatal("a foreign file: the bundle differs")
	}
}

// TestSmallRepoCached: a repo of two objects and many fields no file writes
// (their defaults are cached beside the objects) compiles cold and warm to
// the uncached bundle.
func TestSmallRepoCached(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "cairn.cue"), []byte(`package x

project: {name: "small", owners: ["@acme/ml"]}
features: f: {owner: "@acme/ml", dtype: "float", entity: "customer", source: "warehouse.customers"}
`), 0o644)
	want := bundleJSON(t, dir, Options{whole: true})
	opts := Options{CacheDir: t.TempDir(), CacheSalt: "test"}
	for _, run := range []string{"cold", "warm", "again"} {
		if got := bundleJSON(t, dir, opts); !bytes.Equal(got, want) {
			t.Fatalf("%s: the cached bundle differs", run)
		}
	}
}

// cacheTestRepos are the repos the caches are checked on: a small generated
// one ("generated"), the examples and the acceptance repos.
func cacheTestRepos(t *testing.T) map[string]string {
	t.Helper()
	gen := t.TempDir()
	if err := specgen.Write(gen, specgen.Small); err != nil {
		t.Fatal(err)
	}
	repos := map[string]string{"generated": gen}
	for _, ex := range exampleDirs {
		repos[ex] = filepath.Join("..", "examples", ex)
	}
	for _, a := range []string{"credit", "forecast", "summariser", "prompt-targets"} {
		repos[a] = filepath.Join("..", "testdata", "acceptance", a)
	}
	return repos
}

// TestCacheReadersTakeGarbage: random bytes where a cache file or entry
// should be read as nothing (or as a few entries), never as a panic.
func TestCacheReadersTakeGarbage(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	dir := t.TempDir()
	src := []byte("package x\nmodels: m: {owner: \"@a\"}\n")
	// A digest of one object whose length is the largest varint: read as an
	// int it is negative.
	huge := []byte{0, 0, 0, 0, 0, 0, 1, 0, 0, 0}
	huge = binary.AppendUvarint(huge, math.MaxUint64)
	if _, err := decodeDigest(huge, "x.cue", src); err == nil {
		t.Fatal("a digest with an impossible length decoded")
	}
	for i := range 2000 {
		b := make([]byte, rng.IntN(200))
		for j := range b {
			b[j] = byte(rng.IntN(256))
		}
		if i%2 == 0 { // past the format line, where the entries are
			b = append([]byte(parseCacheFormat+"\n"), b...)
		}
		decodeDigest(b, "x.cue", src)
		p := filepath.Join(dir, "f")
		os.WriteFile(p, b, 0o644)
		readParseStore(p)
		os.WriteFile(p, append([]byte(cacheFormat+"\n"), b...), 0o644)
		readStore(p)
		os.WriteFile(filepath.Join(dir, "datasets.gob"), b, 0o644)
		readDatasetCache(dir, "")
	}
}

// decodeSpec (goccy/go-json) decodes what encoding/json does: the
// schema-checked spec of every test repo, and documents that lean on
// encoding/json's rules (field names matched without case, a repeated key's
// last value, null, escapes, a number where an int goes).
func TestDecodeSpecAgrees(t *testing.T) {
	docs := map[string][]byte{
		"case":     []byte(`{"models": {"m": {"OWNER": "@a", "Kind": "classic"}}}`),
		"repeated": []byte(`{"models": {"m": {"owner": "@a", "owner": "@b"}, "m": {"owner": "@c"}}}`),
		"nulls":    []byte(`{"models": null, "prompts": {"p": {"inputs": null, "owner": null}}, "project": {"owners": null}}`),
		"escapes":  []byte(`{"project": {"name": "a\u00e9\ud83d\ude00\"\\\/\n", "owners": ["\u0040x"]}}`),
		"numbers":  []byte(`{"prompts": {"p": {"model": {"max_tokens": 64, "temperature": 1e-2}}}}`),
		"badint":   []byte(`{"prompts": {"p": {"model": {"max_tokens": 6.5}}}}`),
		"badtype":  []byte(`{"models": {"m": {"owner": 3}}}`),
		"unknown":  []byte(`{"nope": {"x": [1, {"y": null}]}, "models": {"m": {"nope": 1}}}`),
	}
	for name, dir := range cacheTestRepos(t) {
		r, err := newRepoFS(dir)
		if err != nil {
			t.Fatal(err)
		}
		rels, _ := specFiles(r.root)
		files, ds := parseFiles(r, rels, Options{})
		if len(ds) > 0 {
			t.Fatal(name, ds)
		}
		js, ds := evaluate(r, rels, files, repoIndex(files))
		if len(ds) > 0 {
			t.Fatal(name, ds)
		}
		docs[name] = js
	}
	for name, js := range docs {
		var want, got Bundle
		werr := json.Unmarshal(js, &want)
		gerr := decodeSpec(js, &got)
		if (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()) {
			t.Errorf("%s: encoding/json %v, decodeSpec %v", name, werr, gerr)
			continue
		}
		if werr == nil && !reflect.DeepEqual(want, got) {
			w, _ := json.Marshal(want)
			g, _ := json.Marshal(got)
			t.Errorf("%s: decoded differently:\n%s\n%s", name, w, g)
		}
	}
}

// The dataset cache replays a scan exactly: after every change that alters
// what an eval's dataset check finds — the file's rows (bad JSON, a repeated
// id, a missing var, a credential), the vars its prompt needs, whether the
// prompt's context comes from RAG, the row limit — a check with the cache,
// cold and warm, says what a check without it says.
func TestDatasetCacheAgrees(t *testing.T) {
	dir := t.TempDir()
	copyTree(t, filepath.Join("..", "examples", "support-assistant"), dir, nil)
	cache := t.TempDir()
	opts := Options{CacheDir: cache, CacheSalt: "test"}
	outcome := func(o Options) string {
		b, ds := Compile(dir, o)
		if len(ds) > 0 {
			return list(ds)
		}
		js, err := b.JSON()
		if err != nil {
			t.Fatal(err)
		}
		return string(js)
	}
	edit := func(rel, old, new string) {
		p := filepath.Join(dir, rel)
		src, _ := os.ReadFile(p)
		if !strings.Contains(string(src), old) {
			t.Fatalf("%s holds no %q", rel, old)
		}
		os.WriteFile(p, []byte(strings.Replace(string(src), old, new, 1)), 0o644)
	}
	quality := "evals/support-quality.jsonl"
	steps := []struct {
		name   string
		change func()
		fails  bool
	}{
		{"as written", func() {}, false},
		{"bad rows", func() {
			f, _ := os.OpenFile(filepath.Join(dir, quality), os.O_APPEND|os.O_WRONLY, 0)
			fmt.Fprintf(f, "{\"id\": \"q-refund-window\", \"vars\": {\"question\": \"q\", \"product\": \"p\"}}\n{\"id\": \"no-product\", \"vars\": {\"question\": \"q\"}}\n{\"id\": \n")
			f.Close()
		}, true},
		{"rows fixed, a key in one", func() {
			src, _ := os.ReadFile(filepath.Join(dir, quality))
			lines := strings.Split(strings.TrimSpace(string(src)), "\n")
			lines = append(lines[:len(lines)-3], `{"id": "leak", "vars": {"question": "my key is sk-`+strings.Repeat("a1B2", 10)+`", "product": "p"}}`)
			os.WriteFile(filepath.Join(dir, quality), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
		}, false},
		{"the prompt needs another var", func() {
			edit("specs/prompts.cue", `inputs: ["question", "product"]`, `inputs: ["question", "product", "tier"]`)
			edit("prompts/support-answer.tmpl", "{{ question }}", "{{ question }} {{ tier }}")
		}, true},
		{"and its context from the dataset", func() {
			edit("specs/prompts.cue", `inputs: ["question", "product", "tier"]`, `inputs: ["question", "product", "context"]`)
			edit("prompts/support-answer.tmpl", "{{ tier }}", "")
			edit("specs/prompts.cue", `rag: "help-center"`+"\n", "\n")
		}, true},
		{"its context from RAG again", func() {
			edit("specs/prompts.cue", "\tlabels: {", "\trag: \"help-center\"\n\tlabels: {")
		}, false},
		{"the row limit", func() { limits.Set(limits.Limits{Rows: 3}) }, true},
	}
	defer limits.Set(limits.Limits{})
	for _, s := range steps {
		s.change()
		want := outcome(Options{})
		if strings.HasPrefix(want, "{") == s.fails {
			t.Fatalf("%s: fails %v, want %v:\n%.400s", s.name, !s.fails, s.fails, want)
		}
		for _, run := range []string{"cold", "warm"} {
			if got := outcome(opts); got != want {
				t.Errorf("%s, %s cache:\n%.2000s\nwithout the cache:\n%.2000s", s.name, run, got, want)
			}
		}
		if n := len(readDatasetCache(cache, "test").known); s.name == "as written" && n != 2 {
			t.Errorf("%d dataset scans kept, want the two evals'", n)
		}
	}
}

// writeKey quotes a name exactly as json.Marshal does, escapes and all.
func TestWriteKeyAgrees(t *testing.T) {
	for _, k := range []string{"", "m-0001", "fraud.detector_v2", `a"b`, `a\b`, "<script>", "a&b", "tab\there", "ünïcode", "line\u2028sep", "bad\xffutf8", "emoji 😀"} {
		var b bytes.Buffer
		writeKey(&b, k)
		want, _ := json.Marshal(k)
		if b.String() != string(want) {
			t.Errorf("writeKey(%q) = %s, json.Marshal %s", k, b.String(), want)
		}
	}
}

// TestSchemaChangeInvalidates: a warm cache under one schema, then another
// schema (a default changed) with the same build: the cached compile gives
// what the new schema gives uncached, not what the old one gave.
func TestSchemaChangeInvalidates(t *testing.T) {
	dir := t.TempDir()
	copyTree(t, cacheTestRepos(t)["generated"], dir, nil)
	cache := t.TempDir()
	opts := Options{CacheDir: cache, CacheSalt: "test"}
	before := bundleJSON(t, dir, opts)
	bundleJSON(t, dir, opts) // warm

	old := schemaText
	defer func() { schemaText = old }()
	changed := strings.Replace(old(), "max_waiver_days:   int & >=1 & <=3650 | *90", "max_waiver_days:   int & >=1 & <=3650 | *45", 1)
	if changed == old() {
		t.Fatal("the schema edit did not apply; the schema changed")
	}
	schemaText = func() string { return changed }
	want := bundleJSON(t, dir, Options{whole: true})
	if bytes.Equal(want, before) {
		t.Fatal("the schema edit changes nothing in the bundle; the test edits the wrong default")
	}
	if got := bundleJSON(t, dir, opts); !bytes.Equal(got, want) {
		t.Fatal("after a schema change, the warm cache gave the old schema's bundle")
	}
}
