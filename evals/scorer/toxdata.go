package scorer

import (
	"encoding/csv"
	"fmt"
	"hash/fnv"
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
