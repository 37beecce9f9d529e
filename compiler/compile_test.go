package compiler

import (
	"bytes"
	"encoding/json"
	"flag"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/internal/diag"
)

var update = flag.Bool("update", false, "rewrite golden files")

var exampleDirs = []string{"fraud-detection", "support-assistant"}

// TestGoldenBundles pins the canonical bundle of each example.
func TestGoldenBundles(t *testing.T) {
	for _, ex := range exampleDirs {
		t.Run(ex, func(t *testing.T) {
			b, ds := Compile(filepath.Join("..", "examples", ex), Options{})
			if len(ds) > 0 {
				t.Fatalf("example does not compile:\n%s", list(ds))
			}
			got, err := b.JSON()
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", ex+".bundle.json")
			if *update {
				if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./compiler -update)", err)
			}
			if !bytes.Equal(append(got, '\n'), want) {
				t.Errorf("bundle differs from %s; run go test ./compiler -update and review the diff", golden)
			}
		})
	}
}

func copyTree(t *testing.T, src, dst string, rename func(string) string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || strings.HasSuffix(p, ".go") {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		rel = filepath.ToSlash(rel)
		if rename != nil {
			rel = rename(rel)
		}
		out := filepath.Join(dst, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDeterminism: compiling twice gives identical bytes, and the bundle's
// identity does not depend on how the specs are split into files or where.
func TestDeterminism(t *testing.T) {
	for _, ex := range exampleDirs {
		src := filepath.Join("..", "examples", ex)
		b1, ds := Compile(src, Options{})
		if len(ds) > 0 {
			t.Fatal(list(ds))
		}
		b2, _ := Compile(src, Options{})
		j1, _ := b1.JSON()
		j2, _ := b2.JSON()
		if !bytes.Equal(j1, j2) {
			t.Fatalf("%s: two compilations differ", ex)
		}
		// Rename the spec files so they are listed (and read) in reverse order.
		dir := t.TempDir()
		copyTree(t, src, dir, func(rel string) string {
			if strings.HasPrefix(rel, "specs/") && strings.HasSuffix(rel, ".cue") {
				base := strings.TrimSuffix(strings.TrimPrefix(rel, "specs/"), ".cue")
				return "specs/" + string(rune('z'-len(base)%26)) + "-" + base + ".cue"
			}
			return rel
		})
		b3, ds := Compile(dir, Options{})
		if len(ds) > 0 {
			t.Fatal(list(ds))
		}
		if b3.Hash() != b1.Hash() {
			t.Errorf("%s: hash changed when files were renamed/reordered: %s vs %s", ex, b3.Hash(), b1.Hash())
		}
	}
}

func TestHashIgnoresPositionsOnly(t *testing.T) {
	dir := t.TempDir()
	copyTree(t, filepath.Join("..", "examples", "fraud-detection"), dir, nil)
	b1, _ := Compile(dir, Options{})
	p := filepath.Join(dir, "specs", "models.cue")
	src, _ := os.ReadFile(p)
	// Blank lines move every object: same meaning, same identity.
	os.WriteFile(p, append([]byte("\n\n\n"), bytes.Replace(src, []byte("package fraud\n"), []byte("package fraud\n\n// moved\n"), 1)...), 0o644)
	b2, ds := Compile(dir, Options{})
	if len(ds) > 0 {
		t.Fatal(list(ds))
	}
	if b1.Hash() != b2.Hash() || b1.Models["fraud-detector"].Pos == b2.Models["fraud-detector"].Pos {
		t.Fatalf("hash should ignore positions: %s %s", b1.Hash(), b2.Hash())
	}
	// A real change makes a new identity.
	os.WriteFile(p, bytes.Replace(src, []byte(`staging: "8"`), []byte(`staging: "9"`), 1), 0o644)
	b3, _ := Compile(dir, Options{})
	if b3.Hash() == b1.Hash() {
		t.Fatal("hash unchanged after an alias moved")
	}
}

// TestFileSafety covers what a txtar archive cannot hold: symlinks, invalid
// UTF-8 and very large files.
func TestFileSafety(t *testing.T) {
	base := func(t *testing.T) string {
		dir := t.TempDir()
		copyTree(t, filepath.Join("..", "examples", "support-assistant"), dir, nil)
		return dir
	}
	t.Run("symlink-escape", func(t *testing.T) {
		dir := base(t)
		outside := filepath.Join(t.TempDir(), "secret.tmpl")
		os.WriteFile(outside, []byte("{{ question }} {{ product }} {{ context }}"), 0o644)
		tmpl := filepath.Join(dir, "prompts", "support-answer.tmpl")
		os.Remove(tmpl)
		if err := os.Symlink(outside, tmpl); err != nil {
			t.Skip("symlinks not supported:", err)
		}
		_, ds := Compile(dir, Options{})
		checkDiags(t, ds, CodeEscape, "specs/prompts.cue:7:2")
	})
	t.Run("symlink-inside-ok", func(t *testing.T) {
		dir := base(t)
		tmpl := filepath.Join(dir, "prompts", "support-answer.tmpl")
		os.Rename(tmpl, filepath.Join(dir, "prompts", "real.tmpl"))
		if err := os.Symlink("real.tmpl", tmpl); err != nil {
			t.Skip(err)
		}
		if _, ds := Compile(dir, Options{}); len(ds) > 0 {
			t.Fatalf("a symlink inside the repo is fine:\n%s", list(ds))
		}
	})
	t.Run("spec-not-utf8", func(t *testing.T) {
		dir := base(t)
		os.WriteFile(filepath.Join(dir, "specs", "bad.cue"), []byte("package support\n\n// caf\xe9\n"), 0o644)
		_, ds := Compile(dir, Options{})
		checkDiags(t, ds, CodeNotUTF8, "specs/bad.cue:3:7")
	})
	t.Run("template-not-utf8", func(t *testing.T) {
		dir := base(t)
		os.WriteFile(filepath.Join(dir, "prompts", "support-answer.tmpl"), []byte("{{ question }} {{ product }} \xff"), 0o644)
		_, ds := Compile(dir, Options{})
		checkDiags(t, ds, CodeNotUTF8, "specs/prompts.cue:7:2")
	})
	t.Run("template-binary", func(t *testing.T) {
		dir := base(t)
		os.WriteFile(filepath.Join(dir, "prompts", "support-answer.tmpl"), []byte("\x00\x01\x02"), 0o644)
		_, ds := Compile(dir, Options{})
		checkDiags(t, ds, CodeBinary, "specs/prompts.cue:7:2")
	})
	t.Run("huge-spec", func(t *testing.T) {
		dir := base(t)
		big := bytes.Repeat([]byte("// padding padding padding padding padding padding padding\n"), maxSpecFile/50)
		os.WriteFile(filepath.Join(dir, "specs", "huge.cue"), append([]byte("package support\n"), big...), 0o644)
		_, ds := Compile(dir, Options{})
		checkDiags(t, ds, CodeFileTooLarge, "specs/huge.cue")
	})
	t.Run("not-a-dir", func(t *testing.T) {
		_, ds := Compile(filepath.Join(t.TempDir(), "nope"), Options{})
		if len(ds) != 1 || ds[0].Code != CodeNoRepo {
			t.Fatalf("got %v", ds)
		}
	})
}

func TestDerivedFacts(t *testing.T) {
	b, ds := Compile(filepath.Join("..", "examples", "support-assistant"), Options{})
	if len(ds) > 0 {
		t.Fatal(list(ds))
	}
	p := b.Prompts["support-answer"]
	if strings.Join(p.Variables, ",") != "context,product,question" {
		t.Errorf("variables = %v", p.Variables)
	}
	if p.TemplateTokens < 50 || p.TemplateTokens > 120 || p.Encoding != "o200k_base" {
		t.Errorf("tokens = %d (%s)", p.TemplateTokens, p.Encoding)
	}
	if !strings.HasPrefix(p.ContentHash, "sha256:") {
		t.Errorf("content hash %q", p.ContentHash)
	}
	want := []GateRef{
		{"prompts/support-answer", "prod", "support-quality"},
		{"prompts/support-answer", "prod", "support-safety"},
		{"prompts/support-answer", "staging", "support-quality"},
	}
	if len(b.Gating) != len(want) {
		t.Fatalf("gating = %v", b.Gating)
	}
	for i := range want {
		if b.Gating[i] != want[i] {
			t.Errorf("gating[%d] = %v, want %v", i, b.Gating[i], want[i])
		}
	}
	if got := b.Evals["support-quality"].Gates; strings.Join(got, ",") != "prompts/support-answer@prod,prompts/support-answer@staging" {
		t.Errorf("eval gates = %v", got)
	}
	if b.RAG["help-center"].Classification != "public" || len(b.RAG["help-center"].Sources[0].Files) != 4 {
		t.Errorf("rag = %+v", b.RAG["help-center"])
	}
	d := b.Deployments["support-bot"]
	if d.Version != "1.4.0" || d.Kind != "llm" || len(d.SLOs) != 1 || d.RAG[0] != "help-center" {
		t.Errorf("deployment facts = %+v", d)
	}
	if pos := b.Position("prompts/support-answer.labels.prod"); pos.String() != "specs/prompts.cue:12:3" {
		t.Errorf("field position = %s", pos)
	}

	f, _ := Compile(filepath.Join("..", "examples", "fraud-detection"), Options{})
	m := f.Models["fraud-detector"]
	if !m.Sensitive || strings.Join(m.PIIFeatures, ",") != "cardholder-country" {
		t.Errorf("model facts: sensitive=%v pii=%v", m.Sensitive, m.PIIFeatures)
	}
}

// FuzzCompile feeds arbitrary spec text through the whole compiler: whatever
// comes in, the result is diagnostics or a bundle, never a panic.
func FuzzCompile(f *testing.F) {
	seeds, _ := filepath.Glob("../examples/*/specs/*.cue")
	for _, s := range seeds {
		b, _ := os.ReadFile(s)
		f.Add(string(b))
	}
	f.Add("package x\nproject: {name: \"a\", owners: [\"@a\"]}\nmodels: m: {kind: \"llm\"}")
	f.Add("package x\n{{{")
	f.Add("models: \"\\u0000\": 1")
	f.Fuzz(func(t *testing.T, src string) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "cairn.cue"), []byte(src), 0o644)
		os.MkdirAll(filepath.Join(dir, "prompts"), 0o755)
		os.WriteFile(filepath.Join(dir, "prompts", "p.tmpl"), []byte("{{ q }}"), 0o644)
		b, ds := Compile(dir, Options{})
		if b == nil && len(ds) == 0 {
			t.Fatal("neither a bundle nor diagnostics")
		}
		for _, d := range ds {
			if d.Severity != diag.Error || d.Code == "" {
				t.Fatalf("bad diagnostic %+v", d)
			}
		}
	})
}

