package targets

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/cairn-dev/cairn/internal/tooltest"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// schemaFiles maps apiVersion/kind to the JSON schema it is validated against.
var schemaFiles = map[string]string{
	"serving.kserve.io/v1beta1/InferenceService": "kserve-inferenceservice-v1beta1.json",
	"apps/v1/Deployment":                         "deployment-apps-v1.json",
	"v1/Service":                                 "service-v1.json",
	"v1/ConfigMap":                               "configmap-v1.json",
	"batch/v1/CronJob":                           "cronjob-batch-v1.json",
	"autoscaling/v2/HorizontalPodAutoscaler":     "horizontalpodautoscaler-autoscaling-v2.json",
}

var (
	schemaMu    sync.Mutex
	schemaCache = map[string]*jsonschema.Schema{}
)

func loadSchema(t *testing.T, file string) *jsonschema.Schema {
	t.Helper()
	schemaMu.Lock()
	defer schemaMu.Unlock()
	if s, ok := schemaCache[file]; ok {
		return s
	}
	f, err := os.Open(filepath.Join("testdata", "schemas", file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	// The kubeconform-style "$schema": "http://json-schema.org/schema#" names
	// no draft this library knows; the files are draft-07 (see SOURCES.md).
	delete(doc.(map[string]any), "$schema")
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	if err := c.AddResource(file, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(file)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	schemaCache[file] = s
	return s
}

// validateObject validates one decoded Kubernetes object by its GVK.
func validateObject(t *testing.T, obj map[string]any) error {
	t.Helper()
	gvk := fmt.Sprint(obj["apiVersion"], "/", obj["kind"])
	file, ok := schemaFiles[gvk]
	if !ok {
		return fmt.Errorf("no schema for %s", gvk)
	}
	// Round-trip through JSON so that numbers have the types the validator expects.
	js, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		return err
	}
	return loadSchema(t, file).Validate(inst)
}

// allRendered renders the fixture and every example that exists.
func allRendered(t *testing.T) map[string][]File {
	t.Helper()
	out := map[string][]File{"fixture": mustRender(t, fixtureInput())}
	for _, name := range acceptanceRepos {
		out["acceptance/"+name] = mustRender(t, acceptanceInput(t, name))
	}
	for name, files := range renderExamples(t) {
		out[name] = files
	}
	return out
}

func TestKubernetesObjectsMatchSchemas(t *testing.T) {
	n := 0
	for set, files := range allRendered(t) {
		for _, f := range files {
			if !strings.HasPrefix(f.Path, "kserve/") && !strings.HasPrefix(f.Path, "kubernetes/") {
				continue
			}
			for i, doc := range decodeDocs(t, f.Path, f.Content) {
				if err := validateObject(t, doc); err != nil {
					t.Errorf("%s: %s document %d (%s %v): %v", set, f.Path, i, doc["kind"], dig(doc, "metadata", "name"), err)
				}
				n++
			}
		}
	}
	if n < 10 {
		t.Errorf("validated only %d objects", n)
	}
	t.Logf("validated %d objects", n)
}

// The schemas must be able to fail, or the test above proves nothing.
func TestSchemaRejectsBadObjects(t *testing.T) {
	files := fileMap(mustRender(t, fixtureInput(), TargetKubernetes, TargetKServe))
	dep := decodeDocs(t, "dep", files["kubernetes/growth/churn-svc.yaml"])[0]
	dep["spec"].(map[string]any)["replicas"] = "two"
	if err := validateObject(t, dep); err == nil {
		t.Error("Deployment with replicas: two validated")
	}
	svc := decodeDocs(t, "svc", files["kubernetes/growth/churn-svc.yaml"])[1]
	svc["spec"].(map[string]any)["bogusField"] = true
	if err := validateObject(t, svc); err == nil {
		t.Error("Service with an unknown field validated")
	}
	isvc := decodeDocs(t, "isvc", files["kserve/fraud-api.yaml"])[0]
	dig(isvc, "spec", "predictor").(map[string]any)["canaryTrafficPercent"] = "ten"
	if err := validateObject(t, isvc); err == nil {
		t.Error("InferenceService with canaryTrafficPercent: ten validated")
	}
}

func TestTerraformParsesBack(t *testing.T) {
	n := 0
	for set, files := range allRendered(t) {
		for _, f := range files {
			if !strings.HasSuffix(f.Path, ".tf") {
				continue
			}
			n++
			p := hclparse.NewParser()
			_, diags := p.ParseHCL(f.Content, f.Path)
			if len(diags) > 0 {
				t.Errorf("%s: %s: %v", set, f.Path, diags)
			}
		}
	}
	if n == 0 {
		t.Error("no Terraform rendered")
	}
}

func TestWorkflowAndArgoCD(t *testing.T) {
	files := fileMap(mustRender(t, fixtureInput(), TargetGitHubActions, TargetArgoCD))
	wf := decodeDocs(t, "workflow", files["github-actions/cairn.yaml"])[0]
	if dig(wf, "on", "pull_request") == nil {
		t.Error("workflow does not run on pull_request")
	}
	if crons := dig(wf, "on", "schedule"); crons == nil || crons.([]any)[0].(map[string]any)["cron"] != ActionsSchedule {
		t.Errorf("schedule = %v", crons)
	}
	runs := func(jobName string) string {
		var b strings.Builder
		for _, s := range dig(wf, "jobs", jobName, "steps").([]any) {
			fmt.Fprintln(&b, s.(map[string]any)["run"], s.(map[string]any)["uses"])
		}
		return b.String()
	}
	for job, cmds := range map[string][]string{
		// The pull-request job uses cairn's own action (check, SARIF, cairn pr)
		// at the ref it installs, and checks the rendered tree against the state.
		"pr":        {"cairn-dev/cairn@main", "cairn render --check"},
		"reconcile": {"cairn reconcile --once --repo .", "cairn audit report", "cmd/cairn@main"},
	} {
		for _, c := range cmds {
			if !strings.Contains(runs(job), c) {
				t.Errorf("job %s does not run %q", job, c)
			}
		}
	}
	if !strings.Contains(fmt.Sprint(dig(wf, "jobs", "pr", "if")), "pull_request") ||
		!strings.Contains(fmt.Sprint(dig(wf, "jobs", "reconcile", "if")), "!= 'pull_request'") {
		t.Error("jobs are not split between pull requests and the schedule")
	}

	app := decodeDocs(t, "argo", files["argocd/application.yaml"])[0]
	if app["apiVersion"] != "argoproj.io/v1alpha1" || app["kind"] != "Application" ||
		dig(app, "spec", "source", "repoURL") != "https://github.com/acme/ml-specs.git" ||
		dig(app, "spec", "source", "path") != "rendered" || dig(app, "spec", "source", "targetRevision") != "main" {
		t.Errorf("application = %v", app)
	}
}

// promtool runs the real Prometheus tool, or skips when it is missing
// (unless CI demands it with CAIRN_REQUIRE_TOOLS=1).
func promtool(t *testing.T) string {
	t.Helper()
	return tooltest.Find(t, "make tools: apt-get install --no-install-recommends prometheus", "promtool")
}

func TestPromtool(t *testing.T) {
	bin := promtool(t)
	for set, files := range allRendered(t) {
		dir := t.TempDir()
		var rules, tests []string
		for _, f := range files {
			if !strings.HasPrefix(f.Path, "prometheus/") {
				continue
			}
			p := filepath.Join(dir, filepath.Base(f.Path))
			if err := os.WriteFile(p, f.Content, 0o644); err != nil {
				t.Fatal(err)
			}
			if strings.HasSuffix(p, ".rules.test.yaml") {
				tests = append(tests, p)
			} else {
				rules = append(rules, p)
			}
		}
		if len(rules) == 0 {
			continue
		}
		if out, err := exec.Command(bin, append([]string{"check", "rules"}, rules...)...).CombinedOutput(); err != nil {
			t.Errorf("%s: promtool check rules: %v\n%s", set, err, out)
		}
		if len(tests) == 0 {
			t.Errorf("%s: no promtool tests rendered beside %d rules files", set, len(rules))
			continue
		}
		if strings.HasPrefix(set, "acceptance/") {
			// promtool takes 1-2 s per test file; the fixture's SLOs already
			// cover every SLI form, so the acceptance repos are only checked.
			continue
		}
		out, err := exec.Command(bin, append([]string{"test", "rules"}, tests...)...).CombinedOutput()
		if err != nil {
			t.Errorf("%s: promtool test rules: %v\n%s", set, err, out)
		}
	}
}

// The rendered unit tests must be able to fail: a rules file whose page
// alert factor is wrong fails its own test.
func TestPromtoolTestsCanFail(t *testing.T) {
	bin := promtool(t)
	files := fileMap(mustRender(t, fixtureInput(), TargetPrometheus))
	dir := t.TempDir()
	rules := strings.ReplaceAll(string(files["prometheus/fraud-availability.rules.yaml"]), "14.4 * 0.001", "1440 * 0.001")
	rules = strings.ReplaceAll(rules, "(6 * 0.001)", "(6000 * 0.001)")
	os.WriteFile(filepath.Join(dir, "fraud-availability.rules.yaml"), []byte(rules), 0o644)
	os.WriteFile(filepath.Join(dir, "t.yaml"), files["prometheus/fraud-availability.rules.test.yaml"], 0o644)
	if out, err := exec.Command(bin, "test", "rules", filepath.Join(dir, "t.yaml")).CombinedOutput(); err == nil {
		t.Errorf("a page alert that cannot fire passed its test:\n%s", out)
	}
}

// burnTerm is one "max(slo:sli_error:ratio_rate<w>… > (factor * budget))" of an alert.
type burnTerm struct {
	Window string
	Factor float64
	Budget float64
}

var burnTermRe = regexp.MustCompile(`slo:sli_error:ratio_rate(\w+)\{[^}]*\} > \(([0-9.]+) \* ([0-9.]+)\)`)

func burnTerms(t *testing.T, expr string) []burnTerm {
	var out []burnTerm
	for _, m := range burnTermRe.FindAllStringSubmatch(expr, -1) {
		f, err1 := strconv.ParseFloat(m[2], 64)
		b, err2 := strconv.ParseFloat(m[3], 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("bad term %q", m[0])
		}
		out = append(out, burnTerm{m[1], f, b})
	}
	return out
}

type parsedRules struct {
	records map[string]string     // record name → expr (SLI group)
	alerts  map[string][]burnTerm // severity → terms
	meta    map[string]string     // record → expr
}

func parseRules(t *testing.T, data []byte, severityLabel string) parsedRules {
	t.Helper()
	var f ruleFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	p := parsedRules{records: map[string]string{}, alerts: map[string][]burnTerm{}, meta: map[string]string{}}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			switch {
			case r.Alert != "":
				// Burn-rate alerts are the ones with burn terms (not the cost alerts).
				if terms := burnTerms(t, r.Expr); len(terms) > 0 {
					p.alerts[r.Labels[severityLabel]] = terms
				}
			case strings.HasPrefix(r.Record, "slo:sli_error:ratio_rate"):
				p.records[strings.TrimPrefix(r.Record, "slo:sli_error:ratio_rate")] = r.Expr
			case r.Record != "":
				p.meta[r.Record] = r.Expr
			}
		}
	}
	return p
}

