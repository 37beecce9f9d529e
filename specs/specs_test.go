package specs

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"cuelang.org/go/cue/cuecontext"
	"github.com/cairn-dev/cairn/internal/tooltest"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// exampleJSON exports an example spec repo (root *.cue and specs/*.cue, one
// package; concatenated without their package clauses, as the repo has no
// imports) as the JSON a YAML or JSON spec tool would hold.
func exampleJSON(t *testing.T, dir string, edit func(string) string) []byte {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.cue"))
	more, _ := filepath.Glob(filepath.Join(dir, "specs", "*.cue"))
	var src strings.Builder
	for _, f := range append(files, more...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(edit(string(b)), "\n") {
			if !strings.HasPrefix(line, "package ") {
				src.WriteString(line + "\n")
			}
		}
	}
	v := cuecontext.New().CompileString(src.String())
	j, err := v.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// The JSON Schema accepts both examples and refuses a misspelt field, an
// out-of-range number and a bad name.
func TestJSONSchema(t *testing.T) {
	js, err := JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("spec.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("spec.json")
	if err != nil {
		t.Fatalf("the generated JSON Schema does not compile: %v", err)
	}
	for _, c := range []struct {
		dir   string
		edit  func(string) string
		valid bool
	}{
		{"../examples/fraud-detection", func(s string) string { return s }, true},
		{"../examples/support-assistant", func(s string) string { return s }, true},
		{"../examples/fraud-detection", func(s string) string { return strings.Replace(s, "project: {", "project: {\n\towner: \"typo\"", 1) }, false},
		{"../examples/support-assistant", func(s string) string { return strings.Replace(s, `name:   "support-assistant"`, `name: "Bad Name"`, 1) }, false},
	} {
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(exampleJSON(t, c.dir, c.edit)))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(inst); (err == nil) != c.valid {
			t.Errorf("%s (valid=%v): %v", c.dir, c.valid, err)
		}
	}
}

// cue vet with the schema as a file of the repo's package accepts the
// examples and refuses a misspelt nested field (the CLI cue, installed by
// `make tools` at go.mod's version).
func TestCueVet(t *testing.T) {
	cue := tooltest.Find(t, "make tools: go install cuelang.org/go/cmd/cue at go.mod's version", "cue")
	for _, c := range []struct {
		example, pkg, bad string
	}{
		{"fraud-detection", "fraud", ""},
		{"support-assistant", "support", ""},
		{"fraud-detection", "fraud", "project: {\n\tbogus: 1"},
	} {
		dir := t.TempDir()
		if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "examples", c.example))); err != nil {
			t.Fatal(err)
		}
		if c.bad != "" {
			b, _ := os.ReadFile(filepath.Join(dir, "cairn.cue"))
			os.WriteFile(filepath.Join(dir, "cairn.cue"), []byte(strings.Replace(string(b), "project: {", c.bad, 1)), 0o644)
		}
		src, err := ForPackage(c.pkg)
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(dir, ".cairn", "schema"), 0o755)
		os.WriteFile(filepath.Join(dir, ".cairn", "schema", "schema.cue"), []byte(src), 0o644)
		files, _ := filepath.Glob(filepath.Join(dir, "*.cue"))
		more, _ := filepath.Glob(filepath.Join(dir, "specs", "*.cue"))
		args := append([]string{"vet", "-c", filepath.Join(dir, ".cairn", "schema", "schema.cue")}, append(files, more...)...)
		out, err := exec.Command(cue, args...).CombinedOutput()
		if (err == nil) != (c.bad == "") {
			t.Errorf("%s bad=%q: cue vet: %v\n%s", c.example, c.bad, err, out)
		}
		if c.bad != "" && !strings.Contains(string(out), "project.bogus: field not allowed") {
			t.Errorf("cue vet says %s", out)
		}
	}
	if _, err := ForPackage("not a name"); err == nil {
		t.Error("ForPackage accepts a package that is not an identifier")
	}
}