func TestProjection(t *testing.T) {
	b, ds := Compile(filepath.Join("..", "examples", "support-assistant"), Options{})
	if len(ds) > 0 {
		t.Fatal(list(ds))
	}
	p := b.Deployments["support-bot"].Projection
	// 20,000 requests a day × (1,200 in × $0.15 + 250 out × $0.60) per million tokens × 30 days.
	if p == nil || p.USDPerRequest != 0.00033 || p.USDPerMonth != 198 || p.PriceSource != "provider" {
		t.Fatalf("projection = %+v", p)
	}
}

// Users may factor their specs with CUE's own means: definitions, hidden
// fields, lets and comprehensions are not unknown fields.
func TestUserHelpers(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "cairn.cue"), []byte(`package x

#Team: "@acme/ml"
_base: {owner: #Team, entity: "txn", source: "db.t"}
let kinds = ["float", "int"]

project: {name: "x", owners: [#Team]}
features: {
	for i, k in kinds {
		"f-\(i)": _base & {dtype: k}
	}
}
`), 0o644)
	b, ds := Compile(dir, Options{})
	if len(ds) > 0 {
		t.Fatal(list(ds))
	}
	if len(b.Features) != 2 || b.Features["f-1"].DType != "int" || b.Features["f-0"].Owner != "@acme/ml" {
		t.Fatalf("features = %+v", b.Features)
	}
}

