package classic

import (
	"fmt"
	"math"
	"sort"
)

// Group is one value of a sensitive attribute and its samples' rates.
type Group struct {
	Value         string  `json:"value"`
	Count         int     `json:"count"`
	SelectionRate float64 `json:"selection_rate"` // weighted share predicted positive
	TPR           float64 `json:"true_positive_rate"`
	FPR           float64 `json:"false_positive_rate"`
	Small         bool    `json:"small,omitempty"` // fewer samples than the declared minimum
}

// Groups splits samples by the attribute's value (attr[i] is sample i's).
func Groups(s []Sample, attr []string, minSize int) []Group {
	by := map[string][]Sample{}
	for i, x := range s {
		by[attr[i]] = append(by[attr[i]], x)
	}
	var out []Group
	for v, g := range by {
		c := confusion(g)
		sel := ratio(c.tp+c.fp, c.tp+c.fp+c.tn+c.fn)
		out = append(out, Group{Value: v, Count: len(g), SelectionRate: sel, TPR: ratio(c.tp, c.tp+c.fn), FPR: ratio(c.fp, c.fp+c.tn), Small: len(g) < minSize})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Value < out[j].Value })
	return out
}

// partition lists the row positions of each attribute value.
func partition(attr []string) [][]int {
	at := map[string]int{}
	var out [][]int
	for i, v := range attr {
		g, ok := at[v]
		if !ok {
			g = len(out)
			at[v] = g
			out = append(out, nil)
		}
		out[g] = append(out[g], i)
	}
	return out
}

// groupsOf is Groups over a fixed partition, leaving out groups whose rows
// all have weight 0 (not drawn in a resample), as Groups never sees them.
func groupsOf(s []Sample, part [][]int) []Group {
	out := make([]Group, 0, len(part))
	for _, rows := range part {
		var c conf
		for _, i := range rows {
			c.add(&s[i])
		}
		if c.tp+c.fp+c.tn+c.fn == 0 {
			continue
		}
		out = append(out, Group{Count: len(rows), SelectionRate: ratio(c.tp+c.fp, c.tp+c.fp+c.tn+c.fn), TPR: ratio(c.tp, c.tp+c.fn), FPR: ratio(c.fp, c.fp+c.tn)})
	}
	return out
}

// FairnessMetric computes a fairness measure over the groups, with
// Fairlearn's definitions: demographic parity difference and ratio are the
// max − min and min / max of the groups' selection rates; equalized odds
// difference is the larger of the TPR and FPR max − min; equal opportunity
// difference is the TPR max − min. The disparate impact ratio is the lowest
// selection rate over the highest (the four-fifths rule asks ≥ 0.8), which
// is Fairlearn's demographic_parity_ratio.
func FairnessMetric(m string, groups []Group) (float64, error) {
	if len(groups) < 2 {
		return math.NaN(), fmt.Errorf("%s needs at least two groups, the data has %d", m, len(groups))
	}
	span := func(f func(Group) float64) (lo, hi float64) {
		lo, hi = math.Inf(1), math.Inf(-1)
		for _, g := range groups {
			v := f(g)
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		return lo, hi
	}
	switch m {
	case DemographicParityDifference:
		lo, hi := span(func(g Group) float64 { return g.SelectionRate })
		return hi - lo, nil
	case DemographicParityRatio, DisparateImpactRatio:
		lo, hi := span(func(g Group) float64 { return g.SelectionRate })
		if hi == 0 {
			return math.NaN(), fmt.Errorf("%s is undefined: no group has a positive prediction", m)
		}
		return lo / hi, nil
	case EqualizedOddsDifference:
		tlo, thi := span(func(g Group) float64 { return g.TPR })
		flo, fhi := span(func(g Group) float64 { return g.FPR })
		return math.Max(thi-tlo, fhi-flo), nil
	case EqualOpportunityDifference:
		lo, hi := span(func(g Group) float64 { return g.TPR })
		return hi - lo, nil
	}
	return math.NaN(), fmt.Errorf("unknown fairness metric %q", m)
}

// IsFairness reports whether m is a fairness measure (computed over a
// sensitive attribute's groups).
func IsFairness(m string) bool {
	for _, f := range Fairness {
		if f == m {
			return true
		}
	}
	return false
}
