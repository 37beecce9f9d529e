package policies

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/internal/diag"
)

func pos(line int) diag.Position { return diag.Position{File: "cairn.cue", Line: line, Col: 2} }

func intp(i int) *int { return &i }

// cleanBundle passes every built-in policy; tests break one thing at a time.
func cleanBundle() *compiler.Bundle {
	budget := 500.0
	return &compiler.Bundle{
		FormatVersion: 1,
		Project:       compiler.Project{Name: "shop", Owners: []string{"@acme/ml"}, Pos: pos(1)},
		Providers:     map[string]*compiler.Provider{"openai": {Name: "openai", Kind: "openai", APIKeyEnv: "OPENAI_API_KEY", Pos: pos(5)}},
		Features: map[string]*compiler.Feature{
			"amount": {Name: "amount", Owner: "team:data", Entity: "txn", Source: "s", DType: "float", UsedBy: []string{"fraud"}, Pos: pos(10)},
		},
		Models: map[string]*compiler.Model{
			"fraud": {Name: "fraud", Kind: "classic", Owner: "team:fraud", Risk: "medium", Features: []string{"amount"},
				Monitoring:  &compiler.Monitoring{Drift: &compiler.Drift{Features: []string{"amount"}, Method: "psi", Threshold: 0.2}},
				Aliases:     map[string]string{"prod": "7", "staging": "8"},
				Gates:       map[string]compiler.Gate{"prod": {Evals: []string{"holdout"}}},
				PIIFeatures: []string{}, ServedBy: []string{"fraud-api"}, Pos: pos(20)},
		},
		Prompts: map[string]*compiler.Prompt{
			"answer": {Name: "answer", Owner: "team:support", Version: "1.0.0", Template: "Answer {{ question }}",
				Inputs: []string{"question"}, Model: compiler.PromptModel{Provider: "openai", ID: "gpt-4o-mini", MaxTokens: 512},
				Labels: map[string]string{"prod": "1.0.0"}, Gates: map[string]compiler.Gate{"prod": {Evals: []string{"qa"}}},
				ServedBy: []string{"chat"}, Pos: pos(40)},
		},
		RAG: map[string]*compiler.RAG{},
		Evals: map[string]*compiler.Eval{
			"holdout": {Name: "holdout", Target: compiler.EvalTarget{Model: "fraud"}, Dataset: "d.jsonl",
				Metrics: map[string]compiler.Metric{"auc": {Scorer: "exact", Threshold: 0.9, Aggregate: "mean"}}, Pos: pos(60)},
			"qa": {Name: "qa", Target: compiler.EvalTarget{Prompt: "answer"}, Dataset: "q.jsonl",
				Metrics: map[string]compiler.Metric{
					"facts": {Scorer: "factuality", Threshold: 0.8, Aggregate: "mean", Judge: &compiler.Judge{Provider: "openai", Model: "gpt-4o"}},
					"toxic": {Scorer: "toxicity", Threshold: 0.1, Aggregate: "max"},
				}, Pos: pos(70)},
		},
		SLOs: map[string]*compiler.SLO{
			"fraud-avail": {Name: "fraud-avail", Deployment: "fraud-api", Objective: 99.9, Window: "30d", SLI: compiler.SLI{Kind: "availability", Errors: "e", Total: "t"}, Pos: pos(80)},
			"chat-latency": {Name: "chat-latency", Deployment: "chat", Objective: 99, Window: "30d", SLI: compiler.SLI{Kind: "latency", Metric: "m", ThresholdMS: 800},
				Budget: &compiler.Budget{USDPerMonth: &budget}, Pos: pos(90)},
		},
		Deployments: map[string]*compiler.Deployment{
			"fraud-api": {Name: "fraud-api", Model: "fraud", Target: "kserve", Namespace: "ml", Alias: "prod", Exposure: "internal",
				Rollout: compiler.Rollout{Strategy: "canary", TrafficPercent: intp(10)}, Kind: "classic", SLOs: []string{"fraud-avail"}, Pos: pos(100)},
			"chat": {Name: "chat", Prompt: "answer", Target: "kubernetes", Namespace: "support", Alias: "prod", Exposure: "public",
				Rollout: compiler.Rollout{Strategy: "direct"}, Kind: "llm", SLOs: []string{"chat-latency"},
				Projection: &compiler.Projection{ModelID: "gpt-4o-mini", USDPerMonth: 120, USDPer1kRequests: 0.4}, Pos: pos(120)},
		},
		Governance: compiler.Governance{SensitiveDomains: []string{"credit"}, MaxWaiverDays: 90, Pos: pos(140)},
		Gating: []compiler.GateRef{
			{Object: "models/fraud", Alias: "prod", Eval: "holdout"},
			{Object: "prompts/answer", Alias: "prod", Eval: "qa"},
		},
		FieldPos: compiler.NewFieldPositions(map[string]compiler.Position{
			"deployments/fraud-api.rollout.traffic_percent": {File: "deploy.cue", Line: 7, Col: 20},
			"deployments/fraud-api.rollout":                 {File: "deploy.cue", Line: 6, Col: 3},
			"models/fraud.risk":                             {File: "models.cue", Line: 4, Col: 3},
		}),
	}
}

