// Package rollout decides a canary's next step from live metrics: each
// analysis queries Prometheus for the canary and the stable version, judges
// every metric against its condition, and says whether to advance, hold,
// roll back or promote — as Argo Rollouts' AnalysisRun and Flagger's
// canary analysis do, from the deployment's spec.
package rollout

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/internal/promql"
)

// Querier runs an instant PromQL query: the value, or ok=false when the
// query returns nothing or NaN.
type Querier interface {
	Query(ctx context.Context, q string, at time.Time) (value float64, ok bool, err error)
}

// Prometheus queries a Prometheus server's HTTP API.
type Prometheus struct{ api v1.API }

// NewPrometheus is a Querier for the server at url.
func NewPrometheus(url string) (*Prometheus, error) {
	c, err := api.NewClient(api.Config{Address: url})
	if err != nil {
		return nil, fmt.Errorf("prometheus %s: %w", url, err)
	}
	return &Prometheus{api: v1.NewAPI(c)}, nil
}

// Query runs q at the time given. A vector of one sample or a scalar is a
// value; an empty vector or NaN is no value; several series are an error
// (the query must aggregate them).
func (p *Prometheus) Query(ctx context.Context, q string, at time.Time) (float64, bool, error) {
	v, _, _, err := p.api.Query(ctx, q, at)
	if err != nil {
		return 0, false, fmt.Errorf("query %s: %w", q, err)
	}
	var f float64
	switch v := v.(type) {
	case model.Vector:
		switch len(v) {
		case 0:
			return 0, false, nil
		case 1:
			f = float64(v[0].Value)
		default:
			return 0, false, fmt.Errorf("query %s returns %d series: aggregate it to one (sum, max, histogram_quantile)", q, len(v))
		}
	case *model.Scalar:
		f = float64(v.Value)
	default:
		return 0, false, fmt.Errorf("query %s returns a %s, not a number", q, v.Type())
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false, nil
	}
	return f, true, nil
}

// Progress is a canary's place in its rollout, kept in the state between
// reconciles.
type Progress struct {
	Canary   string         `json:"canary"`
	Stable   string         `json:"stable"`
	Step     int            `json:"step"`   // index of the step being served
	Weight   int            `json:"weight"` // the canary's share the last decision set
	Since    time.Time      `json:"since"`  // when it began
	Failures map[string]int `json:"failures,omitempty"`
	Done     string         `json:"done,omitempty"` // promoted or rolled_back: the rollout is over
}

// Verdicts of one metric.
const (
	Pass         = "pass"
	Fail         = "fail"
	Inconclusive = "inconclusive"
)

// Actions a decision takes.
const (
	Advance  = "advance"
	Hold     = "hold"
	Rollback = "rollback"
	Promote  = "promote"
)

// Measurement is one metric of one analysis: the queries as run, the
// values, the condition and the verdict.
type Measurement struct {
	Metric       string   `json:"metric"`
	Condition    string   `json:"condition"`
	CanaryQuery  string   `json:"canary_query"`
	StableQuery  string   `json:"stable_query,omitempty"`
	SamplesQuery string   `json:"samples_query,omitempty"`
	Canary       *float64 `json:"canary"`
	Stable       *float64 `json:"stable,omitempty"`
	Samples      *float64 `json:"samples,omitempty"`
	Verdict      string   `json:"verdict"`
	Why          string   `json:"why,omitempty"`
	Failures     int      `json:"failures"`
	FailureLimit int      `json:"failure_limit"`
}

// Decision is what one analysis decided, with its evidence.
type Decision struct {
	Deployment   string        `json:"deployment"`
	Namespace    string        `json:"namespace"`
	Canary       string        `json:"canary"`
	Stable       string        `json:"stable"`
	Step         int           `json:"step"` // 1-based, of Steps
	Steps        int           `json:"steps"`
	Weight       int           `json:"weight"` // the canary's share now
	NextWeight   int           `json:"next_weight"`
	Action       string        `json:"action"`
	Why          string        `json:"why"`
	Window       string        `json:"window"`
	At           time.Time     `json:"at"`
	Measurements []Measurement `json:"measurements"`
}

