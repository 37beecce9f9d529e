package evals

import (
	"bytes"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/cairn-dev/cairn/internal/chromiumtest"
)

const hostile = `<script>console.error("xss")</script><img src=x onerror="console.error('xss')">`

func comparePair() Pair {
	f := func(v float64) *float64 { return &v }
	base := &Run{Suite: "support-quality", Target: "prompts/support-answer", Status: Pass, Passed: true, CostUSD: 0.0012, InputTokens: 900, OutTokens: 300,
		Metrics: []Aggregate{{Name: "factuality", Scorer: "factuality", Aggregate: "mean", Value: f(0.82), Threshold: 0.7, Op: ">=", Pass: true, Cases: 3}},
		Cases: []CaseResult{
			{ID: "q-refund", Repeat: 1, Status: Pass, Output: "Refunds take 5 days."},
			{ID: "q-ship", Repeat: 1, Status: Pass, Output: "Shipping is free over 50 EUR."},
			{ID: "q-steady", Repeat: 1, Status: Pass, Output: "Same answer."},
		}}
	head := &Run{Suite: "support-quality", Target: "prompts/support-answer", Status: Fail, CostUSD: 0.0019, InputTokens: 1200, OutTokens: 420,
		Metrics: []Aggregate{{Name: "factuality", Scorer: "factuality", Aggregate: "mean", Value: f(0.61), Threshold: 0.7, Op: ">=", Pass: false, Cases: 3,
			Approximation: "offline approximation, not a judge"}},
		Cases: []CaseResult{
			{ID: "q-refund", Repeat: 1, Status: Fail, Output: hostile},
			{ID: "q-ship", Repeat: 1, Status: Pass, Output: "Shipping is free over 60 EUR."},
			{ID: "q-steady", Repeat: 1, Status: Pass, Output: "Same answer."},
		}}
	return Pair{Base: base, Head: head}
}

// The comparison page in headless Chromium: no console errors or network
// requests, the figures a reviewer looks for, the filters working, and a
// model output holding markup shown as text, never run.
func TestHTMLCompareInChromium(t *testing.T) {
	var b bytes.Buffer
	if err := WriteHTMLCompare(&b, []Pair{comparePair()}); err != nil {
		t.Fatal(err)
	}
	page := chromiumtest.Open(t, b.Bytes())
	page.Save(t, "eval-compare")
	if len(page.Problems) != 0 {
		t.Errorf("console and log problems: %q", page.Problems)
	}
	for _, want := range []string{"support-quality", "PASS → FAIL", "0.82", "0.61", "-0.21", ">= 0.7", "regressed",
		"$0.001200", "$0.001900", "+0.000700 USD", hostile, "offline approximation", "3 of 3 cases shown"} {
		if !strings.Contains(page.Text, want) {
			t.Errorf("the page does not show %q:\n%s", want, page.Text)
		}
	}
	failing := chromiumtest.Open(t, b.Bytes(), chromedp.Click(chromedp.CSS("#only-failing")))
	if !strings.Contains(failing.Text, "1 of 3 cases shown") || strings.Contains(failing.Text, "q-ship") {
		t.Errorf("only failing:\n%s", failing.Text)
	}
	changed := chromiumtest.Open(t, b.Bytes(), chromedp.Click(chromedp.CSS("#only-changed")))
	if !strings.Contains(changed.Text, "2 of 3 cases shown") || strings.Contains(changed.Text, "q-steady") {
		t.Errorf("only changed:\n%s", changed.Text)
	}
}