var now = time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)

func newEngine(t testing.TB, opts Options) *Engine {
	t.Helper()
	e, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}

func eval(t testing.TB, e *Engine, b *compiler.Bundle, at time.Time) diag.List {
	t.Helper()
	l, err := e.Evaluate(context.Background(), b, at, nil)
	if err != nil {
		t.Fatalf("Evaluate: %v", err)
	}
	return l
}

func TestCleanBundlePasses(t *testing.T) {
	l := eval(t, newEngine(t, Options{}), cleanBundle(), now)
	if len(l) != 0 {
		t.Fatalf("want no diagnostics, got:\n%s", render(l))
	}
}

func render(l diag.List) string {
	var s []string
	for _, d := range l {
		s = append(s, d.String())
	}
	return strings.Join(s, "\n")
}

// TestViolationsCarryPositions breaks one rule per case and checks the
// rule id, target, field path and position (field, parent field or object).
func TestViolationsCarryPositions(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(b *compiler.Bundle)
		want   diag.Diagnostic
	}{
		{"field position", func(b *compiler.Bundle) { b.Deployments["fraud-api"].Rollout.TrafficPercent = intp(25) },
			diag.Diagnostic{Severity: diag.Deny, Code: "canary_traffic", Object: "deployments/fraud-api", Path: "rollout.traffic_percent", Pos: diag.Position{File: "deploy.cue", Line: 7, Col: 20}}},
		{"parent field position", func(b *compiler.Bundle) { b.Deployments["fraud-api"].Rollout.TrafficPercent = nil },
			diag.Diagnostic{Severity: diag.Deny, Code: "canary_traffic", Object: "deployments/fraud-api", Path: "rollout", Pos: diag.Position{File: "deploy.cue", Line: 6, Col: 3}}},
		{"object position", func(b *compiler.Bundle) { b.Deployments["fraud-api"].SLOs = nil; delete(b.SLOs, "fraud-avail") },
			diag.Diagnostic{Severity: diag.Deny, Code: "prod_slo", Object: "deployments/fraud-api", Path: "alias", Pos: pos(100)}},
		{"project", func(b *compiler.Bundle) { b.Project.Owners = []string{"team:tbd"} },
			diag.Diagnostic{Severity: diag.Deny, Code: "owners", Object: "project", Path: "owners", Pos: pos(1)}},
		{"pii", func(b *compiler.Bundle) { m := b.Models["fraud"]; m.Risk = "low"; m.PIIFeatures = []string{"amount"} },
			diag.Diagnostic{Severity: diag.Deny, Code: "pii_risk", Object: "models/fraud", Path: "risk", Pos: diag.Position{File: "models.cue", Line: 4, Col: 3}}},
		{"warn severity", func(b *compiler.Bundle) { b.Prompts["answer"].Model.ID = "gpt-3.5-turbo-1106" },
			diag.Diagnostic{Severity: diag.Warn, Code: "deprecated_models", Object: "prompts/answer", Path: "model.id", Pos: pos(40)}},
	}
	e := newEngine(t, Options{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := cleanBundle()
			tc.mutate(b)
			// 2026-09-28 is gpt-3.5-turbo-1106's date in the catalog: warn 30 days ahead.
			l := eval(t, e, b, time.Date(2026, 8, 29, 0, 0, 0, 0, time.UTC))
			if len(l) != 1 {
				t.Fatalf("want 1 diagnostic, got %d:\n%s", len(l), render(l))
			}
			got := l[0]
			if got.Severity != tc.want.Severity || got.Code != tc.want.Code || got.Object != tc.want.Object || got.Path != tc.want.Path || got.Pos != tc.want.Pos {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			if got.Title == "" {
				t.Error("diagnostic has no policy title")
			}
		})
	}
}

