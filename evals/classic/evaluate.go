package classic

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// Request is one metric a suite asks for, with its bound.
type Request struct {
	Name      string  // the suite's name for it
	Metric    string  // one of Classification, Regression, Fairness
	Threshold float64 // the bound: an upper bound when LowerIsBetter, else a lower bound
	By        string  // fairness: the sensitive column (default: the first declared)
	K         int     // ranking: the cut-off (default DefaultK)
}

// Result is a suite's metrics computed from predictions.
type Result struct {
	Rows      int            `json:"rows"`
	Metrics   []MetricResult `json:"metrics"`
	Slices    []Slice        `json:"slices,omitempty"`
	Confusion *[2][2]float64 `json:"confusion_matrix,omitempty"` // [[tn, fp], [fn, tp]]
	// Multiclass: the classes and the k×k matrix (row true, column predicted).
	Classes    []string    `json:"classes,omitempty"`
	ConfusionK [][]float64 `json:"confusion_matrix_k,omitempty"`
	Queries    int         `json:"queries,omitempty"` // ranking: distinct queries
	Resamples  int         `json:"bootstrap_resamples"`
	// Calibration is the reliability curve: per equal-width score bin, the
	// mean score against the observed share of positives (binary, with scores).
	Calibration []CalibrationBin `json:"calibration,omitempty"`
	MinSlice    int              `json:"min_slice_size"`
	Passed      bool             `json:"passed"`
}

// MetricResult is one computed metric against its bound.
type MetricResult struct {
	Name      string   `json:"name"`
	Metric    string   `json:"metric"`
	Value     *float64 `json:"value"` // nil when undefined (the reason is in Note)
	Low       *float64 `json:"ci_low,omitempty"`
	High      *float64 `json:"ci_high,omitempty"`
	Op        string   `json:"op"`
	Threshold float64  `json:"threshold"`
	Pass      bool     `json:"pass"`
	By        string   `json:"by,omitempty"`
	Groups    []Group  `json:"groups,omitempty"`
	Note      string   `json:"note,omitempty"`
}

// Slice is every non-fairness metric on one value of a slice column.
type Slice struct {
	Column  string              `json:"column"`
	Value   string              `json:"value"`
	Count   int                 `json:"count"`
	Small   bool                `json:"small,omitempty"` // fewer rows than the minimum: reported, marked, never dropped
	Metrics map[string]*float64 `json:"metrics"`
}

