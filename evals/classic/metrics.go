// Package classic computes a classic model's evaluation metrics from its
// predictions — classification, regression and fairness measures, each with
// a seeded bootstrap interval — the numbers teams compute by hand with
// scikit-learn and Fairlearn, here computed from the file the spec names.
//
// Definitions follow scikit-learn's and Fairlearn's; where one differs it
// says so at the function.
package classic

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// Sample is one prediction: the true label and the model's score (the
// probability of the positive class) or its predicted class, a weight and
// the values of the slice columns.
type Sample struct {
	Label     float64 // 1/0 for binary classification, the target for regression
	Score     float64 // probability of the positive class; NaN when not given
	Predicted float64 // predicted class (1/0) or value
	Weight    float64
	Attrs     []string  // the slice and sensitive columns' values, in Spec.Columns() order
	ID        string    // the row's id (Spec.ID), pairing it with another version's row
	Probs     []float64 // multiclass: the probability of each class, in Spec.Classes order
	Query     string    // ranking: the query (group) the row belongs to
}

// Metric names, as specs write them. Higher is better unless LowerIsBetter.
const (
	Accuracy         = "accuracy"
	BalancedAccuracy = "balanced_accuracy"
	Precision        = "precision"
	Recall           = "recall"
	F1               = "f1"
	F1Macro          = "f1_macro"
	F1Weighted       = "f1_weighted"
	ROCAUC           = "roc_auc"
	PRAUC            = "pr_auc"
	LogLoss          = "log_loss"
	Brier            = "brier"
	ECE              = "ece"
	MAE              = "mae"
	RMSE             = "rmse"
	MAPE             = "mape"
	R2               = "r2"

	DemographicParityDifference = "demographic_parity_difference"
	DemographicParityRatio      = "demographic_parity_ratio"
	EqualizedOddsDifference     = "equalized_odds_difference"
	EqualOpportunityDifference  = "equal_opportunity_difference"
	DisparateImpactRatio        = "disparate_impact_ratio"
)

// Classification, Regression and Fairness list the metrics by kind.
var (
	Classification = []string{Accuracy, BalancedAccuracy, Precision, Recall, F1, F1Macro, F1Weighted, ROCAUC, PRAUC, LogLoss, Brier, ECE}
	Regression     = []string{MAE, RMSE, MAPE, R2}
	Fairness       = []string{DemographicParityDifference, DemographicParityRatio, EqualizedOddsDifference, EqualOpportunityDifference, DisparateImpactRatio}
)

// LowerIsBetter reports whether a smaller value of the metric is better (its
// bound is an upper bound: "<=").
func LowerIsBetter(m string) bool {
	switch m {
	case LogLoss, Brier, ECE, MAE, RMSE, MAPE, DemographicParityDifference, EqualizedOddsDifference, EqualOpportunityDifference:
		return true
	}
	return false
}

// Known reports whether m is a metric this package computes.
func Known(m string) bool {
	for _, l := range [][]string{Classification, Regression, Fairness, Ranking} {
		for _, n := range l {
			if n == m {
				return true
			}
		}
	}
	return false
}

// ECEBins is the number of equal-width probability bins of the expected
// calibration error.
const ECEBins = 10

// logLossEps clips probabilities for the log loss, as scikit-learn does
// (the machine epsilon of float64).
const logLossEps = 2.220446049250313e-16

// ErrNoScores is the error of a metric that needs scores on samples without.
var ErrNoScores = errors.New("needs a score column (the probability of the positive class)")

// Compute returns metric m over the samples. Classification metrics treat
// label 1 as the positive class.
func Compute(m string, s []Sample) (float64, error) {
	if len(s) == 0 {
		return math.NaN(), errors.New("no samples")
	}
	switch m {
	case Accuracy:
		var ok, w float64
		for _, x := range s {
			w += x.Weight
			if x.Predicted == x.Label {
				ok += x.Weight
			}
		}
		return ok / w, nil
	case BalancedAccuracy:
		c := confusion(s)
		return (ratio(c.tp, c.tp+c.fn) + ratio(c.tn, c.tn+c.fp)) / 2, nil
	case Precision:
		c := confusion(s)
		return ratio(c.tp, c.tp+c.fp), nil
	case Recall:
		c := confusion(s)
		return ratio(c.tp, c.tp+c.fn), nil
	case F1:
		return f1(confusion(s), 1), nil
	case F1Macro:
		c := confusion(s)
		return (f1(c, 1) + f1(c, 0)) / 2, nil
	case F1Weighted:
		c := confusion(s)
		pos, neg := c.tp+c.fn, c.tn+c.fp
		return (f1(c, 1)*pos + f1(c, 0)*neg) / (pos + neg), nil
	case ROCAUC:
		return rocAUC(s)
	case PRAUC:
		return averagePrecision(s)
	case LogLoss:
		var sum, w float64
		for _, x := range s {
			if math.IsNaN(x.Score) {
				return math.NaN(), ErrNoScores
			}
			p := math.Min(math.Max(x.Score, logLossEps), 1-logLossEps)
			sum -= x.Weight * (x.Label*math.Log(p) + (1-x.Label)*math.Log(1-p))
			w += x.Weight
		}
		return sum / w, nil
	case Brier:
		var sum, w float64
		for _, x := range s {
			if math.IsNaN(x.Score) {
				return math.NaN(), ErrNoScores
			}
			sum += x.Weight * (x.Score - x.Label) * (x.Score - x.Label)
			w += x.Weight
		}
		return sum / w, nil
	case ECE:
		return ece(s)
	case MAE, RMSE, MAPE, R2:
		return regression(m, s), nil
	}
	return math.NaN(), fmt.Errorf("unknown metric %q", m)
}

type conf struct{ tp, fp, tn, fn float64 }