func TestWaivers(t *testing.T) {
	// The violation to waive: prod deployment fraud-api without an SLO.
	violate := func(b *compiler.Bundle) { b.Deployments["fraud-api"].SLOs = nil; delete(b.SLOs, "fraud-avail") }
	waiver := func(policy, target, expires string) compiler.Waiver {
		return compiler.Waiver{Policy: policy, Target: target, Reason: "SLO lands next sprint", Approver: "@acme/risk", Expires: expires,
			Pos: diag.Position{File: "governance.cue", Line: 3, Col: 4}}
	}
	type want struct {
		code, object string
		sev          diag.Severity
	}
	tests := []struct {
		name string
		w    compiler.Waiver
		now  time.Time
		want []want
	}{
		{"active", waiver("prod_slo", "deployments/fraud-api", "2026-02-01"), now,
			[]want{{"prod_slo", "deployments/fraud-api", diag.Waived}}},
		{"expires today: valid until 23:59:59 UTC", waiver("prod_slo", "deployments/fraud-api", "2026-01-15"), time.Date(2026, 1, 15, 23, 59, 59, 0, time.UTC),
			[]want{{"prod_slo", "deployments/fraud-api", diag.Waived}}},
		{"expired yesterday: at 00:00 UTC", waiver("prod_slo", "deployments/fraud-api", "2026-01-14"), time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC),
			[]want{{"prod_slo", "deployments/fraud-api", diag.Deny}, {"waivers", "governance", diag.Deny}}},
		{"expires tomorrow, late in a UTC-8 evening", waiver("prod_slo", "deployments/fraud-api", "2026-01-16"), time.Date(2026, 1, 15, 20, 0, 0, 0, time.FixedZone("PST", -8*3600)),
			// 20:00 PST is 04:00 UTC on the 16th: still valid.
			[]want{{"prod_slo", "deployments/fraud-api", diag.Waived}}},
		{"expired long ago", waiver("prod_slo", "deployments/fraud-api", "2025-06-30"), now,
			[]want{{"prod_slo", "deployments/fraud-api", diag.Deny}, {"waivers", "governance", diag.Deny}}},
		{"wrong target", waiver("prod_slo", "deployments/chat", "2026-02-01"), now,
			[]want{{"prod_slo", "deployments/fraud-api", diag.Deny}, {"waivers", "governance", diag.Warn}}},
		{"wrong policy", waiver("prod_slos", "deployments/fraud-api", "2026-02-01"), now,
			[]want{{"prod_slo", "deployments/fraud-api", diag.Deny}, {"waivers", "governance", diag.Warn}}},
		{"too long", waiver("prod_slo", "deployments/fraud-api", "2026-04-16"), now,
			[]want{{"prod_slo", "deployments/fraud-api", diag.Deny}, {"waivers", "governance", diag.Deny}}},
		{"malformed date", waiver("prod_slo", "deployments/fraud-api", "next friday"), now,
			[]want{{"prod_slo", "deployments/fraud-api", diag.Deny}, {"waivers", "governance", diag.Deny}}},
		{"unapproved", compiler.Waiver{Policy: "prod_slo", Target: "deployments/fraud-api", Reason: "r", Expires: "2026-02-01", Pos: diag.Position{File: "governance.cue", Line: 3, Col: 4}}, now,
			[]want{{"prod_slo", "deployments/fraud-api", diag.Deny}, {"waivers", "governance", diag.Deny}}},
	}
	e := newEngine(t, Options{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := cleanBundle()
			violate(b)
			b.Governance.Waivers = []compiler.Waiver{tc.w}
			l := eval(t, e, b, tc.now)
			if len(l) != len(tc.want) {
				t.Fatalf("want %d diagnostics, got %d:\n%s", len(tc.want), len(l), render(l))
			}
			for _, w := range tc.want {
				found := false
				for _, d := range l {
					if d.Code == w.code && d.Object == w.object && d.Severity == w.sev {
						found = true
						if d.Code == "waivers" && d.Pos != tc.w.Pos {
							t.Errorf("waiver diagnostic at %s, want the waiver's position %s", d.Pos, tc.w.Pos)
						}
						if d.Severity == diag.Waived && !strings.Contains(d.Waiver, "@acme/risk") {
							t.Errorf("waived diagnostic does not say who waived it: %q", d.Waiver)
						}
					}
				}
				if !found {
					t.Errorf("missing %s %s on %s in:\n%s", w.sev, w.code, w.object, render(l))
				}
			}
		})
	}
}

