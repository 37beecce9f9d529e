package targets

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/internal/promql"
	"github.com/shopspring/decimal"
)

// Metrics the LLM serving side exposes for cost alerts, labelled with the deployment name.
const (
	CostMetric     = "cairn_llm_cost_usd_total"
	RequestsMetric = "cairn_llm_requests_total"
)

// sliWindows are the windows every SLI is recorded over (the burn-rate alert windows).
var sliWindows = []string{"5m", "30m", "1h", "2h", "6h", "1d", "3d"}

// burnAlert is one multi-window pair of the multi-window multi-burn-rate
// alerts (Google SRE workbook, ch. 5): the base factor is for a 30-day window.
type burnAlert struct {
	short, long string
	factor      decimal.Decimal
}

var (
	pageWindows = []burnAlert{
		{"5m", "1h", decimal.RequireFromString("14.4")},
		{"30m", "6h", decimal.RequireFromString("6")},
	}
	ticketWindows = []burnAlert{
		{"2h", "1d", decimal.RequireFromString("3")},
		{"6h", "3d", decimal.RequireFromString("1")},
	}
)

// Prometheus rule file structures; struct fields keep the conventional key order.
type ruleFile struct {
	Groups []ruleGroup `yaml:"groups"`
}

type ruleGroup struct {
	Name  string `yaml:"name"`
	Rules []rule `yaml:"rules"`
}

