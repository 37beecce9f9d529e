package rollout

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/internal/promtest"
)

func canary(steps ...compiler.RolloutStep) *compiler.Deployment {
	inc, lim := 0.05, 1
	return &compiler.Deployment{Namespace: "risk", Rollout: compiler.Rollout{Strategy: "canary", Candidate: "staging", Steps: steps,
		Analysis: &compiler.Analysis{Window: "3s", Metrics: map[string]compiler.AnalysisMetric{
			"error-rate": {
				Query:       `sum(rate(model_requests_total{deployment="{{.deployment}}",version="{{.version}}",code="500"}[{{.window}}])) / sum(rate(model_requests_total{deployment="{{.deployment}}",version="{{.version}}"}[{{.window}}]))`,
				MaxIncrease: &inc, FailureLimit: lim,
				Samples:    `sum(increase(model_requests_total{deployment="{{.deployment}}",version="{{.version}}"}[{{.window}}]))`,
				MinSamples: 20,
			}}}}}
}

// Against the real Prometheus scraping a model server: a healthy canary
// is advanced through every step and promoted; a canary whose error rate
// rises is held, then rolled back past its failure limit; a canary with no
// traffic is held, never promoted.
func TestAnalyzeOnPrometheus(t *testing.T) {
	ms := promtest.NewModelServer(t)
	target := ms.URL
	ms.Serve("healthy-api", "7", 20, 0)
	ms.Serve("healthy-api", "8", 10, 0)
	ms.Serve("failing-api", "7", 20, 0)
	ms.Serve("failing-api", "8", 7, 3)
	ms.Serve("idle-api", "7", 20, 0)
	ms.Serve("idle-api", "8", 0, 0)
	prom := promtest.Start(t, target)
	q, err := NewPrometheus(prom)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	promtest.WaitForRates(t, prom, "3s", 6) // the 200s of all five versions, the 500s of failing-api 8
	steps := []compiler.RolloutStep{{Weight: 10, Pause: "1m"}, {Weight: 50, Pause: "0s"}}
	now := time.Now()

	// Healthy: the first analysis holds for the step's pause, then advances, then promotes.
	d := canary(steps...)
	dec, p, err := Analyze(ctx, q, "healthy-api", d, "8", "7", Progress{}, now)
	if err != nil || dec.Action != Hold || !strings.Contains(dec.Why, "step 1 holds for 1m") || dec.Weight != 10 {
		t.Fatalf("healthy, first: %+v %v", dec, err)
	}
	m := dec.Measurements[0]
	if m.Verdict != Pass || m.Canary == nil || *m.Canary != 0 || m.Stable == nil || m.Samples == nil || *m.Samples < 20 ||
		!strings.Contains(m.CanaryQuery, `deployment="healthy-api",version="8"`) || !strings.Contains(m.StableQuery, `version="7"`) {
		t.Errorf("healthy measurement %+v", m)
	}
	p.Since = p.Since.Add(-61 * time.Second) // a minute at step 1 has passed
	dec, p, _ = Analyze(ctx, q, "healthy-api", d, "8", "7", p, time.Now())
	if dec.Action != Advance || dec.NextWeight != 50 || p.Step != 1 {
		t.Fatalf("healthy, after the pause: %+v", dec)
	}
	dec, p, _ = Analyze(ctx, q, "healthy-api", d, "8", "7", p, time.Now())
	if dec.Action != Promote || dec.NextWeight != 100 || p.Done != "promoted" {
		t.Fatalf("healthy, last step: %+v", dec)
	}

	// Failing: 30 % errors against the stable 0 %: one failure is within the limit (hold), the second rolls back.
	dec, p, _ = Analyze(ctx, q, "failing-api", d, "8", "7", Progress{}, now)
	if dec.Action != Hold || dec.Measurements[0].Verdict != Fail || !strings.Contains(dec.Measurements[0].Why, "> stable 0 + 0.05") {
		t.Fatalf("failing, first: %+v", dec)
	}
	dec, p, _ = Analyze(ctx, q, "failing-api", d, "8", "7", p, time.Now())
	if dec.Action != Rollback || dec.NextWeight != 0 || p.Done != "rolled_back" || dec.Measurements[0].Failures != 2 {
		t.Fatalf("failing, second: %+v", dec)
	}
	// Over: later analyses hold and change nothing.
	if again, _, _ := Analyze(ctx, q, "failing-api", d, "8", "7", p, time.Now()); again.Action != Hold || again.Weight != 0 {
		t.Errorf("after the rollback: %+v", again)
	}

	// Idle: no traffic on the canary is inconclusive, however long it waits.
	p = Progress{}
	for i, waited := range []time.Duration{0, 10 * time.Minute} {
		p.Since = p.Since.Add(-waited)
		dec, p, _ = Analyze(ctx, q, "idle-api", d, "8", "7", p, time.Now())
		if dec.Action != Hold || dec.Measurements[0].Verdict != Inconclusive || !strings.Contains(dec.Why, "inconclusive never promotes") {
			t.Fatalf("idle %d: %+v", i, dec)
		}
	}

	// A query Prometheus refuses is an error, not a decision.
	bad := canary(steps...)
	bad.Rollout.Analysis.Metrics["error-rate"] = compiler.AnalysisMetric{Query: `sum(rate(model_requests_total[`, Max: new(float64)}
	if _, _, err := Analyze(ctx, q, "healthy-api", bad, "8", "7", Progress{}, now); err == nil || !strings.Contains(err.Error(), "metric error-rate") {
		t.Errorf("bad query: %v", err)
	}
	// So is one that returns several series.
	bad.Rollout.Analysis.Metrics["error-rate"] = compiler.AnalysisMetric{Query: `rate(model_requests_total[3s])`, Max: new(float64)}
	if _, _, err := Analyze(ctx, q, "healthy-api", bad, "8", "7", Progress{}, now); err == nil || !strings.Contains(err.Error(), "aggregate it to one") {
		t.Errorf("several series: %v", err)
	}
}

func TestMain(m *testing.M) {
	http.DefaultClient.Timeout = 10 * time.Second
	m.Run()
}

// fixedQuerier answers each query containing a key with its value: the unit
// tests of the decision logic; TestLive* query a real Prometheus.
type fixedQuerier map[string]float64

func (s fixedQuerier) Query(_ context.Context, q string, _ time.Time) (float64, bool, error) {
	for k, v := range s {
		if strings.Contains(q, k) {
			return v, true, nil
		}
	}
	return 0, false, nil
}

// A recorded step out of range (a damaged record, or steps removed from
// the spec since) is clamped, not an index out of range.
func TestAnalyzeClampsARecordedStep(t *testing.T) {
	d := canary(compiler.RolloutStep{Weight: 10, Pause: "0s"}, compiler.RolloutStep{Weight: 50, Pause: "0s"})
	q := fixedQuerier{`code="500"`: 0, "increase": 100}
	for _, step := range []int{-3, 7} {
		dec, _, err := Analyze(context.Background(), q, "api", d, "8", "7", Progress{Canary: "8", Stable: "7", Step: step, Since: time.Now()}, time.Now())
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		if dec.Step < 1 || dec.Step > 2 {
			t.Errorf("step %d: decision at step %d", step, dec.Step)
		}
	}
}
