package diagfmt

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/internal/junit/junittest"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/cairn-dev/cairn/internal/diag"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// sample covers every severity, a field path, a position without a column,
// a diagnostic without a position, a waiver, and characters every format
// must escape.
func sample() diag.List {
	return diag.List{
		{Severity: diag.Error, Code: "E032", Message: `unknown field "taks"; did you mean "task"?`, Object: "models/churn", Path: "taks",
			Pos: diag.Position{File: "specs/m.cue", Line: 7, Col: 3}},
		{Severity: diag.Deny, Code: "canary_traffic", Title: "First canary traffic is at most 10%",
			Message: "canary of deployment \"api\" starts at 25% of traffic, 100% | 50%: too much\nsecond line",
			Object:  "deployments/api", Path: "rollout.traffic_percent", Pos: diag.Position{File: "specs/deploy,ments.cue", Line: 12, Col: 20}},
		{Severity: diag.Warn, Code: "deprecated_models", Title: "Deprecated LLM model ids",
			Message: "model id \"gpt-4-0613\" is deprecated on 2025-06-06 (in 30 days); plan the move", Object: "prompts/answer", Path: "model.id",
			Pos: diag.Position{File: "prompts.cue", Line: 3}},
		{Severity: diag.Waived, Code: "prod_slo", Title: "Every prod deployment has an SLO",
			Message: "deployment \"api\" serves prod but no SLO names it", Object: "deployments/api", Path: "alias",
			Pos: diag.Position{File: "specs/deploy,ments.cue", Line: 2, Col: 1}, Waiver: "waived by @acme/risk until 2026-02-01: SLO lands next sprint"},
		{Severity: diag.Deny, Code: "team_rule", Message: "a violation with no object <b>*bold*</b>"},
	}
}

var sampleOpts = Options{ToolVersion: "1.2.3", Rules: []Rule{
	{ID: "canary_traffic", Title: "First canary traffic is at most 10%", Description: "A canary rollout declares traffic_percent ≤ 10."},
	{ID: "owners", Title: "Every object has an owner"},
}}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func write(t *testing.T, format string, l diag.List, opts Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, format, l, opts); err != nil {
		t.Fatalf("Write(%s): %v", format, err)
	}
	return buf.Bytes()
}

func TestGolden(t *testing.T) {
	ext := map[string]string{"text": "txt", "json": "json", "sarif": "sarif", "github": "txt", "junit": "xml", "markdown": "md"}
	for _, f := range Formats {
		t.Run(f, func(t *testing.T) {
			golden(t, "sample."+f+"."+ext[f], write(t, f, sample(), sampleOpts))
			golden(t, "clean."+f+"."+ext[f], write(t, f, nil, sampleOpts))
		})
	}
}

func TestUnknownFormat(t *testing.T) {
	err := Write(&bytes.Buffer{}, "yaml", nil, Options{})
	if err == nil || !strings.Contains(err.Error(), "yaml") || !strings.Contains(err.Error(), "sarif") {
		t.Fatalf("want an error naming the format and the choices, got %v", err)
	}
}

func sarifSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "sarif-2.1.0-rtm.5.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("sarif.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("sarif.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSARIFValidatesAgainstSchema(t *testing.T) {
	schema := sarifSchema(t)
	for name, l := range map[string]diag.List{"sample": sample(), "clean": nil} {
		out := write(t, "sarif", l, sampleOpts)
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		if err := schema.Validate(doc); err != nil {
			t.Errorf("%s: SARIF output does not validate:\n%v", name, err)
		}
	}
	// The validator is not vacuous: a result with a bad level fails.
	bad := strings.Replace(string(write(t, "sarif", sample(), sampleOpts)), `"level": "warning"`, `"level": "severe"`, 1)
	doc, _ := jsonschema.UnmarshalJSON(strings.NewReader(bad))
	if schema.Validate(doc) == nil {
		t.Error("schema accepted level \"severe\"")
	}
}