type rule struct {
	Record      string            `yaml:"record,omitempty"`
	Alert       string            `yaml:"alert,omitempty"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

// promtool unit test file structures.
type testFile struct {
	RuleFiles          []string   `yaml:"rule_files"`
	EvaluationInterval string     `yaml:"evaluation_interval"`
	Tests              []ruleTest `yaml:"tests"`
}

type ruleTest struct {
	Name           string          `yaml:"name"`
	Interval       string          `yaml:"interval"`
	InputSeries    []inputSeries   `yaml:"input_series"`
	AlertRuleTests []alertRuleTest `yaml:"alert_rule_test"`
}

type inputSeries struct {
	Series string `yaml:"series"`
	Values string `yaml:"values"`
}

type alertRuleTest struct {
	EvalTime  string     `yaml:"eval_time"`
	Alertname string     `yaml:"alertname"`
	ExpAlerts []expAlert `yaml:"exp_alerts"`
}

type expAlert struct {
	ExpLabels      map[string]string `yaml:"exp_labels"`
	ExpAnnotations map[string]string `yaml:"exp_annotations"`
}

// sloRules is everything rendered for one SLO.
type sloRules struct {
	slo        *compiler.SLO
	base       map[string]string // labels on every recorded series
	budget     decimal.Decimal   // error budget ratio, exact
	days       int
	windowSel  string // selector for this SLO's recorded series
	sliQuery   func(window string) string
	testSeries func(firing bool) ([]inputSeries, decimal.Decimal, bool) // series and the error ratio they produce
}

// renderPrometheus writes, per SLO, a rules file and a promtool test file beside it.
func renderPrometheus(r *run) error {
	for _, name := range slices.Sorted(maps.Keys(r.b.SLOs)) {
		s := r.b.SLOs[name]
		sr, ok := r.newSLORules(s)
		if !ok {
			continue
		}
		groups := []ruleGroup{sr.sliGroup(), sr.metaGroup(), sr.alertGroup()}
		var tests []ruleTest
		tests = append(tests, sr.burnTests()...)
		if g, t, ok := r.costRules(sr); ok {
			groups = append(groups, g)
			tests = append(tests, t...)
		}
		rulesPath := "prometheus/" + s.Name + ".rules.yaml"
		r.add(rulesPath, r.yamlDocs(ruleFile{Groups: groups}))
		if len(tests) > 0 {
			r.add("prometheus/"+s.Name+".rules.test.yaml", r.yamlDocs(testFile{
				RuleFiles: []string{s.Name + ".rules.yaml"}, EvaluationInterval: "1m", Tests: tests,
			}))
		}
	}
	r.driftRules()
	r.rolloutRules()
	r.alertmanagerConfig()
	return nil
}

// ErrorBudget is 1 − objective/100 in exact decimal: 99.9 → 0.001.
func ErrorBudget(objective float64) decimal.Decimal {
	return decimal.NewFromInt(1).Sub(decimal.NewFromFloat(objective).Div(decimal.NewFromInt(100)))
}

// BurnFactor scales a 30-day burn-rate factor to an SLO window of days:
// the factor is "budget consumed" × window ÷ alert window, so it is
// proportional to the window (14.4 at 30d is 13.44 at 28d).
func BurnFactor(base decimal.Decimal, days int) decimal.Decimal {
	return base.Mul(decimal.NewFromInt(int64(days))).Div(decimal.NewFromInt(30))
}

func windowDays(w string) (int, bool) {
	switch w {
	case "", "30d":
		return 30, true
	case "28d":
		return 28, true
	}
	return 0, false
}

func (r *run) newSLORules(s *compiler.SLO) (*sloRules, bool) {
	obj := "slos/" + s.Name
	days, ok := windowDays(s.Window)
	if !ok {
		r.errorf(obj, "window", "slos/%s: window %q is not 30d or 28d", s.Name, s.Window)
		return nil, false
	}
	if s.Objective <= 0 || s.Objective >= 100 {
		r.errorf(obj, "objective", "slos/%s: objective %v is not a percentage between 0 and 100", s.Name, s.Objective)
		return nil, false
	}
	sr := &sloRules{
		slo:    s,
		budget: ErrorBudget(s.Objective),
		days:   days,
		// cairn's own labels, and the ones Sloth's and Pyrra's dashboards
		// select on (sloth_id/service/slo, Pyrra's slo), so either's
		// Grafana dashboards show cairn's SLOs unchanged.
		base: map[string]string{
			"cairn_project":    r.b.Project.Name,
			"cairn_slo":        s.Name,
			"cairn_deployment": s.Deployment,
			"sloth_id":         s.Deployment + "-" + s.Name,
			"sloth_service":    s.Deployment,
			"sloth_slo":        s.Name,
			"slo":              s.Name,
		},
	}
	sr.windowSel = fmt.Sprintf(`{cairn_project=%q, cairn_slo=%q}`, r.b.Project.Name, s.Name)
	switch s.SLI.Kind {
	case "availability":
		errQ, errSel, err1 := windowed(s.SLI.Errors)
		totQ, totSel, err2 := windowed(s.SLI.Total)
		if err1 != nil {
			r.errorf(obj, "sli.errors", "slos/%s: sli.errors %q: %v", s.Name, s.SLI.Errors, err1)
		}
		if err2 != nil {
			r.errorf(obj, "sli.total", "slos/%s: sli.total %q: %v", s.Name, s.SLI.Total, err2)
		}
		if err1 != nil || err2 != nil {
			return nil, false
		}
		sr.sliQuery = func(w string) string {
			return "(" + errQ(w) + ")\n/\n(" + totQ(w) + ")\n"
		}
		sr.testSeries = func(firing bool) ([]inputSeries, decimal.Decimal, bool) {
			return availabilitySeries(errSel, totSel, firing)
		}
	case "latency":
		ps, err := promql.ParseSelector(s.SLI.Metric)
		if err != nil {
			r.errorf(obj, "sli.metric", "slos/%s: sli.metric %q must be a histogram metric selector: %v", s.Name, s.SLI.Metric, err)
			return nil, false
		}
		if s.SLI.ThresholdMS <= 0 {
			r.errorf(obj, "sli.threshold_ms", "slos/%s: sli.threshold_ms %v is not a positive number of milliseconds", s.Name, s.SLI.ThresholdMS)
			return nil, false
		}
		sel := fromPromQL(ps)
		for _, suf := range []string{"_bucket", "_count", "_sum"} {
			sel.Name = strings.TrimSuffix(sel.Name, suf)
		}
		le := decimal.NewFromFloat(s.SLI.ThresholdMS).Div(decimal.NewFromInt(1000)).String()
		bucket := selector{Name: sel.Name + "_bucket", Matchers: sel.Matchers}
		count := selector{Name: sel.Name + "_count", Matchers: sel.Matchers}
		leM, leSeries := matcher{Label: "le", Op: "=", Value: le}, le
		if !strings.ContainsAny(le, ".eE") {
			// Prometheus 3 stores an integer bucket bound as "1.0" (it
			// normalises le at scrape), Prometheus 2 as written ("1"): match
			// both, and test with what Prometheus 3 stores.
			leM, leSeries = matcher{Label: "le", Op: "=~", Value: regexp.QuoteMeta(le) + `(\.0)?`}, le+".0"
		}
		sr.sliQuery = func(w string) string {
			return fmt.Sprintf("1 - (\n(sum(rate(%s[%s])))\n/\n(sum(rate(%s[%s])))\n)\n", bucket.String(leM), w, count.String(), w)
		}
		sr.testSeries = func(firing bool) ([]inputSeries, decimal.Decimal, bool) {
			labels, ok := sel.sampleLabels()
			if !ok {
				return nil, decimal.Zero, false
			}
			withLE := map[string]string{"le": leSeries}
			for k, v := range labels {
				withLE[k] = v
			}
			good, ratio := 100, decimal.Zero
			if firing {
				good, ratio = 1, decimal.RequireFromString("0.99")
			}
			return []inputSeries{
				{Series: seriesString(bucket.Name, withLE), Values: fmt.Sprintf("0+%dx180", good)},
				{Series: seriesString(count.Name, labels), Values: "0+100x180"},
			}, ratio, true
		}
	default:
		r.errorf(obj, "sli.kind", "slos/%s: unknown SLI kind %q", s.Name, s.SLI.Kind)
		return nil, false
	}
	return sr, true
}

// windowed turns an SLI expression into a function of the window with
// promql.WindowTemplate: a plain selector becomes sum(rate(sel[w])), a query
// with {{.window}} (as in Sloth) is filled in, and a query with literal
// ranges has each range replaced by the window. The selector of the common
// sum(rate(sel[w])) shape is returned for generating test series (nil for
// other shapes, which get no promtool test).
func windowed(expr string) (func(string) string, *selector, error) {
	tmpl, err := promql.WindowTemplate(expr)
	if err != nil {
		return nil, nil, err
	}
	f := func(w string) string { return promql.Expand(tmpl, w) }
	if ps, ok := promql.RateSelector(tmpl); ok {
		sel := fromPromQL(ps)
		return f, &sel, nil
	}
	return f, nil, nil
}

// availabilitySeries builds error and total counters for a promtool test and
// the error ratio they produce. A series matching the errors selector may
// also match the total selector (errors are usually a subset of requests).
func availabilitySeries(errSel, totSel *selector, firing bool) ([]inputSeries, decimal.Decimal, bool) {
	if errSel == nil || totSel == nil {
		return nil, decimal.Zero, false
	}
	el, ok1 := errSel.sampleLabels()
	tl, ok2 := totSel.sampleLabels()
	if !ok1 || !ok2 || errSel.matches(totSel.Name, tl) {
		// Without a total series that is not an error, no healthy traffic can be made.
		return nil, decimal.Zero, false
	}
	e, t := int64(0), int64(100)
	if firing {
		e, t = 99, 1
	}
	// Requests that failed are requests: when the error series is not also
	// a total series (errors_total beside requests_total), the total counter
	// counts them itself, so the ratio stays within 0..1.
	errs, total, totInc := e, t+e, t
	if !totSel.matches(errSel.Name, el) {
		totInc = t + e
	}
	series := []inputSeries{{Series: seriesString(totSel.Name, tl), Values: fmt.Sprintf("0+%dx180", totInc)}}
	if e > 0 {
		series = append(series, inputSeries{Series: seriesString(errSel.Name, el), Values: fmt.Sprintf("0+%dx180", e)})
	}
	return series, decimal.NewFromInt(errs).Div(decimal.NewFromInt(total)), true
}

func (sr *sloRules) labels(extra ...string) map[string]string {
	l := map[string]string{}
	for k, v := range sr.base {
		l[k] = v
	}
	for i := 0; i+1 < len(extra); i += 2 {
		l[extra[i]] = extra[i+1]
		switch extra[i] {
		case "cairn_window":
			l["sloth_window"] = extra[i+1]
		case "severity":
			l["sloth_severity"] = extra[i+1]
		}
	}
	return l
}

// alertLabels are an alert's own labels: severity and category, and the
// labels Sloth's alerts carry (sloth_id, sloth_service, sloth_slo,
// sloth_severity); the rest come from the series the alert fires on.
func (sr *sloRules) alertLabels(severity, category string, extra ...string) map[string]string {
	l := map[string]string{"severity": severity, "category": category, "sloth_id": sr.base["sloth_id"],
		"sloth_service": sr.base["sloth_service"], "sloth_slo": sr.base["sloth_slo"], "sloth_severity": severity, "slo": sr.base["slo"]}
	for i := 0; i+1 < len(extra); i += 2 {
		l[extra[i]] = extra[i+1]
	}
	return l
}

func (sr *sloRules) groupName(kind string) string {
	return "cairn-slo-" + kind + "-" + sr.base["cairn_project"] + "-" + sr.slo.Name
}

func (sr *sloRules) period() string { return strconv.Itoa(sr.days) + "d" }

func (sr *sloRules) sliGroup() ruleGroup {
	g := ruleGroup{Name: sr.groupName("sli-recordings")}
	for _, w := range sliWindows {
		g.Rules = append(g.Rules, rule{Record: "slo:sli_error:ratio_rate" + w, Expr: sr.sliQuery(w), Labels: sr.labels("cairn_window", w)})
	}
	p := sr.period()
	g.Rules = append(g.Rules, rule{
		Record: "slo:sli_error:ratio_rate" + p,
		Expr: fmt.Sprintf("sum_over_time(slo:sli_error:ratio_rate5m%s[%s])\n/ ignoring (cairn_window, sloth_window)\ncount_over_time(slo:sli_error:ratio_rate5m%s[%s])\n",
			sr.windowSel, p, sr.windowSel, p),
		Labels: sr.labels("cairn_window", p),
	})
	return g
}

func (sr *sloRules) metaGroup() ruleGroup {
	objective := decimal.NewFromFloat(sr.slo.Objective).Div(decimal.NewFromInt(100))
	per := fmt.Sprintf("\n/ on(cairn_project, cairn_slo) group_left\nslo:error_budget:ratio%s\n", sr.windowSel)
	return ruleGroup{Name: sr.groupName("meta-recordings"), Rules: []rule{
		{Record: "slo:objective:ratio", Expr: "vector(" + objective.String() + ")", Labels: sr.labels()},
		{Record: "slo:error_budget:ratio", Expr: "vector(" + sr.budget.String() + ")", Labels: sr.labels()},
		{Record: "slo:time_period:days", Expr: "vector(" + strconv.Itoa(sr.days) + ")", Labels: sr.labels()},
		{Record: "slo:current_burn_rate:ratio", Expr: "slo:sli_error:ratio_rate5m" + sr.windowSel + per, Labels: sr.labels()},
		{Record: "slo:period_burn_rate:ratio", Expr: "slo:sli_error:ratio_rate" + sr.period() + sr.windowSel + per, Labels: sr.labels()},
		{Record: "slo:period_error_budget_remaining:ratio", Expr: "1 - slo:period_burn_rate:ratio" + sr.windowSel, Labels: sr.labels()},
		// Sloth's info series, which its dashboards list SLOs by.
		{Record: "sloth_slo_info", Expr: "vector(1)", Labels: sr.labels("sloth_mode", "cli-gen-prom", "sloth_spec", "prometheus/v1",
			"sloth_objective", decimal.NewFromFloat(sr.slo.Objective).String(), "sloth_version", "cairn")},
	}}
}

// alertName is the SLO's burn alert name: "fraud-availability" → "FraudAvailabilityErrorBudgetBurn".
func alertName(slo, suffix string) string {
	var b strings.Builder
	for _, part := range strings.Split(slo, "-") {
		if part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String() + suffix
}

func (sr *sloRules) burnExpr(pairs []burnAlert) string {
	var parts []string
	for _, p := range pairs {
		th := "(" + BurnFactor(p.factor, sr.days).String() + " * " + sr.budget.String() + ")"
		parts = append(parts, fmt.Sprintf("(\n    max(slo:sli_error:ratio_rate%s%s > %s) without (cairn_window, sloth_window)\n    and\n    max(slo:sli_error:ratio_rate%s%s > %s) without (cairn_window, sloth_window)\n)",
			p.short, sr.windowSel, th, p.long, sr.windowSel, th))
	}
	return strings.Join(parts, "\nor\n") + "\n"
}

func (sr *sloRules) alertRule(severity string, pairs []burnAlert) rule {
	return rule{
		Alert:       alertName(sr.slo.Name, "ErrorBudgetBurn"),
		Expr:        sr.burnExpr(pairs),
		Labels:      sr.alertLabels(severity, sr.slo.SLI.Kind),
		Annotations: sr.alertAnnotations(severity),
	}
}

func (sr *sloRules) alertAnnotations(severity string) map[string]string {
	return map[string]string{
		"summary": fmt.Sprintf("(%s) SLO %s of deployment %s is burning its error budget too fast", severity, sr.slo.Name, sr.slo.Deployment),
		"description": fmt.Sprintf("Objective %s%% over %s (error budget %s).",
			decimal.NewFromFloat(sr.slo.Objective).String(), sr.period(), sr.budget.String()),
	}
}

func (sr *sloRules) alertGroup() ruleGroup {
	return ruleGroup{Name: sr.groupName("alerts"), Rules: []rule{
		sr.alertRule("page", pageWindows),
		sr.alertRule("ticket", ticketWindows),
	}}
}

// burnTests: sustained errors fire the alerts whose thresholds the error
// ratio exceeds; healthy traffic fires none.
func (sr *sloRules) burnTests() []ruleTest {
	var tests []ruleTest
	for _, firing := range []bool{true, false} {
		series, ratio, ok := sr.testSeries(firing)
		if !ok {
			return nil
		}
		var exp []expAlert
		for _, sev := range []struct {
			name  string
			pairs []burnAlert
		}{{"page", pageWindows}, {"ticket", ticketWindows}} {
			fires := false
			for _, p := range sev.pairs {
				if ratio.GreaterThan(BurnFactor(p.factor, sr.days).Mul(sr.budget)) {
					fires = true
				}
			}
			if fires {
				exp = append(exp, expAlert{
					ExpLabels:      sr.labels("severity", sev.name, "category", sr.slo.SLI.Kind),
					ExpAnnotations: sr.alertAnnotations(sev.name),
				})
			}
		}
		name := "healthy traffic fires no burn alert"
		if firing {
			name = "an error ratio of " + ratio.StringFixed(4) + " fires the burn alerts it exceeds"
		}
		tests = append(tests, ruleTest{
			Name: name, Interval: "1m", InputSeries: series,
			AlertRuleTests: []alertRuleTest{{EvalTime: "2h", Alertname: alertName(sr.slo.Name, "ErrorBudgetBurn"), ExpAlerts: exp}},
		})
	}
	return tests
}

// costRules alerts when an LLM deployment's daily cost exceeds its budget:
// usd_per_month ÷ 30 per day, or usd_per_1k_requests over the last day.
func (r *run) costRules(sr *sloRules) (ruleGroup, []ruleTest, bool) {
	s := sr.slo
	if s.Budget == nil || (s.Budget.USDPerMonth == nil && s.Budget.USDPer1kRequests == nil) {
		return ruleGroup{}, nil, false
	}
	g := ruleGroup{Name: sr.groupName("cost-alerts")}
	var tests []ruleTest
	dep := fmt.Sprintf(`{deployment=%q}`, s.Deployment)
	costSeries := CostMetric + dep
	reqSeries := RequestsMetric + dep
	ann := func(what string) map[string]string {
		return map[string]string{"summary": fmt.Sprintf("LLM cost of deployment %s is over its budget of %s", s.Deployment, what)}
	}
	test := func(alert string, labels, annotations map[string]string, over, under []inputSeries) {
		for _, c := range []struct {
			name   string
			series []inputSeries
			fires  bool
		}{{"spending over budget fires " + alert, over, true}, {"spending nothing fires no " + alert, under, false}} {
			var exp []expAlert
			if c.fires {
				exp = []expAlert{{ExpLabels: labels, ExpAnnotations: annotations}}
			}
			tests = append(tests, ruleTest{Name: c.name, Interval: "1m", InputSeries: c.series,
				AlertRuleTests: []alertRuleTest{{EvalTime: "2h", Alertname: alert, ExpAlerts: exp}}})
		}
	}
	if m := s.Budget.USDPerMonth; m != nil {
		perDay := decimal.NewFromFloat(*m).Div(decimal.NewFromInt(30))
		name := alertName(s.Name, "CostPerDayOverBudget")
		labels := sr.labels("severity", "ticket", "category", "cost")
		what := perDay.String() + " USD per day (" + decimal.NewFromFloat(*m).String() + " USD per month)"
		g.Rules = append(g.Rules, rule{
			Alert:       name,
			Expr:        fmt.Sprintf("sum(increase(%s[1d])) > %s\n", costSeries, perDay.String()),
			Labels:      sr.alertLabels("ticket", "cost", "cairn_project", sr.base["cairn_project"], "cairn_slo", s.Name, "cairn_deployment", s.Deployment),
			Annotations: ann(what),
		})
		// A minute's spend of one day's budget is over budget within the hour.
		step := perDay.Ceil().Add(decimal.NewFromInt(1)).String()
		test(name, labels, ann(what),
			[]inputSeries{{Series: costSeries, Values: "0+" + step + "x180"}},
			[]inputSeries{{Series: costSeries, Values: "0+0x180"}})
	}
	if k := s.Budget.USDPer1kRequests; k != nil {
		per1k := decimal.NewFromFloat(*k)
		name := alertName(s.Name, "CostPer1kRequestsOverBudget")
		labels := sr.labels("severity", "ticket", "category", "cost")
		what := per1k.String() + " USD per 1000 requests"
		g.Rules = append(g.Rules, rule{
			Alert:       name,
			Expr:        fmt.Sprintf("sum(increase(%s[1d])) / sum(increase(%s[1d])) * 1000 > %s\n", costSeries, reqSeries, per1k.String()),
			Labels:      sr.alertLabels("ticket", "cost", "cairn_project", sr.base["cairn_project"], "cairn_slo", s.Name, "cairn_deployment", s.Deployment),
			Annotations: ann(what),
		})
		// Each request costing the whole per-1k budget is 1000× over it.
		test(name, labels, ann(what),
			[]inputSeries{{Series: costSeries, Values: "0+" + per1k.String() + "x180"}, {Series: reqSeries, Values: "0+1x180"}},
			[]inputSeries{{Series: costSeries, Values: "0+0x180"}, {Series: reqSeries, Values: "0+1x180"}})
	}
	return g, tests, true
}
