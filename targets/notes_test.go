package targets

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/internal/diag"
)

// A deployment without an image renders what cairn knows without one and
// says what it left out; nothing fails.
func TestRenderWithoutImage(t *testing.T) {
	cases := []struct {
		name       string
		deployment string
		present    []string // files still rendered
		absent     []string // files left out
		note       []string // the note says
	}{
		{"kubernetes prompt", "support",
			[]string{"kubernetes/support/prompts-answer.yaml"}, []string{"kubernetes/support/support.yaml"},
			[]string{"deployment support has no image", "ConfigMap support/prompts-answer", "Deployment, Service and HPA"}},
		{"kubernetes classic model", "churn-svc",
			nil, []string{"kubernetes/growth/churn-svc.yaml"},
			[]string{"deployment churn-svc has no image", "models/churn", `target "kserve"`}},
		{"batch model", "churn-nightly",
			nil, []string{"kubernetes/growth/churn-nightly.yaml"},
			[]string{"deployment churn-nightly has no image", "CronJob"}},
		{"batch prompt", "answer-digest",
			[]string{"kubernetes/support/prompts-answer.yaml", "kubernetes/support/support.yaml"}, []string{"kubernetes/support/answer-digest.yaml"},
			[]string{"deployment answer-digest has no image", "ConfigMap support/prompts-answer", "CronJob"}},
		{"kserve prompt", "answer-kserve",
			[]string{"kubernetes/support/prompts-answer.yaml"}, []string{"kserve/answer-kserve.yaml"},
			[]string{"deployment answer-kserve has no image", "InferenceService"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := fixtureInput()
			d := in.Bundle.Deployments[c.deployment]
			d.Image = ""
			res, err := RenderWithNotes(in)
			if err != nil {
				t.Fatalf("RenderWithNotes: %v", err)
			}
			files := fileMap(res.Files)
			for _, p := range c.present {
				if files[p] == nil {
					t.Errorf("%s is not rendered", p)
				}
			}
			for _, p := range c.absent {
				if files[p] != nil {
					t.Errorf("%s is rendered without an image:\n%s", p, files[p])
				}
			}
			if len(res.Notes) != 1 {
				t.Fatalf("notes = %v, want one", res.Notes)
			}
			n := res.Notes[0]
			if n.Severity != diag.Warn || n.Object != "deployments/"+c.deployment || n.Path != "image" || n.Pos != d.Pos {
				t.Errorf("note = %+v", n)
			}
			for _, w := range c.note {
				if !strings.Contains(n.Message, w) {
					t.Errorf("note %q lacks %q", n.Message, w)
				}
			}
			// Render gives the same files, without the notes.
			plain, err := Render(in)
			if err != nil || !reflect.DeepEqual(plain, res.Files) {
				t.Errorf("Render differs from RenderWithNotes: %v", err)
			}
		})
	}
	res, err := RenderWithNotes(fixtureInput())
	if err != nil || len(res.Notes) != 0 {
		t.Errorf("the fixture gives notes %v (err %v)", res.Notes, err)
	}
}

// A batch job of a hosted LLM calls the provider: no registry artifact.
func TestBatchLLMModel(t *testing.T) {
	in := fixtureInput()
	in.Bundle.Models["writer"] = &compiler.Model{Name: "writer", Kind: "llm", Provider: "openai", ModelID: "gpt-4o-mini",
		Aliases: map[string]string{"prod": "2"}}
	in.Bundle.Deployments["writer-nightly"] = &compiler.Deployment{Name: "writer-nightly", Model: "writer", Target: "batch",
		Namespace: "content", Alias: "prod", Image: "ghcr.io/acme/writer:1", Schedule: "0 1 * * *"}
	in.State = servedAsDeclared(in.Bundle, in.State)
	docs := decodeDocs(t, "writer", fileMap(mustRender(t, in, TargetKubernetes))["kubernetes/content/writer-nightly.yaml"])
	if len(docs) != 1 || docs[0]["kind"] != "CronJob" {
		t.Fatalf("docs = %v", docs)
	}
	env := yamlString(t, dig(docs[0], "spec", "jobTemplate", "spec", "template", "spec", "containers"))
	for _, w := range []string{"CAIRN_MODEL_ID\n      value: gpt-4o-mini", "CAIRN_PROVIDER\n      value: openai", "CAIRN_MODEL_VERSION\n      value: \"2\""} {
		if !strings.Contains(env, w) {
			t.Errorf("container lacks %q:\n%s", w, env)
		}
	}
}

