package scorer

import (
	"encoding/csv"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"sort"
	"strings"
)

// LabelledText is one labelled example.
type LabelledText struct {
	Text  string
	Toxic bool
}

// ReadLabelled reads a labelled toxicity set: the Surge AI layout
// (text,is_toxic with "Toxic"/"Not Toxic") or the Davidson et al. layout
// (…,class,tweet with class 0 hate speech, 1 offensive, 2 neither; hate and
// offensive count as toxic).
func ReadLabelled(path string) ([]LabelledText, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.LazyQuotes = true
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(rows) < 2 {
		return nil, fmt.Errorf("%s: no rows", path)
	}
	h := rows[0]
	text, label, class := col(h, "text"), col(h, "is_toxic"), col(h, "class")
	if text < 0 {
		text = col(h, "tweet")
	}
	if text < 0 || label < 0 && class < 0 {
		return nil, fmt.Errorf("%s: need text,is_toxic or class,tweet columns, have %v", path, h)
	}
	var out []LabelledText
	for _, row := range rows[1:] {
		if text >= len(row) {
			continue
		}
		lt := LabelledText{Text: row[text]}
		switch {
		case label >= 0 && label < len(row):
			lt.Toxic = strings.EqualFold(strings.TrimSpace(row[label]), "toxic")
		case class >= 0 && class < len(row):
			lt.Toxic = row[class] == "0" || row[class] == "1"
		}
		out = append(out, lt)
	}
	return out, nil
}

// SplitHeldOut divides rows into training and held-out (a fifth, by the
// hash of the text, so the split does not depend on row order).
func SplitHeldOut(rows []LabelledText) (train, heldOut []LabelledText) {
	for _, r := range rows {
		h := fnv.New64a()
		h.Write([]byte(r.Text))
		if h.Sum64()%5 == 0 {
			heldOut = append(heldOut, r)
		} else {
			train = append(train, r)
		}
	}
	return train, heldOut
}

// TrainLRTexts trains the linear model on labelled texts.
func TrainLRTexts(rows []LabelledText, epochs int, lr0, l2 float64) *LRModel {
	feats := make([][]uint32, len(rows))
	labels := make([]bool, len(rows))
	for i, r := range rows {
		feats[i], labels[i] = LRFeatures(r.Text), r.Toxic
	}
	return TrainLR(feats, labels, epochs, lr0, l2)
}

