package targets

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

// renderActions writes a GitHub Actions workflow: check and plan on pull
// requests; reconcile once and write the audit report on a schedule.
func renderActions(r *run) error {
	setup := []step{
		{Name: "Check out", Uses: "actions/checkout@v4", With: map[string]string{"fetch-depth": "0"}},
		{Name: "Set up Go", Uses: "actions/setup-go@v5", With: map[string]string{"go-version": "1.26"}},
		{Name: "Install cairn", Run: "go install github.com/cairn-dev/cairn/cmd/cairn@latest"},
	}
	env := map[string]string{"CAIRN_STATE": "${{ secrets.CAIRN_STATE }}"}
	wf := workflow{
		Name: "cairn",
		On: map[string]any{
			"pull_request":      map[string]any{"branches": []string{"main"}},
			"schedule":          []any{map[string]any{"cron": ActionsSchedule}},
			"workflow_dispatch": map[string]any{},
		},
		Permissions: map[string]any{"contents": "read", "pull-requests": "write", "checks": "write"},
		Concurrency: map[string]any{"group": "cairn-${{ github.ref }}", "cancel-in-progress": false},
		Jobs: map[string]job{
			"pr": {
				Name: "check and plan", If: "github.event_name == 'pull_request'", RunsOn: "ubuntu-latest",
				Steps: append(append([]step{}, setup...),
					step{Name: "Check specs and policies", Run: "cairn check --format github ."},
					step{Name: "Plan", Run: "cairn plan --format markdown . >> \"$GITHUB_STEP_SUMMARY\"", Env: env},
					step{Name: "Rendered targets are current", Run: "cairn render --check ."},
				),
			},
			"reconcile": {
				Name: "reconcile and audit", If: "github.event_name != 'pull_request'", RunsOn: "ubuntu-latest",
				Steps: append(append([]step{}, setup...),
					step{Name: "Reconcile", Run: "cairn reconcile --once .", Env: env},
					step{Name: "Audit report", Run: "cairn audit report . > audit-report.md", Env: env},
					step{Name: "Upload audit report", Uses: "actions/upload-artifact@v4", With: map[string]string{"name": "cairn-audit-report", "path": "audit-report.md"}},
				),
			},
		},
	}
	r.add("github-actions/cairn.yaml", r.yamlDocs(wf))
	return nil
}
