package evals

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/internal/junit"
	"github.com/cairn-dev/cairn/internal/junit/junittest"
)

// A suite gates on its metrics' aggregates: when they pass, a case below its
// own bound is not a JUnit failure (CI would go red on a passing gate); when
// they fail, the metric and the failing cases are failures.
func TestJUnitFollowsTheSuiteVerdict(t *testing.T) {
	v := 0.8
	mk := func(pass bool) *Run {
		return &Run{Suite: "qa", Passed: pass, Status: map[bool]Status{true: Pass, false: Fail}[pass],
			Metrics: []Aggregate{{Name: "exact", Scorer: "exact", Aggregate: "mean", Value: &v, Threshold: map[bool]float64{true: 0.7, false: 0.9}[pass], Op: ">=", Pass: pass, Cases: 5}},
			Cases: []CaseResult{
				{ID: "a", Repeat: 1, Status: Pass, Metrics: map[string]MetricResult{}},
				{ID: "b", Repeat: 1, Status: Fail, Metrics: map[string]MetricResult{"exact": {Status: Fail}}},
			}}
	}
	for _, c := range []struct {
		pass             bool
		failures, errors int
		want             string
	}{
		{true, 0, 0, "below its case bound; the suite passed on its aggregates"},
		{false, 2, 0, "exact = 0.8, needs &gt;= 0.9"},
	} {
		var b bytes.Buffer
		if err := WriteJUnit(&b, []*Run{mk(c.pass)}); err != nil {
			t.Fatal(err)
		}
		var s junit.Suites
		if err := xml.Unmarshal(b.Bytes(), &s); err != nil {
			t.Fatal(err)
		}
		if s.Tests != 3 || s.Failures != c.failures || s.Errors != c.errors {
			t.Errorf("passed=%v: tests=%d failures=%d errors=%d, want 3/%d/%d\n%s", c.pass, s.Tests, s.Failures, s.Errors, c.failures, c.errors, b.String())
		}
		if !strings.Contains(b.String(), c.want) {
			t.Errorf("passed=%v: report lacks %q\n%s", c.pass, c.want, b.String())
		}
		junittest.Valid(t, "eval --format junit", b.Bytes())
	}
}
