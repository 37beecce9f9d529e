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
	return Input{Bundle: b, State: v, Git: GitSource{RepoURL: "https://github.com/acme/" + name + ".git", Path: "rendered"}}
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

// Without the registry state the fraud example's aliases name unregistered
// versions: Render must refuse rather than write an empty storageUri.
func TestExampleWithoutStateIsAnError(t *testing.T) {
	in := exampleInput(t, "fraud-detection")
	in.State = View{}
	_, err := Render(in)
	if err == nil {
		t.Fatal("rendered without registered versions")
	}
	want := `specs/serving.cue:7:2: error render: deployment fraud-api: alias "prod" points at version "7" of models/fraud-detector, which is not registered (registered: none) [deployments/fraud-api.alias]`
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}
}