func TestBurnRatesMatchSlothReference(t *testing.T) {
	ref, err := os.ReadFile("testdata/sloth/getting-started.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	sloth := parseRules(t, ref, "sloth_severity")

	in := fixtureInput()
	s := in.Bundle.SLOs["fraud-availability"]
	// The same SLI as Sloth's getting-started spec, with its {{.window}} placeholders.
	s.SLI.Errors = `sum(rate(http_request_duration_seconds_count{job="myservice",code=~"(5..|429)"}[{{.window}}]))`
	s.SLI.Total = `sum(rate(http_request_duration_seconds_count{job="myservice"}[{{.window}}]))`
	ours := parseRules(t, fileMap(mustRender(t, in, TargetPrometheus))["prometheus/fraud-availability.rules.yaml"], "severity")

	// Same windows, and for every window the same SLI query.
	if got, want := slices.Sorted(maps.Keys(ours.records)), slices.Sorted(maps.Keys(sloth.records)); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("recorded windows = %v, Sloth records %v", got, want)
	}
	for w, expr := range sloth.records {
		if w == "30d" {
			continue // Sloth's period rule selects by its own sloth_* labels
		}
		if ours.records[w] != expr {
			t.Errorf("window %s: SLI query\n%s\nSloth:\n%s", w, ours.records[w], expr)
		}
	}
	for _, rec := range []string{"slo:objective:ratio", "slo:error_budget:ratio", "slo:time_period:days", "slo:current_burn_rate:ratio", "slo:period_burn_rate:ratio", "slo:period_error_budget_remaining:ratio"} {
		if _, ok := ours.meta[rec]; !ok {
			t.Errorf("no %s recording rule (Sloth has one)", rec)
		}
	}
	if ours.meta["slo:error_budget:ratio"] != "vector(0.001)" {
		t.Errorf("error budget = %s, want the exact vector(0.001)", ours.meta["slo:error_budget:ratio"])
	}
	for _, sev := range []string{"page", "ticket"} {
		got, want := ours.alerts[sev], sloth.alerts[sev]
		if len(got) != len(want) || len(want) != 4 {
			t.Fatalf("%s: %d terms, Sloth has %d", sev, len(got), len(want))
		}
		for i := range want {
			if got[i].Window != want[i].Window || got[i].Factor != want[i].Factor || math.Abs(got[i].Budget-want[i].Budget) > 1e-12 {
				t.Errorf("%s term %d = %+v, Sloth %+v", sev, i, got[i], want[i])
			}
			if got[i].Budget != 0.001 {
				t.Errorf("%s term %d budget %v is not exactly 0.001", sev, i, got[i].Budget)
			}
		}
	}
}

