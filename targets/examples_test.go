package targets

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/compiler"
)

var examples = []string{"fraud-detection", "support-assistant"}

// exampleInput compiles an example and loads its registry state fixture.
func exampleInput(t *testing.T, name string) Input {
	t.Helper()
	dir := filepath.Join("..", "examples", name)
	b, ds := compiler.Compile(dir, compiler.Options{})
	if len(ds) > 0 {
		t.Fatalf("%s: %v", name, ds)
	}
	var v View
	data, err := os.ReadFile(filepath.Join("..", "testdata", "targets", name+".view.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s.view.json: %v", name, err)
	}
	return Input{Bundle: b, State: servedAsDeclared(b, v), Git: GitSource{RepoURL: "https://github.com/acme/" + name + ".git", Path: "rendered"}}
}

func renderExamples(t *testing.T) map[string][]File {
	t.Helper()
	out := map[string][]File{}
	for _, name := range examples {
		out[name] = mustRender(t, exampleInput(t, name))
	}
	return out
}

func TestGoldenExamples(t *testing.T) {
	for name, files := range renderExamples(t) {
		t.Run(name, func(t *testing.T) { checkGolden(t, name, files) })
	}
}

// With an empty state nothing has passed its gates: the fraud example's
// model deployment is left out with a note naming the alias, never rendered
// at the version the specs wish for (nor with an empty storageUri).
func TestExampleWithoutStateLeavesServedOut(t *testing.T) {
	in := exampleInput(t, "fraud-detection")
	in.State = View{}
	res, err := RenderWithNotes(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Files {
		if strings.HasPrefix(f.Path, "kserve/") || strings.Contains(string(f.Content), "storageUri") {
			t.Errorf("rendered %s before any version passed its gates", f.Path)
		}
	}
	want := `deployment fraud-api left out: models/fraud-detector alias "prod" has no version that passed its gates in the state`
	if !strings.Contains(res.Notes.Error(), want) {
		t.Errorf("notes:\n%s\nwant:\n%s", res.Notes.Error(), want)
	}
}
