package classic

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// Task kinds a predictions file can declare.
const (
	TaskClassification = "classification" // binary: label 1 is the positive class
	TaskMulticlass     = "multiclass"     // K classes: Sample.Label and Predicted are class indexes, Probs per class
	TaskRegression     = "regression"
	TaskRanking        = "ranking" // Sample.Label is graded relevance, Score the ranking score, Query the group
)

// Ranking metrics; K is the metric's cut-off (Request.K, default 10).
const (
	NDCG = "ndcg"
	MAP  = "map"
)

// Ranking lists the ranking metrics.
var Ranking = []string{NDCG, MAP}

// DefaultK is the cut-off of a ranking metric that names none.
const DefaultK = 10

// Applies reports whether metric m is defined for the task, and if not why.
func Applies(task, m string) error {
	switch task {
	case "", TaskClassification:
		if in(m, Regression) || in(m, Ranking) {
			return fmt.Errorf("%s does not apply to binary classification", m)
		}
	case TaskMulticlass:
		switch {
		case m == Precision || m == Recall || m == F1:
			return fmt.Errorf("%s is a binary metric: a multiclass eval takes f1_macro, f1_weighted, balanced_accuracy or accuracy", m)
		case in(m, Fairness):
			return fmt.Errorf("%s needs a positive class: fairness measures are for binary classification", m)
		case in(m, Regression) || in(m, Ranking):
			return fmt.Errorf("%s does not apply to a multiclass eval", m)
		}
	case TaskRegression:
		if !in(m, Regression) {
			return fmt.Errorf("%s does not apply to a regression eval", m)
		}
	case TaskRanking:
		if !in(m, Ranking) {
			return fmt.Errorf("%s does not apply to a ranking eval (ndcg, map)", m)
		}
	default:
		return fmt.Errorf("unknown task %q", task)
	}
	return nil
}

func in(m string, l []string) bool {
	for _, x := range l {
		if x == m {
			return true
		}
	}
	return false
}

// ComputeTask returns metric m over the samples of a task with k classes
// (multiclass) or cut-off k (ranking); binary and regression are Compute's.
func ComputeTask(task string, k int, m string, s []Sample) (float64, error) {
	if err := Applies(task, m); err != nil {
		return math.NaN(), err
	}
	switch task {
	case TaskMulticlass:
		return multiclass(m, k, s)
	case TaskRanking:
		vals, err := PerQuery(m, k, s)
		if err != nil {
			return math.NaN(), err
		}
		return mean(vals), nil
	}
	return Compute(m, s)
}

// multiclass computes m over k classes, as scikit-learn does: f1_macro is the
// unweighted mean of the per-class F1, f1_weighted weighs each by its
// support; balanced accuracy is the mean per-class recall; roc_auc and
// pr_auc are one-vs-rest, macro-averaged over the classes present; log loss
// is −mean log p(true class) clipped to [ε, 1−ε]; the Brier score is the
// mean over rows of Σ_k (p_k − [y = k])² (scikit-learn ≥ 1.7's multiclass
// form, which is twice its binary form); ECE is the top-label form: bins of
// the highest probability against whether that class was right.
func multiclass(m string, k int, s []Sample) (float64, error) {
	if len(s) == 0 {
		return math.NaN(), errors.New("no samples")
	}
	switch m {
	case Accuracy:
		return Compute(Accuracy, s)
	case BalancedAccuracy, F1Macro, F1Weighted:
		cm := ConfusionK(k, s)
		var sum, wsum, support float64
		n := 0
		for c := range k {
			var tp, fp, fn float64
			tp = cm[c][c]
			for o := range k {
				if o != c {
					fn += cm[c][o]
					fp += cm[o][c]
				}
			}
			sup := tp + fn
			if m == BalancedAccuracy {
				if sup > 0 { // scikit-learn leaves out classes absent from the labels
					sum += tp / sup
					n++
				}
				continue
			}
			if sup == 0 && tp+fp == 0 {
				continue // a class neither true nor predicted does not count
			}
			f := ratio(2*tp, 2*tp+fp+fn)
			sum += f
			wsum += f * sup
			support += sup
			n++
		}
		switch m {
		case BalancedAccuracy:
			return sum / float64(n), nil
		case F1Macro:
			return sum / float64(n), nil
		}
		return ratio(wsum, support), nil
	case ROCAUC, PRAUC:
		if len(s[0].Probs) != k {
			return math.NaN(), errors.New("needs a probability column per class (predictions.probabilities)")
		}
		var sum float64
		n := 0
		bin := make([]Sample, len(s))
		for c := range k {
			for i, x := range s {
				bin[i] = Sample{Score: x.Probs[c], Weight: x.Weight}
				if int(x.Label) == c {
					bin[i].Label = 1
				}
			}
			var v float64
			var err error
			if m == ROCAUC {
				v, err = rocAUC(bin)
			} else {
				v, err = averagePrecision(bin)
			}
			if err != nil {
				continue // a class absent from the labels
			}
			sum += v
			n++
		}
		if n == 0 {
			return math.NaN(), fmt.Errorf("%s is undefined with one class only", m)
		}
		return sum / float64(n), nil
	case LogLoss, Brier, ECE:
		if len(s[0].Probs) != k {
			return math.NaN(), errors.New("needs a probability column per class (predictions.probabilities)")
		}
		if m == ECE {
			top := make([]Sample, len(s))
			for i, x := range s {
				best := argmax(x.Probs)
				top[i] = Sample{Score: x.Probs[best], Weight: x.Weight}
				if best == int(x.Label) {
					top[i].Label = 1
				}
			}
			return ece(top)
		}
		var sum, w float64
		for _, x := range s {
			w += x.Weight
			if m == LogLoss {
				p := math.Min(math.Max(x.Probs[int(x.Label)], logLossEps), 1-logLossEps)
				sum -= x.Weight * math.Log(p)
				continue
			}
			for c, p := range x.Probs {
				y := 0.0
				if c == int(x.Label) {
					y = 1
				}
				sum += x.Weight * (p - y) * (p - y)
			}
		}
		return sum / w, nil
	}
	return math.NaN(), fmt.Errorf("%s does not apply to a multiclass eval", m)
}