func writeTeam(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "policies"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, "policies", name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const teamPolicy = `# METADATA
# title: Deployments live in team namespaces
# custom:
#   id: team_namespace
#   severity: deny
package cairn.policy.team_namespace

deny contains v if {
	some name, d in input.bundle.deployments
	not startswith(d.namespace, "team-")
	v := {"msg": sprintf("deployment %q is in namespace %q", [name, d.namespace]), "target": concat("/", ["deployments", name]), "path": "namespace"}
}
`

func TestTeamPolicies(t *testing.T) {
	t.Run("custom deny", func(t *testing.T) {
		dir := writeTeam(t, map[string]string{"namespace.rego": teamPolicy, "namespace_test.rego": "package x\ntest_ignored_by_engine if false\n"})
		l := eval(t, newEngine(t, Options{Dir: dir}), cleanBundle(), now)
		if len(l) != 2 || l[0].Code != "team_namespace" || l[0].Title != "Deployments live in team namespaces" {
			t.Fatalf("want 2 team_namespace denials, got:\n%s", render(l))
		}
	})
	t.Run("warn severity", func(t *testing.T) {
		dir := writeTeam(t, map[string]string{"ns.rego": strings.Replace(teamPolicy, "severity: deny", "severity: warn", 1)})
		l := eval(t, newEngine(t, Options{Dir: dir}), cleanBundle(), now)
		if len(l) != 2 || l.Count(diag.Warn) != 2 {
			t.Fatalf("want 2 warnings, got:\n%s", render(l))
		}
	})
	errTests := []struct {
		name, file, text string
		wantPos          diag.Position
		wantMsg          string
	}{
		{"syntax error", "broken.rego", "package cairn.policy.broken\n\ndeny contains v if {\n\tv := \n}\n",
			diag.Position{File: "policies/broken.rego", Line: 5}, "unexpected"},
		{"http.send", "net.rego", "package cairn.policy.net\n\ndeny contains v if {\n\tr := http.send({\"method\": \"get\", \"url\": \"http://127.0.0.1/\"})\n\tv := r.body\n}\n",
			diag.Position{File: "policies/net.rego", Line: 4}, "http.send"},
		{"net.lookup_ip_addr", "dns.rego", "package cairn.policy.dns\n\ndeny contains v if {\n\tnet.lookup_ip_addr(\"example.com\")\n\tv := \"x\"\n}\n",
			diag.Position{File: "policies/dns.rego", Line: 4}, "net.lookup_ip_addr"},
		{"time.now_ns", "clock.rego", "package cairn.policy.clock\n\nwarn contains v if {\n\ttime.now_ns() > 0\n\tv := \"x\"\n}\n",
			diag.Position{File: "policies/clock.rego", Line: 4}, "time.now_ns"},
		{"metadata id mismatch", "meta.rego", "# METADATA\n# custom:\n#   id: other\npackage cairn.policy.meta\n\ndeny contains \"x\" if false\n",
			diag.Position{File: "policies/meta.rego", Line: 1}, "custom.id"},
	}
	for _, tc := range errTests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeTeam(t, map[string]string{tc.file: tc.text})
			_, err := New(Options{Dir: dir})
			l, ok := err.(diag.List)
			if !ok || len(l) == 0 {
				t.Fatalf("want a diag.List, got %v", err)
			}
			d := l[0]
			if d.Severity != diag.Error || d.Pos.File != tc.wantPos.File || d.Pos.Line != tc.wantPos.Line || d.Pos.Col == 0 {
				t.Errorf("got %s, want an error at %s:%d:<col>", d, tc.wantPos.File, tc.wantPos.Line)
			}
			if !strings.Contains(d.Message, tc.wantMsg) {
				t.Errorf("message %q does not mention %q", d.Message, tc.wantMsg)
			}
		})
	}
	t.Run("runtime error is located and others still run", func(t *testing.T) {
		dir := writeTeam(t, map[string]string{"conflict.rego": "package cairn.policy.conflict\n\nx := 1 if input.bundle.project.name\nx := 2 if input.bundle.project.name\n\ndeny contains \"boom\" if x == 1\n"})
		l := eval(t, newEngine(t, Options{Dir: dir}), cleanBundle(), now)
		if len(l) != 1 || l[0].Severity != diag.Error || l[0].Pos.File != "policies/conflict.rego" || l[0].Pos.Line == 0 {
			t.Fatalf("want one located error, got:\n%s", render(l))
		}
	})
}