// TestFieldsAgreeWithMarshal: Bundle.Fields, joined, is json.Marshal's
// encoding of the bundle, byte for byte, with the optional fields absent and
// present.
func TestFieldsAgreeWithMarshal(t *testing.T) {
	var dirs []string
	for _, ex := range exampleDirs {
		dirs = append(dirs, filepath.Join("..", "examples", ex))
	}
	for _, a := range []string{"credit", "forecast", "summariser", "prompt-targets"} {
		dirs = append(dirs, filepath.Join("..", "testdata", "acceptance", a))
	}
	for _, dir := range dirs {
		b, ds := Compile(dir, Options{})
		if len(ds) > 0 {
			t.Fatalf("%s: %s", dir, list(ds))
		}
		variants := []*Bundle{b}
		c := *b
		c.Compliance, c.SecretFindings = nil, nil
		variants = append(variants, &c)
		d := *b
		d.SecretFindings = []SecretFinding{{File: "evals/x.jsonl", Line: 3, Col: 9, Kind: "an OpenAI API key"}}
		variants = append(variants, &d)
		// Values that lean on encoding/json's rules (Fields encodes with
		// goccy/go-json): floats at the edges of each format, HTML and line
		// separators, invalid UTF-8, map order, nil and empty.
		e := *b
		e.Project.Description = "<a href=\"x\">&amp;</a> \u2028\u2029 a\xffb \x00 é"
		e.Features = maps.Clone(b.Features)
		lo, hi := 1e-7, 1e21
		e.Features["zz-edge"] = &Feature{Name: "zz-edge", Owner: "<o>", UsedBy: []string{}, Quality: &Quality{Min: &lo, Max: &hi,
			Allowed: []any{1e-6, 1e-7, 1e20, 1e21, 123456789.0, -0.0, 5e-324, math.MaxFloat64, 0.1, 100.0, float32(0.1), -1.5e-10,
				"<a&b>", "\u2028", "a\xffb", map[string]any{"z": 1, "a": []any{nil, true}, "<": ">"}, nil, json.Number("12.50"), []any{}}}}
		variants = append(variants, &e)
		for _, v := range variants {
			want, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			names, values, err := v.Fields()
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			got.WriteByte('{')
			for i := range names {
				if i > 0 {
					got.WriteByte(',')
				}
				k, _ := json.Marshal(names[i])
				got.Write(k)
				got.WriteByte(':')
				got.Write(values[i])
			}
			got.WriteByte('}')
			if !bytes.Equal(got.Bytes(), want) {
				t.Fatalf("%s: Fields differs from json.Marshal", dir)
			}
		}
	}
}