// ConfusionK is the k×k confusion matrix: row the true class, column the
// predicted one (scikit-learn's layout), weighted.
func ConfusionK(k int, s []Sample) [][]float64 {
	cm := make([][]float64, k)
	for i := range cm {
		cm[i] = make([]float64, k)
	}
	for _, x := range s {
		cm[int(x.Label)][int(x.Predicted)] += x.Weight
	}
	return cm
}

func argmax(p []float64) int {
	best := 0
	for i, v := range p {
		if v > p[best] {
			best = i
		}
	}
	return best
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// PerQuery computes a ranking metric for each query (rows grouped by
// Sample.Query, queries in first-seen order), cut off at k:
//
//   - ndcg is scikit-learn's ndcg_score: gains are the relevance labels
//     (linear, not 2^rel − 1), discounts 1/log2(rank + 1), and tied scores
//     share the average gain of their tie group; a query whose labels are
//     all 0 has no ideal ranking and is left out (scikit-learn scores it 0).
//   - map is the mean over queries of AP@k = Σ_{i≤k} P(i)·rel(i) / min(k, R),
//     a row relevant when its label is > 0 and R the query's relevant rows;
//     ties are broken by file order (scikit-learn has no MAP@k). A query
//     without relevant rows is left out.
func PerQuery(m string, k int, s []Sample) ([]float64, error) {
	if k <= 0 {
		k = DefaultK
	}
	var order []string
	groups := map[string][]Sample{}
	for _, x := range s {
		if math.IsNaN(x.Score) {
			return nil, ErrNoScores
		}
		if _, ok := groups[x.Query]; !ok {
			order = append(order, x.Query)
		}
		groups[x.Query] = append(groups[x.Query], x)
	}
	var out []float64
	for _, q := range order {
		g := groups[q]
		var v float64
		var ok bool
		if m == NDCG {
			v, ok = ndcg(g, k)
		} else {
			v, ok = averagePrecisionAtK(g, k)
		}
		if ok {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s is undefined: no query has a relevant row", m)
	}
	return out, nil
}

func ndcg(g []Sample, k int) (float64, bool) {
	dcg := tieAveragedDCG(g, k, func(x Sample) float64 { return x.Score })
	ideal := tieAveragedDCG(g, k, func(x Sample) float64 { return x.Label })
	if ideal == 0 {
		return 0, false
	}
	return dcg / ideal, true
}

// tieAveragedDCG ranks g by key, highest first; rows with equal keys share
// the mean gain of their group over the group's rank positions (within k).
func tieAveragedDCG(g []Sample, k int, key func(Sample) float64) float64 {
	idx := make([]int, len(g))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return key(g[idx[a]]) > key(g[idx[b]]) })
	var dcg float64
	for i := 0; i < len(idx) && i < k; {
		j := i
		var gain float64
		for ; j < len(idx) && key(g[idx[j]]) == key(g[idx[i]]); j++ {
			gain += g[idx[j]].Label
		}
		gain /= float64(j - i)
		for r := i; r < j && r < k; r++ {
			dcg += gain / math.Log2(float64(r)+2)
		}
		i = j
	}
	return dcg
}

func averagePrecisionAtK(g []Sample, k int) (float64, bool) {
	idx := make([]int, len(g))
	rel := 0
	for i := range idx {
		idx[i] = i
		if g[i].Label > 0 {
			rel++
		}
	}
	if rel == 0 {
		return 0, false
	}
	sort.SliceStable(idx, func(a, b int) bool { return g[idx[a]].Score > g[idx[b]].Score })
	var hits, sum float64
	for r := 0; r < len(idx) && r < k; r++ {
		if g[idx[r]].Label > 0 {
			hits++
			sum += hits / float64(r+1)
		}
	}
	return sum / float64(min(k, rel)), true
}