// Evaluate computes the requested metrics over all samples (with bootstrap
// intervals), every non-fairness metric per slice, and the fairness
// measures over their sensitive column's groups. A fairness metric over a
// group smaller than minSlice does not pass: an empty or tiny group cannot
// make a model look fair.
func Evaluate(spec Spec, s []Sample, reqs []Request, minSlice int) Result {
	res := Result{Rows: len(s), Resamples: Resamples, MinSlice: minSlice, Passed: true}
	// Sorted by score once (no metric depends on row order), every AUC and
	// average precision below, and each bootstrap resample's, is one pass.
	if len(s) > 0 && !math.IsNaN(s[0].Score) && spec.Task != TaskRanking {
		s = slices.Clone(s)
		slices.SortStableFunc(s, func(a, b Sample) int { return cmp.Compare(a.Score, b.Score) })
	}
	cols := spec.Columns()
	colIdx := map[string]int{}
	for i, c := range cols {
		colIdx[c] = i
	}
	k := len(spec.Classes)
	switch spec.Task {
	case "", TaskClassification:
		cm := ConfusionMatrix(s)
		res.Confusion = &cm
		res.Calibration = Calibration(s)
	case TaskMulticlass:
		res.Classes, res.ConfusionK = spec.Classes, ConfusionK(k, s)
	case TaskRanking:
		res.Queries = len(byQuery(s))
	}
	// compute is the metric on a subset; interval resamples rows, or whole
	// queries for ranking (a query's rows are not independent).
	compute := func(r Request, xs []Sample) (float64, error) {
		if spec.Task == TaskRanking {
			return ComputeTask(spec.Task, r.K, r.Metric, xs)
		}
		return ComputeTask(spec.Task, k, r.Metric, xs)
	}
	interval := Interval
	if spec.Task == TaskRanking {
		interval = IntervalByQuery
	}
	for _, r := range reqs {
		mr := MetricResult{Name: r.Name, Metric: r.Metric, Threshold: r.Threshold, Op: ">="}
		if LowerIsBetter(r.Metric) {
			mr.Op = "<="
		}
		var f func([]Sample) (float64, error)
		if IsFairness(r.Metric) {
			col := r.By
			if col == "" && len(spec.Sensitive) > 0 {
				col = spec.Sensitive[0]
			}
			i, ok := colIdx[col]
			if !ok {
				mr.Note = fmt.Sprintf("no sensitive column %q declared", col)
				res.Metrics, res.Passed = append(res.Metrics, mr), false
				continue
			}
			mr.By = col
			attr := make([]string, len(s))
			for j, x := range s {
				attr[j] = x.Attrs[i]
			}
			mr.Groups = Groups(s, attr, minSlice)
			// Resamples keep the rows' positions (Interval): the partition
			// into groups is computed once.
			part := partition(attr)
			f = func(xs []Sample) (float64, error) { return FairnessMetric(r.Metric, groupsOf(xs, part)) }
		} else {
			f = func(xs []Sample) (float64, error) { return compute(r, xs) }
		}
		if err := Applies(spec.Task, r.Metric); err != nil {
			mr.Note = err.Error()
			res.Metrics, res.Passed = append(res.Metrics, mr), false
			continue
		}
		v, err := f(s)
		if err != nil || math.IsNaN(v) {
			if err == nil {
				err = fmt.Errorf("undefined on these predictions")
			}
			mr.Note = err.Error()
		} else {
			if lo, hi, ok := interval(s, f); ok {
				mr.Low, mr.High = &lo, &hi
			}
			mr.judge(v, minSlice)
		}
		res.Passed = res.Passed && mr.Pass
		res.Metrics = append(res.Metrics, mr)
	}
	for _, c := range spec.Slices {
		i := colIdx[c]
		groups := map[string][]Sample{}
		for _, x := range s {
			groups[x.Attrs[i]] = append(groups[x.Attrs[i]], x)
		}
		vals := make([]string, 0, len(groups))
		for v := range groups {
			vals = append(vals, v)
		}
		sort.Strings(vals)
		for _, v := range vals {
			g := groups[v]
			sl := Slice{Column: c, Value: v, Count: len(g), Small: len(g) < minSlice, Metrics: map[string]*float64{}}
			for _, r := range reqs {
				if IsFairness(r.Metric) {
					continue
				}
				if x, err := compute(r, g); err == nil && !math.IsNaN(x) {
					sl.Metrics[r.Name] = &x
				} else {
					sl.Metrics[r.Name] = nil
				}
			}
			res.Slices = append(res.Slices, sl)
		}
	}
	return res
}

// CalibrationBin is one bin of the reliability curve.
type CalibrationBin struct {
	Low       float64 `json:"low"` // the bin's score range [Low, High)
	High      float64 `json:"high"`
	Count     int     `json:"count"`
	MeanScore float64 `json:"mean_score"`
	Observed  float64 `json:"observed"` // weighted share of positives
}

// Calibration bins the samples by score into ECEBins equal-width bins (the
// same bins as ECE); empty bins are left out. Nil without scores.
func Calibration(s []Sample) []CalibrationBin {
	var w, sc, pos [ECEBins]float64
	var n [ECEBins]int
	for _, x := range s {
		if math.IsNaN(x.Score) {
			return nil
		}
		b := min(int(x.Score*ECEBins), ECEBins-1)
		w[b] += x.Weight
		sc[b] += x.Weight * x.Score
		pos[b] += x.Weight * x.Label
		n[b]++
	}
	var out []CalibrationBin
	for b := range w {
		if n[b] == 0 || w[b] == 0 {
			continue
		}
		out = append(out, CalibrationBin{Low: float64(b) / ECEBins, High: float64(b+1) / ECEBins, Count: n[b], MeanScore: sc[b] / w[b], Observed: pos[b] / w[b]})
	}
	return out
}

// judge sets the metric's value and whether it passes its bound; a
// fairness measure over a group under the minimum size does not pass.
func (mr *MetricResult) judge(v float64, minSlice int) {
	mr.Value = &v
	mr.Pass = v >= mr.Threshold
	if mr.Op == "<=" {
		mr.Pass = v <= mr.Threshold
	}
	for _, g := range mr.Groups {
		if g.Small {
			note := fmt.Sprintf("group %s=%q has %d rows, fewer than the minimum %d: a fairness bound cannot pass on it", mr.By, g.Value, g.Count, minSlice)
			if !mr.Pass {
				note = "over its bound; and " + note
			}
			mr.Note = strings.TrimPrefix(mr.Note+"; "+note, "; ")
			mr.Pass = false
			return
		}
	}
}
