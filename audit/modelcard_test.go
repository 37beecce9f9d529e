package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/internal/chromiumtest"
)

// The fraud model's card, after an apply: the versions the state serves,
// the fairness eval computed from each one's predictions,
// and a waiver that holds markup — in Markdown, JSON and, as a reviewer sees
// it, HTML in headless Chromium.
func TestModelCard(t *testing.T) {
	b, st := appliedFraud(t)
	b.Governance.Waivers = append(b.Governance.Waivers, compiler.Waiver{Policy: "protected_features", Target: "evals/fraud-fairness",
		Reason: `<img src=x onerror="console.error('xss')">`, Approver: "@lead", Expires: "2026-03-20"})
	c, err := BuildModelCard(context.Background(), b, st, "fraud-detector", t0)
	must(t, err)
	if len(c.Versions) != 2 || c.Versions[0].Alias != "prod" || c.Versions[0].Version != "7" || c.Versions[0].Metrics["auc"] != 0.94 {
		t.Errorf("versions %+v", c.Versions)
	}
	if len(c.Evals) != 2 || c.Evals[0].Suite != "fraud-fairness" || c.Evals[0].Version != "7" || c.Evals[1].Version != "8" ||
		!c.Evals[0].Passed || c.Evals[0].Classic.Rows != 1200 {
		t.Fatalf("evals %+v", c.Evals)
	}
	if len(c.Waivers) != 1 || c.Waivers[0].Status != "active" {
		t.Errorf("waivers %+v", c.Waivers)
	}
	var md, js, html bytes.Buffer
	must(t, WriteModelCard(&md, c, "markdown"))
	must(t, WriteModelCard(&js, c, "json"))
	must(t, WriteModelCard(&html, c, "html"))
	for _, want := range []string{"| prod | 7 |", "**parity by region**", "## Eval fraud-fairness (version 8): PASS", "| south | 360 | 0.225 |", "**Calibration**", "&lt;img src=x"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	if !json.Valid(js.Bytes()) {
		t.Error("JSON card is not JSON")
	}
	page := chromiumtest.Open(t, html.Bytes())
	page.Save(t, "model-card")
	if len(page.Problems) != 0 {
		t.Errorf("problems: %q", page.Problems)
	}
	for _, want := range []string{"Model card: fraud-detector", "Intended use. Gradient-boosted fraud classifier", "parity by region",
		"age_band=90+ (small)", "Calibration", `<img src=x onerror="console.error('xss')">`} {
		if !strings.Contains(page.Text, want) {
			t.Errorf("the card does not show %q:\n%s", want, page.Text)
		}
	}
	if !strings.Contains(html.String(), "<polyline points=") {
		t.Error("no calibration curve in the HTML card")
	}
}