func TestTeamRegoTests(t *testing.T) {
	dir := writeTeam(t, map[string]string{
		"namespace.rego": teamPolicy,
		"namespace_test.rego": `package cairn.policy.team_namespace_test

import data.cairn.policy.team_namespace

test_team_namespace_passes if {
	count(team_namespace.deny) == 0 with input as {"bundle": {"deployments": {"a": {"namespace": "team-a"}}}}
}

test_deliberately_failing if {
	count(team_namespace.deny) == 0 with input as {"bundle": {"deployments": {"a": {"namespace": "default"}}}}
}
`})
	res, err := Test(context.Background(), Options{Dir: dir, NoBuiltins: false}, "team_namespace")
	if err != nil {
		t.Fatal(err)
	}
	var pass, fail int
	for _, r := range res {
		if r.Builtin {
			t.Errorf("filter let a built-in test run: %s", r.Name)
		}
		if r.Pass {
			pass++
		} else {
			fail++
			if r.Pos.File != "policies/namespace_test.rego" || r.Pos.Line != 9 {
				t.Errorf("failing test at %s, want policies/namespace_test.rego:9", r.Pos)
			}
		}
	}
	if pass != 1 || fail != 1 {
		t.Fatalf("want 1 pass and 1 failure, got %d and %d", pass, fail)
	}
}

func TestEvaluateIsDeterministic(t *testing.T) {
	e := newEngine(t, Options{})
	b := cleanBundle()
	b.Project.Owners = []string{"team:tbd"}
	b.Models["fraud"].Risk = "low"
	b.Models["fraud"].PIIFeatures = []string{"amount"}
	first := render(eval(t, e, b, now))
	for i := 0; i < 5; i++ {
		if got := render(eval(t, e, b, now)); got != first {
			t.Fatalf("run %d differs:\n%s\nvs\n%s", i, got, first)
		}
	}
}
