package evals

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/evals/classic"
	"github.com/cairn-dev/cairn/prompts"
)

// DefaultMinSliceSize is the smallest slice whose metrics are not marked
// small, and the smallest group a fairness bound can pass on.
const DefaultMinSliceSize = 30

// RunPredictions computes a classic eval from its predictions file: every
// metric with a bootstrap interval (up to classic.BootstrapRows rows; past
// that streamed, without), every metric per slice, the fairness measures
// per sensitive group. Nothing is called but a declared model server, and
// the same file gives the same run.
func RunPredictions(ctx context.Context, b *compiler.Bundle, suite, version string) (*Run, error) {
	start := time.Now()
	ev := b.Evals[suite]
	var res classic.Result
	_, err := withPredictions(ctx, b, suite, version, func(path string, spec classic.Spec) (err error) {
		res, err = classic.EvaluateFile(path, spec, requests(ev), minSliceSize(ev))
		return err
	})
	var nv *classic.NoVersionError
	if errors.As(err, &nv) {
		// Not scored yet: the eval fails (its gates hold), the run does not.
		r := &Run{Suite: suite, Target: "models/" + ev.Target.Model, DatasetHash: ev.DatasetHash, Status: Fail, Version: version,
			Classic: &classic.Result{Resamples: classic.Resamples, MinSlice: minSliceSize(ev)}}
		for i, name := range slices.Sorted(maps.Keys(ev.Metrics)) {
			m := ev.Metrics[name]
			a := Aggregate{Name: name, Scorer: m.Scorer, Aggregate: "all rows", Threshold: m.Threshold, Op: ">=", Note: "no predictions"}
			if i == 0 {
				a.Note = nv.Error()
			}
			if classic.LowerIsBetter(m.Scorer) {
				a.Op = "<="
			}
			r.Metrics = append(r.Metrics, a)
		}
		r.DurationMS = float64(time.Since(start).Milliseconds())
		return r, nil
	}
	if err != nil {
		return nil, err
	}
	r := &Run{Suite: suite, Target: "models/" + ev.Target.Model, DatasetHash: ev.DatasetHash, Classic: &res, Passed: res.Passed, Status: Pass}
	if PerVersion(ev) {
		r.Version = version
	}
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

// ReadPredictions reads a classic eval's predictions into memory: the rows
// of version where the file holds several versions (predictions.version)
// or the server scores each (server.versioned), else every row.
func ReadPredictions(ctx context.Context, b *compiler.Bundle, suite, version string) (*compiler.Eval, classic.Spec, []classic.Sample, error) {
	var samples []classic.Sample
	spec, err := withPredictions(ctx, b, suite, version, func(path string, spec classic.Spec) (err error) {
		samples, err = classic.Read(path, spec)
		return err
	})
	return b.Evals[suite], spec, samples, err
}

// withPredictions hands read the predictions file of a classic eval and
// the spec that reads it: the spec's file, or the file of scores its model
// server gave for the dataset's rows (removed afterwards). Errors name the
// file as the spec does.
func withPredictions(ctx context.Context, b *compiler.Bundle, suite, version string, read func(string, classic.Spec) error) (classic.Spec, error) {
	ev := b.Evals[suite]
	if ev == nil || ev.Predictions == nil {
		return classic.Spec{}, fmt.Errorf("eval %s has no predictions", suite)
	}
	p := ev.Predictions
	spec := classic.Spec{Label: p.Label, Score: p.Score, Predicted: p.Predicted, Positive: p.Positive, Weight: p.Weight,
		Slices: p.Slices, Sensitive: p.Sensitive, Task: p.Task, Version: p.Version, ID: p.ID,
		Classes: p.Classes, Probabilities: p.Probabilities, Query: p.Query}
	if PerVersion(ev) {
		if version == "" {
			return spec, fmt.Errorf("eval %s evaluates one model version at a time (%s): name the version to evaluate (--version)", suite, perVersionWhy(p))
		}
		if p.Version != "" {
			spec.ForVersion = version
		}
	}
	if p.Threshold != nil {
		spec.Threshold = *p.Threshold
	}
	path := filepath.Join(b.Root, filepath.FromSlash(ev.Dataset))
	if p.Server != nil {
		served, sspec, err := scoreOnServer(ctx, b, ev, version, spec)
		if served != "" {
			defer os.Remove(served)
		}
		if err != nil {
			return spec, fmt.Errorf("eval %s: %w", suite, err)
		}
		path, spec = served, sspec
	}
	err := read(path, spec)
	var nv *classic.NoVersionError
	var re *classic.RowError
	switch {
	case errors.As(err, &nv):
		nv.Path = ev.Dataset
	case errors.As(err, &re):
		re.Path = ev.Dataset
	}
	if err != nil {
		return spec, fmt.Errorf("eval %s: %w", suite, err)
	}
	return spec, nil
}

func perVersionWhy(p *compiler.Predictions) string {
	if p.Version != "" {
		return fmt.Sprintf("its rows say their version in column %q", p.Version)
	}
	return "its model server scores each version"
}

func requests(ev *compiler.Eval) []classic.Request {
	var reqs []classic.Request
	for _, name := range slices.Sorted(maps.Keys(ev.Metrics)) {
		m := ev.Metrics[name]
		reqs = append(reqs, classic.Request{Name: name, Metric: m.Scorer, Threshold: m.Threshold, By: m.By, K: m.K})
	}
	return reqs
}

// ComparePredictions compares metric (an eval metric's name) of the
// challenger version with the champion's on the rows both predicted.
func ComparePredictions(ctx context.Context, b *compiler.Bundle, suite, metric, challenger, champion string) (classic.Comparison, error) {
	ev := b.Evals[suite]
	if ev == nil || ev.Predictions == nil || ev.Metrics[metric].Scorer == "" {
		return classic.Comparison{}, fmt.Errorf("eval %s computes no metric %q from predictions", suite, metric)
	}
	_, _, a, err := ReadPredictions(ctx, b, suite, challenger)
	if err != nil {
		return classic.Comparison{}, err
	}
	_, _, c, err := ReadPredictions(ctx, b, suite, champion)
	if err != nil {
		return classic.Comparison{}, err
	}
	cmp, err := classic.Compare(ev.Metrics[metric].Scorer, a, c)
	if err != nil {
		return cmp, fmt.Errorf("eval %s: %s of version %s against %s: %w", suite, metric, challenger, champion, err)
	}
	return cmp, nil
}

// RunID is the record id of a suite's run: "<suite>@<bundle hash>", and
// "@<version>" after it for a classic eval of one version.
func RunID(suite, bundleHash, version string) string {
	if version == "" {
		return suite + "@" + bundleHash
	}
	return suite + "@" + bundleHash + "@" + version
}

// SpecVersions are the model versions a classic eval evaluates when none
// is named: every version the spec's aliases of its model name, oldest
// first; one "" for an eval whose file is not per version.
func SpecVersions(b *compiler.Bundle, suite string) []string {
	ev := b.Evals[suite]
	if ev == nil || !PerVersion(ev) || b.Models[ev.Target.Model] == nil {
		return []string{""}
	}
	var out []string
	for _, v := range b.Models[ev.Target.Model].Aliases {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return []string{""} // no alias names one: the run asks for --version
	}
	slices.SortFunc(out, prompts.CompareStrings)
	return out
}

func minSliceSize(ev *compiler.Eval) int {
	if ev.Predictions.MinSliceSize > 0 {
		return ev.Predictions.MinSliceSize
	}
	return DefaultMinSliceSize
}

// PerVersion reports whether a classic eval evaluates one model version at
// a time: its file holds several versions' rows (predictions.version), or
// its model server scores each version (server.versioned).
func PerVersion(ev *compiler.Eval) bool {
	p := ev.Predictions
	return p != nil && (p.Version != "" || p.Server != nil && p.Server.Versioned)
}

// MetricComparison is one of an eval's metrics of two versions on the rows
// both scored.
type MetricComparison struct {
	Name string // the eval's name for the metric
	classic.Comparison
}

// CompareVersions compares every metric of a per-version classic eval
// that a paired comparison applies to (not the fairness measures, which
// compare groups, not rows) between challenger and champion, reading each
// version's rows once.
func CompareVersions(ctx context.Context, b *compiler.Bundle, suite, challenger, champion string) ([]MetricComparison, error) {
	ev, spec, a, err := ReadPredictions(ctx, b, suite, challenger)
	if err != nil {
		return nil, err
	}
	_, _, c, err := ReadPredictions(ctx, b, suite, champion)
	if err != nil {
		return nil, err
	}
	var out []MetricComparison
	for _, name := range slices.Sorted(maps.Keys(ev.Metrics)) {
		m := ev.Metrics[name].Scorer
		if classic.IsFairness(m) || spec.Task == classic.TaskRanking || spec.Task == classic.TaskMulticlass {
			continue
		}
		cmp, err := classic.Compare(m, a, c)
		if err != nil {
			continue // undefined on these rows (one class): nothing to show
		}
		out = append(out, MetricComparison{Name: name, Comparison: cmp})
	}
	return out, nil
}
