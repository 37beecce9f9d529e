package classic

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Comparison is a challenger's metric beside the champion's on the same
// rows: the difference (challenger − champion) with a paired bootstrap 95 %
// interval, and for accuracy McNemar's test of the two models' errors.
type Comparison struct {
	Metric     string   `json:"metric"`
	Pairs      int      `json:"pairs"`    // rows both versions predicted
	Unpaired   int      `json:"unpaired"` // rows only one of them has, left out
	Challenger float64  `json:"challenger"`
	Champion   float64  `json:"champion"`
	Diff       float64  `json:"difference"`
	Low        *float64 `json:"ci_low,omitempty"`
	High       *float64 `json:"ci_high,omitempty"`
	// McNemarP is the two-sided exact p-value of McNemar's test (accuracy
	// only): how likely the split of rows one model gets right and the other
	// wrong is under equal accuracy.
	McNemarP *float64 `json:"mcnemar_p,omitempty"`
}

// Improvement is the difference turned so that positive is better, and its
// interval's lower end (how much worse the challenger could be, at 95 %).
func (c Comparison) Improvement() (diff, worstCase float64, ok bool) {
	if c.Low == nil {
		return 0, 0, false
	}
	if LowerIsBetter(c.Metric) {
		return -c.Diff, -*c.High, true
	}
	return c.Diff, *c.Low, true
}

// Pair matches the challenger's rows with the champion's: by ID when both
// have ids, else by their order (then the counts must agree).
func Pair(challenger, champion []Sample) (a, b []Sample, unpaired int, err error) {
	if len(challenger) > 0 && challenger[0].ID != "" {
		at := make(map[string]int, len(champion))
		for i, x := range champion {
			if _, dup := at[x.ID]; dup {
				return nil, nil, 0, fmt.Errorf("id %q appears twice in one version's rows", x.ID)
			}
			at[x.ID] = i
		}
		seen := make(map[string]bool, len(challenger))
		for _, x := range challenger {
			if seen[x.ID] {
				return nil, nil, 0, fmt.Errorf("id %q appears twice in one version's rows", x.ID)
			}
			seen[x.ID] = true
			if i, ok := at[x.ID]; ok {
				a, b = append(a, x), append(b, champion[i])
			} else {
				unpaired++
			}
		}
		unpaired += len(champion) - len(b)
		if len(a) == 0 {
			return nil, nil, unpaired, fmt.Errorf("the two versions have no row id in common")
		}
		return a, b, unpaired, nil
	}
	if len(challenger) != len(champion) {
		return nil, nil, 0, fmt.Errorf("without an id column rows pair by order, but one version has %d rows and the other %d (declare predictions.id)", len(challenger), len(champion))
	}
	return challenger, champion, 0, nil
}

// Compare computes metric m on both versions' paired rows and the paired
// bootstrap interval of the difference: each resample draws the same row
// indexes for both versions, so what the rows share cancels out.
func Compare(m string, challenger, champion []Sample) (Comparison, error) {
	a, b, unpaired, err := Pair(challenger, champion)
	if err != nil {
		return Comparison{}, err
	}
	c := Comparison{Metric: m, Pairs: len(a), Unpaired: unpaired}
	if c.Challenger, err = Compute(m, a); err == nil && math.IsNaN(c.Challenger) {
		err = fmt.Errorf("%s is undefined on the challenger's predictions", m)
	}
	if err != nil {
		return c, err
	}
	if c.Champion, err = Compute(m, b); err == nil && math.IsNaN(c.Champion) {
		err = fmt.Errorf("%s is undefined on the champion's predictions", m)
	}
	if err != nil {
		return c, err
	}
	c.Diff = c.Challenger - c.Champion
	r := rand.New(rand.NewPCG(20261206, uint64(len(a))))
	ba, bb := make([]Sample, len(a)), make([]Sample, len(b))
	var diffs []float64
	for range Resamples {
		for i := range ba {
			j := r.IntN(len(a))
			ba[i], bb[i] = a[j], b[j]
		}
		x, e1 := Compute(m, ba)
		y, e2 := Compute(m, bb)
		if e1 == nil && e2 == nil && !math.IsNaN(x) && !math.IsNaN(y) {
			diffs = append(diffs, x-y)
		}
	}
	if lo, hi, ok := percentiles(diffs); ok {
		c.Low, c.High = &lo, &hi
	}
	if m == Accuracy {
		p := McNemar(a, b)
		c.McNemarP = &p
	}
	return c, nil
}

// McNemar is the exact two-sided p-value of McNemar's test on paired
// predictions: of the rows exactly one model gets right (n01 + n10), the
// binomial probability of a split at least as uneven under p = ½ (the
// mid-p and chi-squared forms are left out; exact is right at any size).
func McNemar(a, b []Sample) float64 {
	var n01, n10 int
	for i := range a {
		ra, rb := a[i].Predicted == a[i].Label, b[i].Predicted == b[i].Label
		switch {
		case ra && !rb:
			n10++
		case !ra && rb:
			n01++
		}
	}
	n, k := n01+n10, min(n01, n10)
	if n == 0 {
		return 1
	}
	// 2·P(X ≤ k), X ~ Binomial(n, ½), summed in log space so large n is exact enough.
	var p float64
	for i := 0; i <= k; i++ {
		lg, _ := math.Lgamma(float64(n + 1))
		l1, _ := math.Lgamma(float64(i + 1))
		l2, _ := math.Lgamma(float64(n - i + 1))
		p += math.Exp(lg - l1 - l2 - float64(n)*math.Ln2)
	}
	return math.Min(1, 2*p)
}
