package compare

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/state"
)

// TestVersions compares fraud-detector 7 and 8 of the example: parameters
// and data marked where they differ; a claimed metric compared only on the
// same dataset digest; the computed metrics on the same prediction rows
// with their intervals; each alias's gates for both versions.
func TestVersions(t *testing.T) {
	ctx := context.Background()
	b, ds := compiler.Compile(filepath.Join("..", "examples", "fraud-detection"), compiler.Options{})
	if b == nil || len(ds) > 0 {
		t.Fatalf("compile: %v", ds)
	}
	st, err := state.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	reg := func(v string, auc, fpr float64, run *state.TrainingRun, feats ...string) {
		t.Helper()
		if _, err := st.RegisterModelVersion(ctx, state.ModelVersion{Model: "fraud-detector", Version: v, ArtifactURI: "s3://m/" + v, RegisteredAt: at,
			Metrics: map[string]float64{"auc": auc, "false_positive_rate": fpr}, Features: feats, Run: run}); err != nil {
			t.Fatal(err)
		}
	}
	reg("7", 0.94, 0.03, &state.TrainingRun{Params: map[string]string{"max_depth": "6", "eta": "0.1"},
		Inputs:         []state.DataInput{{Name: "txns", Digest: "sha256:aa"}},
		MetricDatasets: map[string]string{"auc": "d-oct", "false_positive_rate": "d-oct"}}, "txn-amount", "merchant-category")
	reg("8", 0.95, 0.02, &state.TrainingRun{Params: map[string]string{"max_depth": "8", "eta": "0.1", "subsample": "0.8"},
		Inputs:         []state.DataInput{{Name: "txns", Digest: "sha256:bb"}},
		MetricDatasets: map[string]string{"auc": "d-nov", "false_positive_rate": "d-oct"}}, "txn-amount", "account-age-days")

	c, err := Versions(ctx, b, st, "fraud-detector", "7", "8")
	if err != nil {
		t.Fatal(err)
	}
	params := map[string]Param{}
	for _, p := range c.Params {
		params[p.Name] = p
	}
	if !params["max_depth"].Differs || params["eta"].Differs || params["subsample"].A != "" || params["subsample"].B != "0.8" {
		t.Errorf("params %+v", c.Params)
	}
	if len(c.Inputs) != 1 || !c.Inputs[0].Differs || strings.Join(c.FeaturesOnlyA, ",") != "merchant-category" || strings.Join(c.FeaturesOnlyB, ",") != "account-age-days" {
		t.Errorf("inputs %+v, features only A %v, only B %v", c.Inputs, c.FeaturesOnlyA, c.FeaturesOnlyB)
	}
	byKey := map[string]Metric{}
	for _, m := range c.Metrics {
		byKey[m.Source+" "+m.Name] = m
	}
	if m := byKey["claimed auc"]; m.Comparable || m.Diff != nil || !strings.Contains(m.Note, "different datasets (d-oct vs d-nov)") {
		t.Errorf("auc on different datasets: %+v", m)
	}
	if m := byKey["claimed false_positive_rate"]; !m.Comparable || m.Diff == nil || *m.Diff > -0.0099 || *m.Diff < -0.0101 {
		t.Errorf("fpr on the same dataset: %+v", m)
	}
	m, ok := byKey["computed fraud-fairness auc"]
	if !ok || !m.Comparable || m.Low == nil || m.High == nil || *m.Low > *m.Diff || *m.High < *m.Diff || !strings.Contains(m.Note, "1200 paired rows") {
		t.Errorf("computed auc: %+v (metrics %+v)", m, c.Metrics)
	}
	gates := map[string]Gate{}
	for _, g := range c.Gates {
		gates[g.Alias] = g
	}
	if len(gates) != 2 || !strings.HasPrefix(gates["prod"].A, "blocked: ") || !strings.Contains(gates["prod"].B, "explanation") {
		t.Errorf("gates %+v", c.Gates)
	}

	var text, mdown bytes.Buffer
	if err := c.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteMarkdown(&mdown); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"≠ max_depth: 6 | 8", "= eta: 0.1 | 0.1", "≠ txns: sha256:aa | sha256:bb", "not comparable: measured on different datasets"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	if !strings.Contains(mdown.String(), `| ≠ param max\_depth | 6 | 8 |`) {
		t.Errorf("markdown:\n%s", mdown.String())
	}

	if _, err := Versions(ctx, b, st, "fraud-detector", "7", "9"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("an unregistered version: %v", err)
	}
}