func TestPromptOnKServeAndBatch(t *testing.T) {
	files := fileMap(mustRender(t, fixtureInput()))
	isvc := decodeDocs(t, "kserve", files["kserve/answer-kserve.yaml"])
	if len(isvc) != 1 {
		t.Fatalf("answer-kserve: %d documents", len(isvc))
	}
	pred := dig(isvc[0], "spec", "predictor")
	if dig(pred, "canaryTrafficPercent") != 10 || dig(isvc[0], "metadata", "annotations", "cairn.dev/stable-version") != "1.3.0" {
		t.Errorf("canary predictor = %v", pred)
	}
	c := dig(pred, "containers").([]any)[0]
	if dig(c, "name") != "kserve-container" || !strings.Contains(yamlString(t, dig(c, "env")), "CAIRN_PROMPT_LABEL\n  value: canary") {
		t.Errorf("container = %v", c)
	}
	if dig(pred, "volumes").([]any)[0].(map[string]any)["configMap"].(map[string]any)["name"] != "prompts-answer" {
		t.Errorf("volumes = %v", dig(pred, "volumes"))
	}
	// Shadow: a second InferenceService serving the candidate label.
	in := fixtureInput()
	in.Bundle.Deployments["answer-kserve"].Rollout = compiler.Rollout{Strategy: "shadow", Candidate: "canary"}
	sh := decodeDocs(t, "shadow", fileMap(mustRender(t, in, TargetKServe))["kserve/answer-kserve.yaml"])
	if len(sh) != 2 || dig(sh[1], "metadata", "name") != "answer-kserve-shadow" || dig(sh[0], "spec", "predictor", "canaryTrafficPercent") != nil {
		t.Errorf("shadow = %v", sh)
	}

	cron := decodeDocs(t, "batch", files["kubernetes/support/answer-digest.yaml"])[0]
	pod := dig(cron, "spec", "jobTemplate", "spec", "template", "spec")
	if dig(pod, "volumes").([]any)[0].(map[string]any)["configMap"].(map[string]any)["name"] != "prompts-answer" {
		t.Errorf("cron pod = %v", pod)
	}
	// One ConfigMap per prompt and namespace, however many deployments serve it.
	n := 0
	for p := range files {
		if strings.HasSuffix(p, "/prompts-answer.yaml") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d prompts-answer ConfigMaps", n)
	}
}

func TestOwned(t *testing.T) {
	for p, want := range map[string]bool{
		"kserve/stray.yaml":                               true,
		"kubernetes/risk/x.yaml":                          true,
		"prometheus/x.rules.yaml":                         true,
		"terraform/main.tf":                               true,
		"terraform/.terraform.lock.hcl":                   false,
		"feast/features.py":                               true,
		"feast/data/registry.db":                          false,
		"great_expectations/expectations/models/a.json":   true,
		"README.md":                                       false,
		"kserve/notes.md":                                 false,
		"kubernetes/x.yaml":                               false,
		"argocd/application.yaml":                         true,
		"github-actions/cairn.yaml":                       true,
		"great_expectations/uncommitted/validations.json": false,
	} {
		if got := Owned(p); got != want {
			t.Errorf("Owned(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestDiffAndWrite(t *testing.T) {
	files := mustRender(t, fixtureInput())
	dir := t.TempDir()
	write := func(p, s string) {
		t.Helper()
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A missing tree: every file is missing.
	ch, err := Diff(filepath.Join(dir, "nope"), files)
	if err != nil || len(ch) != len(files) || ch[0].Status != "missing" {
		t.Fatalf("missing tree: %d changes, err %v", len(ch), err)
	}
	ch, _ = Diff(dir, files)
	if err := Write(dir, files, ch); err != nil {
		t.Fatal(err)
	}
	if ch, err := Diff(dir, files); err != nil || len(ch) != 0 {
		t.Fatalf("after Write: %v, %v", ch, err)
	}

	write("kserve/stray.yaml", "apiVersion: v1\nkind: ConfigMap\n")                                                        // foreign, owned place
	write("kserve/old.yaml", header("#", "sha256:0")+"kind: InferenceService\n")                                           // cairn's, stale
	write("README.md", "# rendered\n")                                                                                     // hand-written, elsewhere
	write("terraform/.terraform.lock.hcl", "# lock\n")                                                                     // the tool's own file
	write("kubernetes/growth/train-churn-0123456789.yaml", TrainingJobHeader+"kind: Job\n")                                // apply's record
	write("great_expectations/expectations/models/gone.json", `{"meta":{"cairn":{"generated_by":"cairn — do not edit"}}}`) // stale suite
	write("prometheus/fraud-availability.rules.yaml", "edited\n")                                                          // hand-edited output
	ch, err = Diff(dir, files)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range ch {
		got = append(got, c.String())
	}
	want := []string{
		"extra: great_expectations/expectations/models/gone.json",
		"extra: kserve/old.yaml",
		"extra: kserve/stray.yaml (no cairn header: kserve/ holds only what cairn renders; move the file elsewhere or delete it)",
		"changed: prometheus/fraud-availability.rules.yaml",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if err := Write(dir, files, ch); err != nil {
		t.Fatal(err)
	}
	ch, _ = Diff(dir, files)
	if len(ch) != 1 || !ch[0].Foreign {
		t.Errorf("after Write: %v, want only the foreign file", ch)
	}
	for _, p := range []string{"kserve/stray.yaml", "README.md", "terraform/.terraform.lock.hcl", "kubernetes/growth/train-churn-0123456789.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
	for _, p := range []string{"kserve/old.yaml", "great_expectations/expectations/models/gone.json"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
			t.Errorf("stale %s was kept", p)
		}
	}
}