// Analyze runs one analysis of the deployment's canary (version canary)
// against its stable version, from where the rollout is (p; a new canary
// starts at the first step), and returns the decision and the progress
// after it. Inconclusive never promotes: a metric without data or with too
// few samples holds the step. A metric that fails more often than its
// failure limit rolls back.
func Analyze(ctx context.Context, q Querier, name string, d *compiler.Deployment, canary, stable string, p Progress, now time.Time) (Decision, Progress, error) {
	ro := d.Rollout
	if ro.Analysis == nil || len(ro.Steps) == 0 {
		return Decision{}, p, fmt.Errorf("deployment %s declares no rollout.steps and rollout.analysis", name)
	}
	if p.Canary != canary || p.Stable != stable || p.Since.IsZero() {
		p = Progress{Canary: canary, Stable: stable, Since: now}
	}
	if p.Failures == nil {
		p.Failures = map[string]int{}
	} else {
		p.Failures = maps.Clone(p.Failures)
	}
	p.Step = max(0, min(p.Step, len(ro.Steps)-1)) // a recorded step from an older spec, or a damaged record
	dec := Decision{Deployment: name, Namespace: d.Namespace, Canary: canary, Stable: stable, Step: p.Step + 1, Steps: len(ro.Steps),
		Weight: ro.Steps[p.Step].Weight, NextWeight: ro.Steps[p.Step].Weight, Window: ro.Analysis.Window, At: now.UTC()}
	if p.Done != "" {
		dec.Action, dec.Why = Hold, "the rollout of "+canary+" is over ("+strings.ReplaceAll(p.Done, "_", " ")+")"
		if p.Done == "rolled_back" {
			dec.Weight, dec.NextWeight = 0, 0
		} else {
			dec.Weight, dec.NextWeight = 100, 100
		}
		return dec, p, nil
	}
	fill := func(tmpl, version string) (string, error) {
		return promql.FillAnalysis(tmpl, promql.Analysis{Version: version, Deployment: name, Namespace: d.Namespace, Window: ro.Analysis.Window})
	}
	run := func(tmpl, version string) (string, *float64, error) {
		qs, err := fill(tmpl, version)
		if err != nil {
			return "", nil, err
		}
		v, ok, err := q.Query(ctx, qs, now)
		if err != nil || !ok {
			return qs, nil, err
		}
		return qs, &v, nil
	}
	var failed, inconclusive []string
	rollback := false
	for _, mn := range slices.Sorted(maps.Keys(ro.Analysis.Metrics)) {
		m := ro.Analysis.Metrics[mn]
		ms := Measurement{Metric: mn, Condition: condition(m), FailureLimit: m.FailureLimit}
		var err error
		if ms.CanaryQuery, ms.Canary, err = run(m.Query, canary); err != nil {
			return dec, p, fmt.Errorf("deployment %s, metric %s: %w", name, mn, err)
		}
		if m.MaxIncrease != nil || m.MaxDecrease != nil {
			if ms.StableQuery, ms.Stable, err = run(m.Query, stable); err != nil {
				return dec, p, fmt.Errorf("deployment %s, metric %s: %w", name, mn, err)
			}
		}
		if m.Samples != "" {
			if ms.SamplesQuery, ms.Samples, err = run(m.Samples, canary); err != nil {
				return dec, p, fmt.Errorf("deployment %s, metric %s: %w", name, mn, err)
			}
		}
		ms.Verdict, ms.Why = judge(m, ms)
		switch ms.Verdict {
		case Fail:
			p.Failures[mn]++
			failed = append(failed, mn)
			rollback = rollback || p.Failures[mn] > m.FailureLimit
		case Inconclusive:
			inconclusive = append(inconclusive, mn)
		}
		ms.Failures = p.Failures[mn]
		dec.Measurements = append(dec.Measurements, ms)
	}
	pause, err := model.ParseDuration(ro.Steps[p.Step].Pause)
	if err != nil {
		return dec, p, fmt.Errorf("deployment %s: step %d pause: %w", name, p.Step+1, err)
	}
	switch {
	case rollback:
		dec.Action, dec.NextWeight, p.Done = Rollback, 0, "rolled_back"
		dec.Why = fmt.Sprintf("%s failed more often than its failure limit allows: roll back to %s", strings.Join(failed, ", "), stable)
	case len(failed) > 0:
		dec.Action = Hold
		dec.Why = fmt.Sprintf("%s failed (within the failure limit): hold at %d%%", strings.Join(failed, ", "), dec.Weight)
	case len(inconclusive) > 0:
		dec.Action = Hold
		dec.Why = fmt.Sprintf("%s inconclusive: hold at %d%% (inconclusive never promotes)", strings.Join(inconclusive, ", "), dec.Weight)
	case now.Sub(p.Since) < time.Duration(pause):
		dec.Action = Hold
		dec.Why = fmt.Sprintf("every metric passes; step %d holds for %s, %s so far", p.Step+1, ro.Steps[p.Step].Pause, now.Sub(p.Since).Round(time.Second))
	case p.Step == len(ro.Steps)-1:
		dec.Action, dec.NextWeight, p.Done = Promote, 100, "promoted"
		dec.Why = fmt.Sprintf("every metric passes at the last step: promote %s", canary)
	default:
		p.Step++
		p.Since = now
		dec.Action, dec.NextWeight = Advance, ro.Steps[p.Step].Weight
		dec.Why = fmt.Sprintf("every metric passes: advance to step %d (%d%%)", p.Step+1, dec.NextWeight)
	}
	p.Weight = dec.NextWeight
	return dec, p, nil
}

