package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The workflow cairn renders runs: in a scratch spec repo (the fraud
// example, a git repo whose rendered/ and .github/workflows/ were written
// by `cairn render --workflow` after an apply), every `run:` step of both
// jobs is executed with bash, the built binary on PATH in place of the
// install step, and the state the CAIRN_STATE secret would name.
func TestRenderedWorkflowRuns(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	bin := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", filepath.Join(bin, "cairn"), ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	work := t.TempDir()
	repo, stateDB := filepath.Join(work, "repo"), filepath.Join(work, "shared.db")
	env := append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "CAIRN_ACTOR=ci", "CAIRN_STATE="+stateDB,
		"GITHUB_TOKEN=", "GITHUB_EVENT_PATH=", "GITHUB_REPOSITORY=", "OPENAI_API_KEY=", "GIT_AUTHOR_NAME=ci", "GIT_AUTHOR_EMAIL=ci@example.com",
		"GIT_COMMITTER_NAME=ci", "GIT_COMMITTER_EMAIL=ci@example.com")
	sh := func(dir, script string) string {
		t.Helper()
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
		return string(out)
	}
	// What a team does once: versions registered by training, an apply, the
	// rendered tree and the workflow committed.
	sh(work, `cairn init --example fraud repo
cd repo
git init -q -b main
cairn registry register fraud-detector --version 7 --artifact s3://m/7 --metric auc=0.94 --metric false_positive_rate=0.03
cairn registry register fraud-detector --version 8 --artifact s3://m/8 --metric auc=0.95 --metric false_positive_rate=0.03
cairn registry attach fraud-detector 7 --explanation explanations/fraud-7.json
cairn registry attach fraud-detector 8 --explanation explanations/fraud-8.json
cairn apply --approvals 1 . >/dev/null
cairn apply --approvals 1 . >/dev/null
cairn render --workflow . >/dev/null
git add -A && git commit -q -m specs`)
	wf, err := os.ReadFile(filepath.Join(repo, ".github", "workflows", "cairn.yaml"))
	if err != nil {
		t.Fatalf("render --workflow wrote no workflow: %v", err)
	}
	sh(repo, "cairn render --check --workflow .")

	var doc struct {
		Jobs map[string]struct {
			Steps []struct {
				Name string            `yaml:"name"`
				Uses string            `yaml:"uses"`
				Run  string            `yaml:"run"`
				Env  map[string]string `yaml:"env"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(wf, &doc); err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, job := range []string{"reconcile", "pr"} {
		steps := doc.Jobs[job].Steps
		if len(steps) == 0 {
			t.Fatalf("job %s has no steps", job)
		}
		for _, s := range steps {
			if s.Run == "" || strings.Contains(s.Run, "go install") {
				continue // actions (checkout, setup-go, cairn's own) and the install step, replaced by PATH
			}
			for k, v := range s.Env {
				if v != "${{ secrets.CAIRN_STATE }}" {
					t.Errorf("%s/%s: env %s=%s is not the state secret", job, s.Name, k, v)
				}
			}
			t.Logf("%s / %s: %s", job, s.Name, s.Run)
			sh(repo, s.Run)
			ran++
		}
	}
	if ran < 3 {
		t.Errorf("ran %d run steps, want the reconcile, audit report and render --check steps", ran)
	}
	if b, err := os.ReadFile(filepath.Join(repo, "audit-report.md")); err != nil || !strings.Contains(string(b), "prod") {
		t.Errorf("the audit report step wrote %q (%v)", b, err)
	}
}
