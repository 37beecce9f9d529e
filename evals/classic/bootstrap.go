package classic

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
)

// Resamples is the number of bootstrap resamples behind an interval.
const Resamples = 200

// Interval is a bootstrap 95 % percentile interval: the 2.5th and 97.5th
// percentiles of the metric over Resamples resamples of the samples with
// replacement, drawn from a fixed seed so the same data gives the same
// interval. Resamples where the metric is undefined (one class only) are
// left out; with fewer than half defined there is no interval.
//
// A resample is the samples in their order with each weight multiplied by
// how often the row was drawn (every metric is weighted, and a row drawn k
// times is a row of k times its weight): no row is copied, a score-sorted
// input stays sorted, and f may rely on the rows' positions.
func Interval(samples []Sample, f func([]Sample) (float64, error)) (lo, hi float64, ok bool) {
	r := rand.New(rand.NewPCG(20261206, uint64(len(samples))))
	buf := slices.Clone(samples)
	count := make([]int32, len(samples))
	var vals []float64
	for b := 0; b < Resamples; b++ {
		clear(count)
		for range samples {
			count[r.IntN(len(samples))]++
		}
		for j, c := range count {
			buf[j].Weight = samples[j].Weight * float64(c)
		}
		if v, err := f(buf); err == nil && !math.IsNaN(v) {
			vals = append(vals, v)
		}
	}
	return percentiles(vals)
}

// percentiles is the 2.5th and 97.5th percentile of the defined resamples;
// with fewer than half defined there is no interval.
func percentiles(vals []float64) (lo, hi float64, ok bool) {
	if len(vals) < Resamples/2 {
		return 0, 0, false
	}
	sort.Float64s(vals)
	at := func(q float64) float64 { return vals[int(math.Round(q*float64(len(vals)-1)))] }
	return at(0.025), at(0.975), true
}

// IntervalByQuery is Interval over whole queries: each resample draws
// queries with replacement and keeps all their rows (ranking metrics).
func IntervalByQuery(samples []Sample, f func([]Sample) (float64, error)) (lo, hi float64, ok bool) {
	groups := byQuery(samples)
	r := rand.New(rand.NewPCG(20261206, uint64(len(groups))))
	var vals []float64
	buf := make([]Sample, 0, len(samples))
	for b := 0; b < Resamples; b++ {
		buf = buf[:0]
		for range groups {
			g := groups[r.IntN(len(groups))]
			// A query drawn twice is two queries: the metric groups by Query.
			tag := fmt.Sprint(len(buf), "/")
			for _, x := range g {
				x.Query = tag + x.Query
				buf = append(buf, x)
			}
		}
		if v, err := f(buf); err == nil && !math.IsNaN(v) {
			vals = append(vals, v)
		}
	}
	return percentiles(vals)
}

// byQuery groups rows by query, in first-seen order.
func byQuery(s []Sample) [][]Sample {
	at := map[string]int{}
	var out [][]Sample
	for _, x := range s {
		i, ok := at[x.Query]
		if !ok {
			i = len(out)
			at[x.Query] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], x)
	}
	return out
}