// condition says a metric's condition in words.
func condition(m compiler.AnalysisMetric) string {
	var c []string
	f := func(v float64) string { return fmt.Sprint(v) }
	if m.Max != nil {
		c = append(c, "≤ "+f(*m.Max))
	}
	if m.Min != nil {
		c = append(c, "≥ "+f(*m.Min))
	}
	if m.MaxIncrease != nil {
		c = append(c, "≤ stable + "+f(*m.MaxIncrease))
	}
	if m.MaxDecrease != nil {
		c = append(c, "≥ stable − "+f(*m.MaxDecrease))
	}
	if m.MinSamples > 0 {
		c = append(c, fmt.Sprintf("over ≥ %d samples", m.MinSamples))
	}
	return strings.Join(c, ", ")
}

// judge is one measurement's verdict.
func judge(m compiler.AnalysisMetric, ms Measurement) (string, string) {
	if m.MinSamples > 0 && (ms.Samples == nil || *ms.Samples < float64(m.MinSamples)) {
		got := 0.0
		if ms.Samples != nil {
			got = *ms.Samples
		}
		return Inconclusive, fmt.Sprintf("%g samples of the %d needed", got, m.MinSamples)
	}
	if ms.Canary == nil {
		return Inconclusive, "the canary's query returned no value"
	}
	c := *ms.Canary
	var why []string
	if m.Max != nil && c > *m.Max {
		why = append(why, fmt.Sprintf("%g > %g", c, *m.Max))
	}
	if m.Min != nil && c < *m.Min {
		why = append(why, fmt.Sprintf("%g < %g", c, *m.Min))
	}
	if m.MaxIncrease != nil || m.MaxDecrease != nil {
		if ms.Stable == nil {
			return Inconclusive, "the stable version's query returned no value"
		}
		s := *ms.Stable
		if m.MaxIncrease != nil && c > s+*m.MaxIncrease {
			why = append(why, fmt.Sprintf("%g > stable %g + %g", c, s, *m.MaxIncrease))
		}
		if m.MaxDecrease != nil && c < s-*m.MaxDecrease {
			why = append(why, fmt.Sprintf("%g < stable %g − %g", c, s, *m.MaxDecrease))
		}
	}
	if len(why) > 0 {
		return Fail, strings.Join(why, "; ")
	}
	return Pass, ""
}

// ErrNotCanary is the error of analysing a deployment declared without a
// progressive canary; ErrNoCanary of one whose canary is not served (no
// stable version yet, or the candidate is the stable version).
var (
	ErrNotCanary = errors.New("not a canary deployment with steps and an analysis")
	ErrNoCanary  = errors.New("no canary to analyse")
)
