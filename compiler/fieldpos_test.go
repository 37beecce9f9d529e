package compiler

import (
	"maps"
	"os"
	"path/filepath"
	"testing"
)

// FieldPositions answers as one map merged from the files' indexes in
// order, first writer kept, would: for object keys (routed to the files
// defining the object, names with dots included), for keys outside the
// objects (in several files), and for keys that no file wrote.
func TestFieldPositionsAgreeWithAMerge(t *testing.T) {
	files := map[string]string{
		"a.cue": `package x
project: {name: "p", owners: ["@o"]}
models: "fraud": {kind: "classic", owner: "@o"}
models: "a.b": {kind: "classic", owner: "@o"}
`,
		"b.cue": `package x
models: "a": {kind: "classic", owner: "@o", "b": {}}
prompts: "p.q.r": {owner: "@o", version: "1.0.0"}
project: description: "d"
`,
		"specs/c.cue": `package x
models: "z": {kind: "classic", owner: "@o", aliases: {prod: "1"}}
models: "fraud.x": {kind: "classic", owner: "@o"}
`,
	}
	root := t.TempDir()
	for rel, src := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(root, rel)), 0o755)
		os.WriteFile(filepath.Join(root, rel), []byte(src), 0o644)
	}
	r, err := newRepoFS(root)
	if err != nil {
		t.Fatal(err)
	}
	rels, _ := specFiles(root)
	ps, ds := parseFiles(r, rels, Options{})
	if len(ds) > 0 {
		t.Fatal(ds)
	}
	merged := map[string]Position{}
	for _, p := range ps {
		for k, v := range p.ix.pos {
			if _, ok := merged[k]; !ok {
				merged[k] = v
			}
		}
	}
	ix := repoIndex(ps)
	if len(merged) < 20 {
		t.Fatalf("only %d keys indexed", len(merged))
	}
	for k, want := range merged {
		if got, ok := ix.fields.Get(k); !ok || got != want {
			t.Errorf("%s: %v %v, merged %v", k, got, ok, want)
		}
	}
	for _, k := range []string{"models/ghost", "models/fraud.nope", "nope", "project.nope", "models/a.b.c"} {
		if got, ok := ix.fields.Get(k); ok {
			t.Errorf("%s: %v, not written anywhere", k, got)
		}
	}
	if !maps.Equal(ix.fields.All(), merged) {
		t.Error("All differs from the merge")
	}
	ix.fields.Set("evals/e.secret_findings[0]", Position{File: "d.csv", Line: 3})
	if got := ix.fields.At("evals/e.secret_findings[0]"); got.Line != 3 {
		t.Errorf("a set position: %v", got)
	}
}
