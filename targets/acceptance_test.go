package targets

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/compiler"
	"gopkg.in/yaml.v3"
)

// acceptanceRepos are the spec repos QA wrote from DESIGN.md alone
// (testdata/acceptance): every one vet accepts must render once its versions
// are registered.
var acceptanceRepos = []string{"credit", "credit-render-errors", "forecast", "summariser", "prompt-targets"}

// acceptanceInput compiles a repo and registers every version its aliases,
// candidates and labels name, as training pipelines and apply would.
func acceptanceInput(t *testing.T, name string) Input {
	t.Helper()
	dir := filepath.Join("..", "testdata", "acceptance", name)
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("%s: %v", dir, err)
	}
	b, ds := compiler.Compile(dir, compiler.Options{})
	if len(ds) > 0 {
		t.Fatalf("%s: %v", name, ds)
	}
	v := View{Models: map[string]map[string]ModelVersion{}, Prompts: map[string]map[string]PromptVersion{}}
	for _, m := range b.Models {
		v.Models[m.Name] = map[string]ModelVersion{}
		for _, ver := range m.Aliases {
			v.Models[m.Name][ver] = ModelVersion{Version: ver, ArtifactURI: "s3://acceptance/" + m.Name + "/" + ver}
		}
	}
	for _, d := range b.Deployments {
		if m := b.Models[d.Model]; m != nil && d.Rollout.Candidate != "" {
			if _, isAlias := m.Aliases[d.Rollout.Candidate]; !isAlias {
				v.Models[m.Name][d.Rollout.Candidate] = ModelVersion{Version: d.Rollout.Candidate, ArtifactURI: "s3://acceptance/" + m.Name + "/" + d.Rollout.Candidate}
			}
		}
	}
	for _, p := range b.Prompts {
		v.Prompts[p.Name] = map[string]PromptVersion{}
		for _, ver := range p.Labels {
			v.Prompts[p.Name][ver] = PromptVersion{Version: ver, ContentHash: p.ContentHash, Template: p.Template, Messages: p.Messages, Inputs: p.Inputs, Model: p.Model}
		}
	}
	return Input{Bundle: b, State: servedAsDeclared(b, v), Git: GitSource{RepoURL: "https://github.com/acme/" + name + ".git"}}
}

func TestAcceptanceReposRender(t *testing.T) {
	wantNotes := map[string][]string{
		"credit-render-errors": {"specs/models.cue:50:2: warn render: deployment limit-predictor has no image"},
		"prompt-targets": {
			"specs/deploy.cue:24:2: warn render: deployment headline-batch has no image: rendered only ConfigMap news/prompts-headline",
			"specs/deploy.cue:31:2: warn render: deployment headline-api has no image: rendered only ConfigMap news/prompts-headline",
		},
	}
	for _, name := range acceptanceRepos {
		t.Run(name, func(t *testing.T) {
			res, err := RenderWithNotes(acceptanceInput(t, name))
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			if len(res.Notes) != len(wantNotes[name]) {
				t.Errorf("notes:\n%v\nwant %d", res.Notes, len(wantNotes[name]))
			}
			for i, w := range wantNotes[name] {
				if i < len(res.Notes) && !strings.HasPrefix(res.Notes[i].String(), w) {
					t.Errorf("note %d = %s\nwant prefix %s", i, res.Notes[i], w)
				}
			}
		})
	}
	// The QA's literal-range queries are recorded over the burn-rate windows.
	files := fileMap(mustRender(t, acceptanceInput(t, "credit-render-errors"), TargetPrometheus))
	var rf ruleFile
	if err := yaml.Unmarshal(files["prometheus/limit-availability.rules.yaml"], &rf); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range rf.Groups[0].Rules {
		w := r.Labels["cairn_window"]
		if !slices.Contains(sliWindows, w) {
			continue
		}
		n++
		if want := "(sum(rate(errors_total[" + w + "])))\n/\n(sum(rate(requests_total[" + w + "])))\n"; r.Expr != want {
			t.Errorf("window %s: expr %q, want %q", w, r.Expr, want)
		}
	}
	if n != len(sliWindows) {
		t.Errorf("%d windows recorded, want %d", n, len(sliWindows))
	}
	pt := fileMap(mustRender(t, acceptanceInput(t, "prompt-targets")))
	for _, p := range []string{"kserve/summariser-api.yaml", "kubernetes/news/summariser-batch.yaml", "kubernetes/news/prompts-article-summary.yaml", "kubernetes/news/prompts-headline.yaml"} {
		if pt[p] == nil {
			t.Errorf("prompt-targets: %s not rendered", p)
		}
	}
	for _, p := range []string{"kubernetes/news/headline-batch.yaml", "kubernetes/news/headline-api.yaml"} {
		if pt[p] != nil {
			t.Errorf("prompt-targets: %s rendered without an image", p)
		}
	}
}
