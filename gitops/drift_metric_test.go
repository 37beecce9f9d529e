package gitops

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/data"
	"github.com/cairn-dev/cairn/internal/tooltest"
	"github.com/cairn-dev/cairn/targets"
)

// The drift alerts cairn renders read targets.DriftMetric; /metrics exports
// it from the drift evidence in the state, and the series scraped from it
// fire the alert in promtool (a test that fails if the names, labels or
// values the alert selects on and the ones exported ever part).
func TestDriftScoresAreExportedForTheAlerts(t *testing.T) {
	f := newFixture(t)
	f.cfg.Metrics = NewMetrics()
	r := f.reconciler(t)
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()

	_, body := get(t, srv.URL+"/metrics")
	if strings.Contains(body, targets.DriftMetric+"{") {
		t.Fatalf("drift scores exported before any drift was recorded:\n%s", body)
	}
	res := &data.DriftResult{Model: "fraud-detector", Method: "psi", EvidenceID: "sha256:e1", Features: []*data.FeatureDrift{
		{Feature: "txn-amount", Statistic: 0.4649, Threshold: 0.2, Drifted: true},
		{Feature: "merchant-category", Statistic: 0.01, Threshold: 0.2},
	}}
	if err := data.RecordDrift(context.Background(), f.st, res); err != nil {
		t.Fatal(err)
	}
	_, body = get(t, srv.URL+"/metrics")
	re := regexp.MustCompile(`(?m)^` + targets.DriftMetric + `\{([^}]*)\} (\S+)$`)
	got := re.FindAllStringSubmatch(body, -1)
	if len(got) != 2 || got[1][1] != `feature="txn-amount",method="psi",model="fraud-detector"` || got[1][2] != "0.4649" {
		t.Fatalf("exported %q\n%s", got, body)
	}

	bin := tooltest.Find(t, "make tools: apt-get install --no-install-recommends prometheus", "promtool")
	// The drift alert the fraud example renders, as written to rendered/.
	b, ds := compiler.Compile("../examples/fraud-detection", compiler.Options{})
	if b == nil || len(ds.Blocking()) > 0 {
		t.Fatalf("compile: %v", ds)
	}
	files, err := targets.Render(targets.Input{Bundle: b}, targets.TargetPrometheus)
	if err != nil {
		t.Fatal(err)
	}
	var rules []byte
	for _, f := range files {
		if f.Path == "prometheus/drift-fraud-detector.rules.yaml" {
			rules = f.Content
		}
	}
	if rules == nil {
		t.Fatal("the fraud example renders no drift rules")
	}
	dir := t.TempDir()
	var series strings.Builder
	for _, m := range got {
		fmt.Fprintf(&series, "      - series: '%s{%s}'\n        values: '%sx10'\n", targets.DriftMetric, m[1], m[2])
	}
	test := `rule_files: [rules.yaml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
` + series.String() + `    alert_rule_test:
      - eval_time: 5m
        alertname: FraudDetectorFeatureDrift
        exp_alerts:
          - exp_labels: {model: fraud-detector, feature: txn-amount, severity: ticket, category: drift, cairn_project: fraud-detection}
            exp_annotations:
              summary: 'Feature txn-amount of model fraud-detector drifted: psi score 0.4649 over 0.2'
              description: 'Monitored features: txn-amount,merchant-category,account-age-days.'

`
	os.WriteFile(filepath.Join(dir, "rules.yaml"), rules, 0o644)
	os.WriteFile(filepath.Join(dir, "test.yaml"), []byte(test), 0o644)
	cmd := exec.Command(bin, "test", "rules", "test.yaml")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool test rules on the scraped series: %v\n%s\n%s", err, out, test)
	}
}
