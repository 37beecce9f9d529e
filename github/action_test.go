package github

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestActionYAML checks the composite action at the repository root: the
// rules GitHub enforces when it loads the action (every run step names its
// shell) and that every ${{ inputs.x }} it uses is declared.
// (actionlint v1.7.12 also passes on it; see the report.)
func TestActionYAML(t *testing.T) {
	data, err := os.ReadFile("../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var a struct {
		Name   string
		Inputs map[string]struct {
			Description string
			Default     *string
		}
		Runs struct {
			Using string
			Steps []map[string]any
		}
	}
	if err := yaml.Unmarshal(data, &a); err != nil {
		t.Fatal(err)
	}
	if a.Name == "" || a.Runs.Using != "composite" || len(a.Runs.Steps) == 0 {
		t.Fatalf("not a composite action: %+v", a)
	}
	for i, s := range a.Runs.Steps {
		_, run := s["run"]
		_, uses := s["uses"]
		if run == uses {
			t.Errorf("step %d: needs exactly one of run and uses", i+1)
		}
		if run && s["shell"] == nil {
			t.Errorf("step %d (%v): a composite run step must name its shell", i+1, s["name"])
		}
	}
	for in, spec := range a.Inputs {
		if spec.Description == "" {
			t.Errorf("input %s has no description", in)
		}
	}
	for _, m := range regexp.MustCompile(`inputs\.([a-z0-9-]+)`).FindAllStringSubmatch(string(data), -1) {
		if _, ok := a.Inputs[m[1]]; !ok {
			t.Errorf("uses undeclared input %q", m[1])
		}
	}
	for _, want := range []string{"go install \"github.com/cairn-dev/cairn/cmd/cairn@${ref}\"", "cairn check --format github", "cairn pr"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("action does not run %q", want)
		}
	}
}
