package evals

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"time"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/evals/classic"
)

// DefaultMinSliceSize is the smallest slice whose metrics are not marked
// small, and the smallest group a fairness bound can pass on.
const DefaultMinSliceSize = 30

// RunPredictions computes a classic eval from its predictions file: every
// metric with a bootstrap interval, every metric per slice, the fairness
// measures per sensitive group. Nothing is called: there is no provider and
// nothing to cache, and the same file gives the same run.
func RunPredictions(b *compiler.Bundle, suite string) (*Run, error) {
	ev := b.Evals[suite]
	if ev == nil || ev.Predictions == nil {
		return nil, fmt.Errorf("eval %s has no predictions", suite)
	}
	start := time.Now()
	p := ev.Predictions
	spec := classic.Spec{Label: p.Label, Score: p.Score, Predicted: p.Predicted, Positive: p.Positive, Weight: p.Weight,
		Slices: p.Slices, Sensitive: p.Sensitive, Task: p.Task}
	if p.Threshold != nil {
		spec.Threshold = *p.Threshold
	}
	samples, err := classic.Read(filepath.Join(b.Root, filepath.FromSlash(ev.Dataset)), spec)
	if err != nil {
		return nil, fmt.Errorf("eval %s: %w", suite, err)
	}
	var reqs []classic.Request
	for _, name := range slices.Sorted(maps.Keys(ev.Metrics)) {
		m := ev.Metrics[name]
		reqs = append(reqs, classic.Request{Name: name, Metric: m.Scorer, Threshold: m.Threshold, By: m.By})
	}
	min := p.MinSliceSize
	if min <= 0 {
		min = DefaultMinSliceSize
	}
	res := classic.Evaluate(spec, samples, reqs, min)
	r := &Run{Suite: suite, Target: "models/" + ev.Target.Model, DatasetHash: ev.DatasetHash, Classic: &res, Passed: res.Passed, Status: Pass}
	for _, m := range res.Metrics {
		r.Metrics = append(r.Metrics, Aggregate{Name: m.Name, Scorer: m.Metric, Aggregate: "all rows", Value: m.Value, Threshold: m.Threshold,
			Op: m.Op, Pass: m.Pass, Cases: res.Rows, Low: m.Low, High: m.High, Note: m.Note})
	}
	if !r.Passed {
		r.Status = Fail
	}
	r.DurationMS = float64(time.Since(start).Milliseconds())
	return r, nil
}