// resolve answers from the directories it has resolved before (one lstat a
// file) exactly as it does cold: a symlink beside a checked file, or a
// directory symlink out of the repo, is still refused, in either order.
func TestResolveRemembersDirectories(t *testing.T) {
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "x.txt"), []byte("x"), 0o644)
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "d", "sub"), 0o755)
	os.WriteFile(filepath.Join(root, "d", "a.txt"), []byte("a"), 0o644)
	os.WriteFile(filepath.Join(root, "d", "sub", "b.txt"), []byte("b"), 0o644)
	if err := os.Symlink(filepath.Join(outside, "x.txt"), filepath.Join(root, "d", "out.txt")); err != nil {
		t.Skip("symlinks not supported:", err)
	}
	os.Symlink("a.txt", filepath.Join(root, "d", "in.txt"))
	os.Symlink("d", filepath.Join(root, "alias"))
	os.Symlink(outside, filepath.Join(root, "away"))
	want := map[string]string{ // rel → real path under root, or the refusal's code
		"d/a.txt": "d/a.txt", "d/out.txt": CodeEscape, "d/in.txt": "d/a.txt", "d/sub/b.txt": "d/sub/b.txt",
		"alias/a.txt": "d/a.txt", "alias/out.txt": CodeEscape, "alias/sub/b.txt": "d/sub/b.txt",
		"away/x.txt": CodeEscape, "d/none.txt": CodeFileMissing, "d/../d/a.txt": "d/a.txt", "d": "d",
	}
	rels := slices.Sorted(maps.Keys(want))
	orders := [][]string{rels, append(slices.Clone(rels), rels...)}
	rev := slices.Clone(rels)
	slices.Reverse(rev)
	orders = append(orders, append(rev, rev...))
	for _, order := range orders {
		r, err := newRepoFS(root)
		if err != nil {
			t.Fatal(err)
		}
		for _, rel := range order {
			real, err := r.resolve(rel)
			got := ""
			if err != nil {
				got = err.(*fileError).code
			} else if got, err = filepath.Rel(r.root, real); err != nil {
				t.Fatal(err)
			}
			if got != want[rel] {
				t.Errorf("%s: %s, want %s", rel, got, want[rel])
			}
		}
	}
}

// A bundle compiled with DeferCounts returns before its token counts are in
// and is, once they are, the bundle compiled without it: the same counts,
// the same hash (which eval runs are recorded under), and while the counts
// are under way its prompts can be read (go test -race holds that).
func TestDeferCounts(t *testing.T) {
	dir := filepath.Join("..", "examples", "support-assistant")
	want, ds := Compile(dir, Options{SkipProjection: true})
	if len(ds) > 0 {
		t.Fatal(list(ds))
	}
	got, ds := Compile(dir, Options{SkipProjection: true, DeferCounts: true})
	if len(ds) > 0 {
		t.Fatal(list(ds))
	}
	if got.pending == nil {
		t.Fatal("the counts were not deferred")
	}
	for _, p := range got.Prompts { // what eval reads while the counts go on
		_ = p.Template + p.Model.ID + strings.Join(p.Inputs, ",")
	}
	if h, w := got.Hash(), want.Hash(); h != w {
		t.Errorf("hash %s, without deferring %s", h, w)
	}
	for n, p := range want.Prompts {
		if p.TemplateTokens == 0 || got.Prompts[n].TemplateTokens != p.TemplateTokens {
			t.Errorf("%s: %d tokens, without deferring %d", n, got.Prompts[n].TemplateTokens, p.TemplateTokens)
		}
	}
	if ds := got.Settle(); len(ds) > 0 {
		t.Errorf("settle: %s", list(ds))
	}
	// With the projection asked for, nothing is deferred: it needs the counts.
	if b, _ := Compile(dir, Options{DeferCounts: true}); b.pending != nil {
		t.Error("counts deferred under a projection")
	}
}