func confusion(s []Sample) conf {
	var c conf
	for i := range s {
		c.add(&s[i])
	}
	return c
}

// add counts one binary prediction, weighted.
func (c *conf) add(x *Sample) {
	switch {
	case x.Label == 1 && x.Predicted == 1:
		c.tp += x.Weight
	case x.Label == 0 && x.Predicted == 1:
		c.fp += x.Weight
	case x.Label == 0:
		c.tn += x.Weight
	default:
		c.fn += x.Weight
	}
}

// ConfusionMatrix is [[tn, fp], [fn, tp]], scikit-learn's layout for labels 0, 1.
func ConfusionMatrix(s []Sample) [2][2]float64 {
	c := confusion(s)
	return [2][2]float64{{c.tn, c.fp}, {c.fn, c.tp}}
}

// ratio is a/b, 0 when b is 0 (scikit-learn's zero_division=0 default, with
// its warning left out).
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// f1 of the class (1 positive, 0 negative).
func f1(c conf, class int) float64 {
	if class == 0 {
		c = conf{tp: c.tn, fp: c.fn, tn: c.tp, fn: c.fp}
	}
	return ratio(2*c.tp, 2*c.tp+c.fp+c.fn)
}

// rocAUC is the area under the ROC curve: the probability that a random
// positive scores above a random negative, ties counting half — the
// trapezoidal area scikit-learn computes, with sample weights.
func rocAUC(s []Sample) (float64, error) {
	idx, err := byScore(s)
	if err != nil {
		return math.NaN(), err
	}
	var pos, neg, auc, negBelow float64
	for i := 0; i < len(idx); {
		j := i
		var p, n float64
		for ; j < len(idx) && s[idx[j]].Score == s[idx[i]].Score; j++ {
			if s[idx[j]].Label == 1 {
				p += s[idx[j]].Weight
			} else {
				n += s[idx[j]].Weight
			}
		}
		auc += p * (negBelow + n/2)
		negBelow += n
		pos, neg = pos+p, neg+n
		i = j
	}
	if pos == 0 || neg == 0 {
		return math.NaN(), errors.New("ROC AUC is undefined with one class only")
	}
	return auc / (pos * neg), nil
}

// averagePrecision is scikit-learn's average_precision_score: the sum over
// distinct score thresholds, highest first, of (R_n − R_{n−1})·P_n — a step
// function, not the trapezoid.
func averagePrecision(s []Sample) (float64, error) {
	idx, err := byScore(s)
	if err != nil {
		return math.NaN(), err
	}
	var total float64
	for _, x := range s {
		if x.Label == 1 {
			total += x.Weight
		}
	}
	if total == 0 {
		return math.NaN(), errors.New("average precision is undefined without positives")
	}
	var tp, fp, ap, prevRecall float64
	for i := len(idx) - 1; i >= 0; {
		j := i
		for ; j >= 0 && s[idx[j]].Score == s[idx[i]].Score; j-- {
			if s[idx[j]].Label == 1 {
				tp += s[idx[j]].Weight
			} else {
				fp += s[idx[j]].Weight
			}
		}
		r := tp / total
		ap += (r - prevRecall) * tp / (tp + fp)
		prevRecall = r
		i = j
	}
	return ap, nil
}

// byScore returns the sample indexes in ascending score order; a NaN score
// is an error.
func byScore(s []Sample) ([]int, error) {
	idx := make([]int, len(s))
	sorted := true
	for i := range s {
		if math.IsNaN(s[i].Score) {
			return nil, ErrNoScores
		}
		idx[i] = i
		sorted = sorted && (i == 0 || s[i-1].Score <= s[i].Score)
	}
	if !sorted { // Evaluate sorts once; the bootstrap's resamples stay sorted
		sort.SliceStable(idx, func(a, b int) bool { return s[idx[a]].Score < s[idx[b]].Score })
	}
	return idx, nil
}

// ece is the expected calibration error over ECEBins equal-width bins of
// the positive-class probability: Σ_b (w_b/W)·|mean label in b − mean score
// in b|. (Not in scikit-learn; this is the usual binary-reliability form.)
func ece(s []Sample) (float64, error) {
	var w [ECEBins]float64
	var lab, sc [ECEBins]float64
	var total float64
	for _, x := range s {
		if math.IsNaN(x.Score) {
			return math.NaN(), ErrNoScores
		}
		b := int(x.Score * ECEBins)
		if b >= ECEBins {
			b = ECEBins - 1
		}
		w[b] += x.Weight
		lab[b] += x.Weight * x.Label
		sc[b] += x.Weight * x.Score
		total += x.Weight
	}
	var e float64
	for b := range w {
		if w[b] > 0 {
			e += w[b] / total * math.Abs(lab[b]/w[b]-sc[b]/w[b])
		}
	}
	return e, nil
}

func regression(m string, s []Sample) float64 {
	var w, abs, sq, ape, mean float64
	for _, x := range s {
		d := x.Label - x.Predicted
		w += x.Weight
		abs += x.Weight * math.Abs(d)
		sq += x.Weight * d * d
		// scikit-learn divides by max(|y|, eps): a zero target gives a huge error, not a division by zero.
		ape += x.Weight * math.Abs(d) / math.Max(math.Abs(x.Label), logLossEps)
		mean += x.Weight * x.Label
	}
	switch m {
	case MAE:
		return abs / w
	case RMSE:
		return math.Sqrt(sq / w)
	case MAPE:
		return ape / w
	}
	mean /= w
	var tot float64
	for _, x := range s {
		tot += x.Weight * (x.Label - mean) * (x.Label - mean)
	}
	if tot == 0 {
		return math.NaN() // scikit-learn's r2_score is undefined for a constant target
	}
	return 1 - sq/tot
}