// CVResult is a cross-validation's mean figures.
type CVResult struct {
	Folds     int     `json:"folds"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Accuracy  float64 `json:"accuracy"`
}

func (c CVResult) String() string {
	return fmt.Sprintf("%d folds: precision %.3f recall %.3f F1 %.3f accuracy %.3f", c.Folds, c.Precision, c.Recall, c.F1, c.Accuracy)
}

// CrossValidate trains on k−1 folds (by row index) and tests the linear
// model alone on the k-th, at probability 0.5; the figures are the means.
func CrossValidate(rows []LabelledText, k, epochs int, lr0, l2 float64) CVResult {
	res := CVResult{Folds: k}
	for fold := 0; fold < k; fold++ {
		var tr, te []LabelledText
		for i, r := range rows {
			if i%k == fold {
				te = append(te, r)
			} else {
				tr = append(tr, r)
			}
		}
		m := TrainLRTexts(tr, epochs, lr0, l2)
		var c confusion
		for _, r := range te {
			c.add(r.Toxic, m.Prob(LRFeatures(r.Text)) > 0.5)
		}
		p, rc, f1, acc := c.figures()
		res.Precision += p / float64(k)
		res.Recall += rc / float64(k)
		res.F1 += f1 / float64(k)
		res.Accuracy += acc / float64(k)
	}
	return res
}

type confusion struct{ tp, fp, fn, tn int }

func (c *confusion) add(want, got bool) {
	switch {
	case want && got:
		c.tp++
	case !want && got:
		c.fp++
	case want:
		c.fn++
	default:
		c.tn++
	}
}

func (c confusion) figures() (precision, recall, f1, accuracy float64) {
	precision = ratio(c.tp, c.tp+c.fp)
	recall = ratio(c.tp, c.tp+c.fn)
	if precision+recall > 0 {
		f1 = 2 * precision * recall / (precision + recall)
	}
	accuracy = ratio(c.tp+c.tn, c.tp+c.fp+c.fn+c.tn)
	return
}

// HeldOutMeasure is the offline classifier's quality on the held-out fifth
// of a labelled set (rows neither the linear model's training nor its
// cross-validation saw), with bootstrap 95 % intervals.
type HeldOutMeasure struct {
	Set                   string
	N, TP, FP, FN, TN     int
	Precision, Recall, F1 float64
	PrecisionCI, F1CI     [2]float64
	Resamples             int
}

func (m HeldOutMeasure) String() string {
	return fmt.Sprintf("toxicity held out of %s (n=%d, threshold %.2f): precision %.3f [%.3f, %.3f] recall %.3f F1 %.3f [%.3f, %.3f] (bootstrap 95%%, %d resamples)",
		m.Set, m.N, ToxicityThreshold, m.Precision, m.PrecisionCI[0], m.PrecisionCI[1], m.Recall, m.F1, m.F1CI[0], m.F1CI[1], m.Resamples)
}

// MeasureToxicityHeldOut classifies the held-out rows of a labelled set and
// bootstraps the precision and F1 (seeded: the same data gives the same
// figures).
func MeasureToxicityHeldOut(path string) (HeldOutMeasure, error) {
	rows, err := ReadLabelled(path)
	if err != nil {
		return HeldOutMeasure{}, err
	}
	_, ho := SplitHeldOut(rows)
	want := make([]bool, len(ho))
	got := make([]bool, len(ho))
	var c confusion
	for i, r := range ho {
		want[i], got[i] = r.Toxic, ClassifyToxicity(r.Text).Toxic
		c.add(want[i], got[i])
	}
	m := HeldOutMeasure{Set: path, N: len(ho), TP: c.tp, FP: c.fp, FN: c.fn, TN: c.tn, Resamples: 1000}
	m.Precision, m.Recall, m.F1, _ = c.figures()
	var ps, fs []float64
	seed := uint64(7)
	for b := 0; b < m.Resamples; b++ {
		var bc confusion
		for range ho {
			seed = seed*6364136223846793005 + 1442695040888963407
			k := int((seed >> 33) % uint64(len(ho)))
			bc.add(want[k], got[k])
		}
		p, _, f1, _ := bc.figures()
		ps, fs = append(ps, p), append(fs, f1)
	}
	m.PrecisionCI, m.F1CI = interval(ps), interval(fs)
	return m, nil
}

// interval is the 2.5th and 97.5th percentiles.
func interval(xs []float64) [2]float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	lo, hi := int(0.025*float64(len(s))), int(0.975*float64(len(s)))-1
	return [2]float64{s[lo], s[max(lo, hi)]}
}

// FactualityHeldOut is the offline factuality heuristic's quality on the
// held-out fifth of a TruthfulQA-style set (the questions whose text hashes
// to 0 mod 5): accuracy at the threshold and ROC AUC, with bootstrap 95 %
// intervals over answer pairs.
type FactualityHeldOut struct {
	Questions, Pairs int
	Accuracy, AUC    float64
	AccuracyCI       [2]float64
	Majority         float64 // accuracy of always answering the majority class
}

func (m FactualityHeldOut) String() string {
	return fmt.Sprintf("factuality held out (%d questions, %d answers): accuracy %.3f [%.3f, %.3f], ROC AUC %.3f (majority class %.3f)",
		m.Questions, m.Pairs, m.Accuracy, m.AccuracyCI[0], m.AccuracyCI[1], m.AUC, m.Majority)
}

// MeasureFactualityHeldOut scores the held-out questions' correct and
// incorrect answers against each question's best answer.
func MeasureFactualityHeldOut(path string) (FactualityHeldOut, error) {
	rows, err := readCSV(path)
	if err != nil {
		return FactualityHeldOut{}, err
	}
	h := rows[0]
	qi, bi, ci, ii := col(h, "Question"), col(h, "Best Answer"), col(h, "Correct Answers"), col(h, "Incorrect Answers")
	if qi < 0 || bi < 0 || ci < 0 || ii < 0 {
		return FactualityHeldOut{}, fmt.Errorf("%s: need columns Question, Best Answer, Correct Answers, Incorrect Answers", path)
	}
	var m FactualityHeldOut
	var scores []float64
	var labels []bool
	for _, r := range rows[1:] {
		hh := fnv.New64a()
		hh.Write([]byte(r[qi]))
		if hh.Sum64()%5 != 0 {
			continue
		}
		m.Questions++
		eachAnswer(r, ci, ii, func(a string, factual bool) {
			scores = append(scores, FactualityOffline(r[qi], a, r[bi], nil).Score)
			labels = append(labels, factual)
		})
	}
	m.Pairs = len(scores)
	correct := make([]bool, len(scores))
	pos := 0
	for i, s := range scores {
		correct[i] = (s >= FactualityThreshold) == labels[i]
		if labels[i] {
			pos++
		}
	}
	m.Accuracy = mean(correct)
	m.Majority = math.Max(float64(pos), float64(len(labels)-pos)) / float64(max(len(labels), 1))
	m.AUC = rocAUC(scores, labels)
	var accs []float64
	seed := uint64(11)
	for b := 0; b < 1000; b++ {
		n := 0
		for range correct {
			seed = seed*6364136223846793005 + 1442695040888963407
			if correct[int((seed>>33)%uint64(len(correct)))] {
				n++
			}
		}
		accs = append(accs, float64(n)/float64(len(correct)))
	}
	m.AccuracyCI = interval(accs)
	return m, nil
}

func mean(bs []bool) float64 {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return float64(n) / float64(max(len(bs), 1))
}

// rocAUC is the probability that a random positive scores above a random
// negative (ties count half), by the rank-sum with average ranks.
func rocAUC(scores []float64, labels []bool) float64 {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	ranks := make([]float64, len(scores))
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && scores[idx[j]] == scores[idx[i]] {
			j++
		}
		for k := i; k < j; k++ {
			ranks[idx[k]] = float64(i+j+1) / 2 // average of ranks i+1..j
		}
		i = j
	}
	var pos, neg, sum float64
	for i, l := range labels {
		if l {
			pos++
			sum += ranks[i]
		} else {
			neg++
		}
	}
	if pos == 0 || neg == 0 {
		return math.NaN()
	}
	return (sum - pos*(pos+1)/2) / (pos * neg)
}