// Sloth's 28-day windows (internal/alert/windows/google-28d.yaml) express
// each alert as the share of the error budget consumed over its long window:
// page 2% in 1h and 5% in 6h, ticket 10% in 1d and 10% in 3d. The factor is
// that share × the SLO period ÷ the long window; the renderer instead scales
// the 30-day factors, so this is an independent check.
func TestBurnRates28dMatchSlothWindows(t *testing.T) {
	ours := parseRules(t, fileMap(mustRender(t, fixtureInput(), TargetPrometheus))["prometheus/support-latency.rules.yaml"], "severity")
	hours := map[string]float64{"5m": 1.0 / 12, "30m": 0.5, "1h": 1, "2h": 2, "6h": 6, "1d": 24, "3d": 72}
	want := map[string][]struct {
		short, long string
		share       float64
	}{
		"page":   {{"5m", "1h", 0.02}, {"30m", "6h", 0.05}},
		"ticket": {{"2h", "1d", 0.10}, {"6h", "3d", 0.10}},
	}
	for sev, pairs := range want {
		terms := ours.alerts[sev]
		if len(terms) != 4 {
			t.Fatalf("%s: %d terms", sev, len(terms))
		}
		for i, p := range pairs {
			factor := p.share * 28 * 24 / hours[p.long]
			for j, w := range []string{p.short, p.long} {
				term := terms[2*i+j]
				if term.Window != w || math.Abs(term.Factor-factor) > 1e-9 || term.Budget != 0.005 {
					t.Errorf("%s term %d = %+v, want window %s factor %.10g budget 0.005", sev, 2*i+j, term, w, factor)
				}
			}
		}
	}
	if ours.meta["slo:time_period:days"] != "vector(28)" {
		t.Errorf("time period = %s", ours.meta["slo:time_period:days"])
	}
}

