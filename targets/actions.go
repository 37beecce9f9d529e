package targets

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/cairn-dev/cairn/internal/atomicfile"
)

// Workflow structures keep GitHub's conventional key order.
type workflow struct {
	Name        string         `yaml:"name"`
	On          map[string]any `yaml:"on"`
	Permissions map[string]any `yaml:"permissions"`
	Concurrency map[string]any `yaml:"concurrency"`
	Jobs        map[string]job `yaml:"jobs"`
}

type job struct {
	Name   string `yaml:"name"`
	If     string `yaml:"if"`
	RunsOn string `yaml:"runs-on"`
	Steps  []step `yaml:"steps"`
}

type step struct {
	Name string            `yaml:"name"`
	Uses string            `yaml:"uses,omitempty"`
	With map[string]string `yaml:"with,omitempty"`
	Run  string            `yaml:"run,omitempty"`
	Env  map[string]string `yaml:"env,omitempty"`
}

// ActionsSchedule is when the rendered workflow reconciles (UTC, hourly at :17
// so that it does not join the top-of-the-hour rush).
const ActionsSchedule = "17 * * * *"

// actionRef is the cairn ref the rendered workflow uses for the action and
// the CLI alike: the release that rendered it (Input.CairnRef), else main.
func (r *run) actionRef() string {
	if r.in.CairnRef != "" {
		return r.in.CairnRef
	}
	return "main"
}

// renderActions writes a GitHub Actions workflow: on pull requests cairn's
// own action (check with annotations and SARIF, the sticky plan comment and
// check run), then `render --check` against the shared state; on a schedule
// `reconcile --once --repo .` and the audit report. `render --workflow`
// also writes it to .github/workflows/cairn.yaml, where GitHub runs it
// (SyncWorkflow). actionlint checks it and a test runs its run: steps.
func renderActions(r *run) error {
	setup := []step{
		{Name: "Check out", Uses: "actions/checkout@v4", With: map[string]string{"fetch-depth": "0"}},
		{Name: "Set up Go", Uses: "actions/setup-go@v5", With: map[string]string{"go-version": "1.26"}},
		{Name: "Install cairn", Run: "go install github.com/cairn-dev/cairn/cmd/cairn@" + r.actionRef()},
	}
	env := map[string]string{"CAIRN_STATE": "${{ secrets.CAIRN_STATE }}"}
	wf := workflow{
		Name: "cairn",
		On: map[string]any{
			"pull_request":      map[string]any{"branches": []string{"main"}},
			"schedule":          []any{map[string]any{"cron": ActionsSchedule}},
			"workflow_dispatch": map[string]any{},
		},
		Permissions: map[string]any{"contents": "read", "pull-requests": "write", "checks": "write", "security-events": "write"},
		Concurrency: map[string]any{"group": "cairn-${{ github.ref }}", "cancel-in-progress": false},
		Jobs: map[string]job{
			"pr": {
				Name: "check and plan", If: "github.event_name == 'pull_request'", RunsOn: "ubuntu-latest",
				Steps: []step{
					{Name: "Check out", Uses: "actions/checkout@v4", With: map[string]string{"fetch-depth": "0"}},
					// check (annotations, SARIF to code scanning) and `cairn pr`
					// (sticky plan comment, check run), with the shared state.
					{Name: "cairn", Uses: "cairn-dev/cairn@" + r.actionRef(), Env: env},
					{Name: "Rendered targets are current", Run: "cairn render --check .", Env: env},
				},
			},
			"reconcile": {
				Name: "reconcile and audit", If: "github.event_name != 'pull_request'", RunsOn: "ubuntu-latest",
				Steps: append(append([]step{}, setup...),
					step{Name: "Reconcile", Run: "cairn reconcile --once --repo .", Env: env},
					step{Name: "Audit report", Run: "cairn audit report . > audit-report.md", Env: env},
					step{Name: "Upload audit report", Uses: "actions/upload-artifact@v4", With: map[string]string{"name": "cairn-audit-report", "path": "audit-report.md"}},
				),
			},
		},
	}
	r.add("github-actions/cairn.yaml", r.yamlDocs(wf))
	return nil
}

// WorkflowFile is where GitHub runs a workflow from, relative to the spec
// repo; render --workflow copies the rendered workflow there.
const WorkflowFile = ".github/workflows/cairn.yaml"

// SyncWorkflow compares the rendered workflow (github-actions/cairn.yaml in
// files) with repo/.github/workflows/cairn.yaml and, unless check, writes
// it there. It returns the change ("" when current, "missing" or
// "changed"). A file there that cairn did not write is never overwritten.
func SyncWorkflow(repo string, files []File, check bool) (string, error) {
	var want []byte
	for _, f := range files {
		if f.Path == "github-actions/cairn.yaml" {
			want = f.Content
		}
	}
	if want == nil {
		return "", fmt.Errorf("no GitHub workflow was rendered (render it with the %s target)", TargetGitHubActions)
	}
	p := filepath.Join(repo, filepath.FromSlash(WorkflowFile))
	got, err := os.ReadFile(p)
	status := ""
	switch {
	case errors.Is(err, fs.ErrNotExist):
		status = "missing"
	case err != nil:
		return "", err
	case !Generated(WorkflowFile, got):
		return "", fmt.Errorf("%s exists and cairn did not write it: move it away or merge it by hand with rendered/github-actions/cairn.yaml", WorkflowFile)
	case !bytes.Equal(got, want):
		status = "changed"
	}
	if check || status == "" {
		return status, nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", err
	}
	return status, atomicfile.Write(p, want, 0o644)
}
