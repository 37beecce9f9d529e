package prices

import (
	"strings"
	"testing"
)

func TestDefaultCatalog(t *testing.T) {
	c := Default()
	if c.Date() != "2025-11-21" {
		t.Errorf("Date = %q", c.Date())
	}
	if c.Len() < 1000 {
		t.Errorf("only %d models", c.Len())
	}
}

func TestLookup(t *testing.T) {
	c := Default()
	over := map[string]Price{"my-llama": {InputUSDPerMTok: 0.1, OutputUSDPerMTok: 0.2}, "gpt-4o": {InputUSDPerMTok: 1, OutputUSDPerMTok: 2}}
	cases := []struct {
		id        string
		over      map[string]Price
		want      Price
		source    string
		errSubstr string
	}{
		{"gpt-4o", nil, Price{2.5, 10}, "catalog:2025-11-21", ""},
		{"gpt-4o-mini", nil, Price{0.15, 0.6}, "catalog:2025-11-21", ""},
		{"openai/gpt-4o-mini", nil, Price{0.15, 0.6}, "catalog:2025-11-21", ""},
		{"GPT-4o", nil, Price{2.5, 10}, "catalog:2025-11-21", ""},
		{"azure/gpt-4o", nil, Price{2.5, 10}, "catalog:2025-11-21", ""},
		{"gpt-4o", over, Price{1, 2}, "provider", ""},
		{"my-llama", over, Price{0.1, 0.2}, "provider", ""},
		{"my-llama", nil, Price{}, "", `no price for model "my-llama"`},
		{"gpt-4o-minii", nil, Price{}, "", `did you mean "gpt-4o-mini`},
		{"", nil, Price{}, "", "no model id"},
	}
	for _, tc := range cases {
		p, src, err := c.Lookup(tc.id, tc.over)
		if tc.errSubstr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errSubstr) {
				t.Errorf("Lookup(%q) err = %v, want %q", tc.id, err, tc.errSubstr)
			}
			if p != (Price{}) {
				t.Errorf("Lookup(%q) returned a price with an error", tc.id)
			}
			continue
		}
		if err != nil || p != tc.want || src != tc.source {
			t.Errorf("Lookup(%q) = %v, %q, %v; want %v, %q", tc.id, p, src, err, tc.want, tc.source)
		}
	}
}

func TestCostExact(t *testing.T) {
	p := Price{InputUSDPerMTok: 0.15, OutputUSDPerMTok: 0.6}
	if got := Cost(p, 1000, 500); got != 0.00045 {
		t.Errorf("Cost = %v, want 0.00045", got)
	}
	// 0.1 + 0.2 in float64 is 0.30000000000000004; decimal sums are exact.
	if got := Sum(0.1, 0.2); got != 0.3 {
		t.Errorf("Sum = %v", got)
	}
	if got := Cost(Price{2.5, 10}, 1_000_000, 1_000_000); got != 12.5 {
		t.Errorf("Cost = %v", got)
	}
}

func TestParseRejectsBadCatalog(t *testing.T) {
	for _, in := range []string{`{`, `{"models":{}}`, `{"date":"2025-01-01","models":{"x":{"in":1}}}`, `{"date":"2025-01-01","models":{"x":{"in":-1,"out":1}}}`} {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("Parse(%s) accepted", in)
		}
	}
}