func TestSelectors(t *testing.T) {
	for _, c := range []struct {
		in     string
		ok     bool
		sample string
	}{
		{`http_requests_total`, true, `http_requests_total`},
		{`http_requests_total{job="a",code=~"5.."}`, true, `http_requests_total{code="5xx",job="a"}`},
		{`x{code=~"(5..|429)", env!="dev"}`, true, `x{code="5xx"}`},
		{`x{a=~"foo|bar"}`, true, `x{a="foo"}`},
		{`x{a!~".+"}`, true, `x`},
		{`sum(rate(x[5m]))`, false, ""},
		{`x{a="b"`, false, ""},
		{`x{a=b}`, false, ""},
	} {
		sel, ok := parseSelector(c.in)
		if ok != c.ok {
			t.Errorf("parseSelector(%q) ok = %v", c.in, ok)
			continue
		}
		if !ok {
			continue
		}
		labels, ok := sel.sampleLabels()
		if !ok {
			t.Errorf("%q: no sample", c.in)
			continue
		}
		if got := seriesString(sel.Name, labels); got != c.sample {
			t.Errorf("%q: sample %s, want %s", c.in, got, c.sample)
		}
	}
}

// keep sort imported for helpers shared across test files
var _ = sort.Strings

// Sloth's and Pyrra's dashboards select on the labels Sloth writes: every
// recording rule name in Sloth's own generated file (testdata/sloth, from
// slok/sloth's examples/_gen/getting-started.yml, Apache-2.0) is one cairn
// writes too, with every sloth_* label Sloth puts on it, and Pyrra's slo.
func TestSlothLabels(t *testing.T) {
	type group struct {
		Rules []struct {
			Record string            `yaml:"record"`
			Alert  string            `yaml:"alert"`
			Labels map[string]string `yaml:"labels"`
		} `yaml:"rules"`
	}
	read := func(b []byte) map[string]map[string]bool {
		var doc struct {
			Groups []group `yaml:"groups"`
		}
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		out := map[string]map[string]bool{}
		for _, g := range doc.Groups {
			for _, r := range g.Rules {
				name := r.Record
				if name == "" {
					name = "alert"
				}
				if out[name] == nil {
					out[name] = map[string]bool{}
				}
				for k := range r.Labels {
					out[name][k] = true
				}
			}
		}
		return out
	}
	ref, err := os.ReadFile("testdata/sloth/getting-started.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	sloth := read(ref)
	files := fileMap(mustRender(t, fixtureInput(), TargetPrometheus))
	cairn := read(files["prometheus/fraud-availability.rules.yaml"])
	for name, keys := range sloth {
		if strings.HasSuffix(name, "30d") { // the SLO period: cairn's fixture uses 28d
			continue
		}
		if cairn[name] == nil {
			t.Errorf("Sloth records %s; cairn does not", name)
			continue
		}
		for k := range keys {
			if strings.HasPrefix(k, "sloth_") && !cairn[name][k] {
				t.Errorf("%s: Sloth labels it %s; cairn does not", name, k)
			}
		}
		if name != "alert" && !cairn[name]["slo"] {
			t.Errorf("%s: no slo label (Pyrra's)", name)
		}
	}
}

// The rendered Alertmanager configuration passes the real amtool.
func TestAmtool(t *testing.T) {
	bin := tooltest.Find(t, "make tools: apt-get install --no-install-recommends prometheus-alertmanager", "amtool")
	n := 0
	for set, files := range allRendered(t) {
		for _, f := range files {
			if !strings.HasPrefix(f.Path, "alertmanager/") {
				continue
			}
			p := filepath.Join(t.TempDir(), filepath.Base(f.Path))
			if err := os.WriteFile(p, f.Content, 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(bin, "check-config", p).CombinedOutput(); err != nil {
				t.Errorf("%s %s: amtool check-config: %v\n%s", set, f.Path, err, out)
			}
			n++
		}
	}
	if n == 0 {
		t.Error("no Alertmanager configuration rendered for any example")
	}
}
