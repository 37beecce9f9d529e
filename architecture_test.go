package cairn_test

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/cairn-dev/cairn/"

// layers is ARCHITECTURE.md's layering: a package may import packages of a
// lower layer, and packages of its own folder family (state/postgres →
// state, evals/distributed → evals), never one above it. The first prefix
// that matches a package's path names its layer.
var layers = []struct {
	prefix string
	layer  int
}{
	// Below the foundations: helpers they may share, importing no cairn package.
	{"internal/jsonpos", -1}, {"internal/gitfile", -1},
	// Foundations: import no other cairn package but their own family.
	{"internal/diag", 0}, {"internal/atomicfile", 0}, {"internal/varenc", 0}, {"internal/gctune", 0}, {"internal/jsondec", 0}, {"internal/md", 0}, {"internal/junit", 0}, {"internal/promql", 0}, {"internal/specgen", 0}, {"internal/chromiumtest", 0}, {"internal/tooltest", 0}, {"internal/promtest", 0},
	{"specs", 0}, {"signing", 0}, {"prices", 0}, {"tokens", 0}, {"limits", 0}, {"state", 0}, {"prompts", 0}, {"examples", 0},
	{"evals/evaltest", 0},
	// The compiler: specs to a Bundle.
	{"compiler", 1},
	// Stages over a Bundle.
	{"internal/diagfmt", 2}, {"policies", 2}, {"data", 2}, {"rag", 2}, {"targets", 2}, {"rollout", 2}, {"mlflow", 2},
	// Generated test data over the stages' types.
	{"internal/biglog", 3},
	{"evals/provider", 2}, {"evals/scorer", 2},
	{"evals", 3},
	// Planning and applying.
	{"reconciler", 4},
	// Reports over the state.
	{"audit", 5}, {"lineage", 5}, {"compare", 5}, {"operating", 5}, {"compliance", 5},
	// The one pipeline, and the GitHub client.
	{"pipeline", 5}, {"github", 5},
	// The reconcile loop.
	{"gitops", 6},
	// The CLI.
	{"cmd", 7},
}

func layerOf(path string) (int, string, bool) {
	rel := strings.TrimPrefix(path, module)
	for _, l := range layers {
		if rel == l.prefix || strings.HasPrefix(rel, l.prefix+"/") {
			return l.layer, l.prefix, true
		}
	}
	return 0, "", false
}

// family is a package's top-level folder.
func family(path string) string {
	rel := strings.TrimPrefix(path, module)
	f, _, _ := strings.Cut(rel, "/")
	return f
}

// TestLayering fails when a package imports one above it in the layering
// ARCHITECTURE.md documents (read from `go list -deps -json`), or when a
// package is in no layer.
func TestLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if p.ImportPath == strings.TrimSuffix(module, "/") {
			continue // this test's own package
		}
		from, _, ok := layerOf(p.ImportPath)
		if !ok {
			t.Errorf("%s is in no layer: add it to ARCHITECTURE.md and to this test", p.ImportPath)
			continue
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			to, _, ok := layerOf(imp)
			if !ok {
				continue // reported as its own package
			}
			if to > from || to == from && family(imp) != family(p.ImportPath) {
				t.Errorf("%s (layer %d) imports %s (layer %d): an arrow pointing up or sideways", p.ImportPath, from, imp, to)
			}
		}
	}
}
