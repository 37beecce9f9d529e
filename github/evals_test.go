package github

import (
	"fmt"
	"testing"

	"github.com/cairn-dev/cairn/evals"
)

func TestFromEvals(t *testing.T) {
	run := func(fact, tox float64, cases map[string]evals.Status) *evals.Run {
		r := &evals.Run{Suite: "support-quality", Target: "prompts/support-answer",
			Metrics: []evals.Aggregate{
				{Name: "toxicity", Value: f64(tox), Threshold: 0.05, Op: "<=", Pass: tox <= 0.05},
				{Name: "factuality", Value: f64(fact), Threshold: 0.8, Op: ">=", Pass: fact >= 0.8},
			}}
		for _, id := range []string{"a", "b", "c", "d"} {
			st, ok := cases[id]
			if !ok {
				continue
			}
			c := evals.CaseResult{ID: id, Status: st, Metrics: map[string]evals.MetricResult{
				"factuality": {Pass: st == evals.Pass, Reason: "reference says 30 days"},
				"toxicity":   {Pass: true},
			}}
			if st == evals.Error {
				c.Error = "provider: 500 Internal Server Error"
				r.Errors++
			}
			r.Cases = append(r.Cases, c)
		}
		return r
	}
	base := run(0.9, 0.01, map[string]evals.Status{"a": evals.Pass, "b": evals.Pass, "c": evals.Pass})
	head := run(0.7, 0.02, map[string]evals.Status{"a": evals.Pass, "b": evals.Fail, "d": evals.Error})
	got := FromEvals(base, head)
	if got.Suite != "support-quality" || got.Target != "prompts/support-answer" || got.Errors != 1 || got.Removed {
		t.Errorf("suite fields: %+v", got)
	}
	wantM := "[{factuality 0.9 0.7 >=0.8} {toxicity 0.01 0.02 <=0.05}]"
	var gotM []string
	for _, m := range got.Metrics {
		op := ">="
		if m.LowerIsBetter {
			op = "<="
		}
		gotM = append(gotM, fmt.Sprintf("{%s %v %v %s%v}", m.Name, *m.Base, *m.Head, op, *m.Threshold))
	}
	if fmt.Sprint(gotM) != wantM {
		t.Errorf("metrics %v, want %v", gotM, wantM)
	}
	want := []CaseChange{
		{ID: "b", Metric: "factuality", Base: "PASS", Head: "FAIL", Note: "reference says 30 days"},
		{ID: "c", Metric: "factuality", Base: "PASS", Head: "", Note: "reference says 30 days"},
		{ID: "d", Base: "", Head: "ERROR", Note: "provider: 500 Internal Server Error"},
	}
	// c passed on base: its metrics pass, so no failing metric is named.
	want[1].Metric, want[1].Note = "", ""
	if fmt.Sprint(got.Changed) != fmt.Sprint(want) {
		t.Errorf("changed\n got %+v\nwant %+v", got.Changed, want)
	}
	if c := (Report{Evals: []SuiteDelta{got}}).Conclusion(); c != Failure {
		t.Errorf("factuality 0.7 < 0.8: conclusion %s", c)
	}

	removed := FromEvals(base, nil)
	if !removed.Removed || removed.Metrics[0].Head != nil {
		t.Errorf("removed suite: %+v", removed)
	}
	if c := (Report{Evals: []SuiteDelta{removed}}).Conclusion(); c != Success {
		t.Errorf("removed suite: conclusion %s, want success", c)
	}
	errd := FromEvals(nil, run(0.9, 0.01, map[string]evals.Status{"a": evals.Pass, "d": evals.Error}))
	if c := (Report{Evals: []SuiteDelta{errd}}).Conclusion(); c != Neutral {
		t.Errorf("errored cases only: conclusion %s, want neutral", c)
	}
}