func TestSARIFContent(t *testing.T) {
	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Rules []struct{ ID string } `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID       string `json:"ruleId"`
				RuleIndex    int    `json:"ruleIndex"`
				Level        string `json:"level"`
				Suppressions []any  `json:"suppressions"`
				Locations    []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }                 `json:"artifactLocation"`
						Region           struct{ StartLine, StartColumn int } `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	opts := sampleOpts
	opts.PathPrefix = "specs-repo/"
	if err := json.Unmarshal(write(t, "sarif", sample(), opts), &log); err != nil {
		t.Fatal(err)
	}
	run := log.Runs[0]
	for _, r := range run.Results {
		if run.Tool.Driver.Rules[r.RuleIndex].ID != r.RuleID {
			t.Errorf("result %s has ruleIndex %d pointing at %s", r.RuleID, r.RuleIndex, run.Tool.Driver.Rules[r.RuleIndex].ID)
		}
	}
	r := run.Results[1]
	if r.Level != "error" || r.Locations[0].PhysicalLocation.ArtifactLocation.URI != "specs-repo/specs/deploy,ments.cue" ||
		r.Locations[0].PhysicalLocation.Region.StartLine != 12 || r.Locations[0].PhysicalLocation.Region.StartColumn != 20 {
		t.Errorf("deny result: %+v", r)
	}
	if w := run.Results[3]; len(w.Suppressions) != 1 {
		t.Errorf("waived result has no suppression: %+v", w)
	}
	if len(run.Tool.Driver.Rules) != 6 { // 5 codes + the clean rule "owners"
		t.Errorf("want 6 rules, got %d", len(run.Tool.Driver.Rules))
	}
}

func TestGitHubAnnotations(t *testing.T) {
	lines := strings.Split(strings.TrimSpace(string(write(t, "github", sample(), Options{PathPrefix: "repo/"}))), "\n")
	want := []string{
		`::error file=repo/specs/m.cue,line=7,col=3,title=E032::unknown field "taks"; did you mean "task"? [models/churn.taks]`,
		// Commas and colons in properties, newlines and percent signs in the message, are escaped.
		`::error file=repo/specs/deploy%2Cments.cue,line=12,col=20,title=canary_traffic%3A First canary traffic is at most 10%25::canary of deployment "api" starts at 25%25 of traffic, 100%25 | 50%25: too much%0Asecond line [deployments/api.rollout.traffic_percent]`,
		`::warning file=repo/prompts.cue,line=3,title=deprecated_models%3A Deprecated LLM model ids::model id "gpt-4-0613" is deprecated on 2025-06-06 (in 30 days); plan the move [prompts/answer.model.id]`,
		`::notice file=repo/specs/deploy%2Cments.cue,line=2,col=1,title=prod_slo%3A Every prod deployment has an SLO::waived: deployment "api" serves prod but no SLO names it [deployments/api.alias] (waived by @acme/risk until 2026-02-01: SLO lands next sprint)`,
		`::error title=team_rule::a violation with no object <b>*bold*</b>`,
		`1 error, 2 denied, 1 warning, 1 waived`,
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d:\ngot  %s\nwant %s", i, lines[i], want[i])
		}
	}
}

func TestJUnitParses(t *testing.T) {
	var suites junitSuites
	if err := xml.Unmarshal(write(t, "junit", sample(), sampleOpts), &suites); err != nil {
		t.Fatal(err)
	}
	skipped := 0
	for _, s := range suites.Suites {
		skipped += s.Skipped
	}
	if suites.Tests != 6 || suites.Failures != 2 || suites.Errors != 1 || skipped != 1 {
		t.Errorf("totals: tests=%d failures=%d errors=%d skipped=%d, want 6/2/1/1", suites.Tests, suites.Failures, suites.Errors, skipped)
	}
	// Jenkins' schema accepts it.
	junittest.Valid(t, "check --format junit", write(t, "junit", sample(), sampleOpts))
}

func TestMarkdownKeepsOneRowPerDiagnostic(t *testing.T) {
	out := string(write(t, "markdown", sample(), sampleOpts))
	rows := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "| ") && !strings.HasPrefix(line, "| |") {
			rows++
			// An unescaped pipe would add a cell: every row has exactly 6 separators.
			if n := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|"); n != 6 {
				t.Errorf("row has %d cell separators: %s", n, line)
			}
		}
	}
	if rows != len(sample()) {
		t.Errorf("want %d rows, got %d:\n%s", len(sample()), rows, out)
	}
	if !strings.HasPrefix(out, "### ❌ cairn check: 1 error, 2 denied, 1 warning, 1 waived\n") {
		t.Errorf("heading: %q", strings.SplitN(out, "\n", 2)[0])
	}
}
