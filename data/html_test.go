package data

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/internal/chromiumtest"
)

// The drift page in headless Chromium: no console errors or requests, a
// histogram bar per bin and sample, the figures, and a category value that
// holds markup shown as text.
func TestDriftHTMLInChromium(t *testing.T) {
	up := func(v float64) *float64 { return &v }
	cat := func(s string) *string { return &s }
	hostile := `<img src=x onerror="console.error('xss')">`
	tvd := 0.3
	r := &DriftResult{Model: "fraud-detector", Method: "psi", Threshold: 0.2, Drifted: true, EvidenceID: "sha256:abc",
		Reference: Fingerprint{Path: "ref.parquet", SHA256: "sha256:r"}, Current: Fingerprint{Path: "cur.parquet", SHA256: "sha256:c"},
		Features: []*FeatureDrift{
			{Feature: "txn-amount", Type: "numeric", DType: "float", PSI: 0.4649, Statistic: 0.4649, Threshold: 0.2, Drifted: true,
				KS:        &KSResult{Statistic: 0.31, PValue: 1e-9, Exact: true},
				Bins:      []PSIBin{{Upper: up(10), Reference: 0.5, Current: 0.2}, {Upper: up(100), Reference: 0.3, Current: 0.3}, {Reference: 0.2, Current: 0.5}},
				Reference: SampleStats{Rows: 1000}, Current: SampleStats{Rows: 1000, Nulls: 3}},
			{Feature: "merchant-category", Type: "categorical", DType: "string", PSI: 0.05, Statistic: 0.05, Threshold: 0.2, TVD: &tvd,
				Bins: []PSIBin{{Category: cat("grocery"), Reference: 0.6, Current: 0.55}, {Category: cat(hostile), Reference: 0.4, Current: 0.45}}},
		}}
	var b bytes.Buffer
	if err := r.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(b.String(), "<rect "); n != 10 {
		t.Errorf("%d bars, want 2 per bin (10)", n)
	}
	page := chromiumtest.Open(t, b.Bytes())
	page.Save(t, "drift")
	if len(page.Problems) != 0 {
		t.Errorf("problems: %q", page.Problems)
	}
	for _, want := range []string{"cairn drift: fraud-detector drifted", "txn-amount (numeric, float): drifted", "PSI 0.4649", "KS D 0.3100 (p 1e-09)",
		"merchant-category (categorical, string): ok", "total variation 0.3000", "rows 1000 → 1000, nulls 0 → 3", "(10, 100]", "(100, +∞)", hostile} {
		if !strings.Contains(page.Text, want) {
			t.Errorf("the page does not show %q:\n%s", want, page.Text)
		}
	}
}
