package scorer

import (
	"encoding/csv"
	"fmt"
	"os"
	"strings"
)

// ToxicityMeasure is the offline classifier's quality on a labelled set.
type ToxicityMeasure struct {
	N, TP, FP, FN, TN               int
	Precision, Recall, F1, Accuracy float64
	// Misses are the misclassified rows, one line each (the CLI prints them with -v).
	Misses []string
}

func (m ToxicityMeasure) String() string {
	return fmt.Sprintf("toxicity (offline lexicon, threshold %.2f): n=%d tp=%d fp=%d fn=%d tn=%d precision=%.3f recall=%.3f f1=%.3f accuracy=%.3f",
		ToxicityThreshold, m.N, m.TP, m.FP, m.FN, m.TN, m.Precision, m.Recall, m.F1, m.Accuracy)
}

// MeasureToxicity runs ClassifyToxicity over a CSV with columns text,is_toxic.
func MeasureToxicity(path string) (ToxicityMeasure, error) {
	rows, err := readCSV(path)
	if err != nil {
		return ToxicityMeasure{}, err
	}
	var m ToxicityMeasure
	ti, li := col(rows[0], "text"), col(rows[0], "is_toxic")
	if ti < 0 || li < 0 {
		return m, fmt.Errorf("%s: need columns text and is_toxic, have %v", path, rows[0])
	}
	for i, r := range rows[1:] {
		want := r[li] == "Toxic"
		res := ClassifyToxicity(r[ti])
		switch {
		case want && res.Toxic:
			m.TP++
		case !want && res.Toxic:
			m.FP++
			m.Misses = append(m.Misses, fmt.Sprintf("FP %d %.2f %v %q", i+2, res.Score, res.Matched, trunc(r[ti])))
		case want && !res.Toxic:
			m.FN++
			m.Misses = append(m.Misses, fmt.Sprintf("FN %d %.2f %v %q", i+2, res.Score, res.Matched, trunc(r[ti])))
		default:
			m.TN++
		}
	}
	m.N = m.TP + m.FP + m.FN + m.TN
	m.Precision = ratio(m.TP, m.TP+m.FP)
	m.Recall = ratio(m.TP, m.TP+m.FN)
	if m.Precision+m.Recall > 0 {
		m.F1 = 2 * m.Precision * m.Recall / (m.Precision + m.Recall)
	}
	m.Accuracy = ratio(m.TP+m.TN, m.N)
	return m, nil
}

// FactualityMeasure is the offline heuristic's accuracy on reference pairs.
type FactualityMeasure struct {
	Questions, Pairs, Correct int
	CorrectOnTrue, TrueN      int
	CorrectOnFalse, FalseN    int
	Accuracy                  float64
	// Misses are the misjudged answers, one line each (the CLI prints them with -v).
	Misses []string
}

func (m FactualityMeasure) String() string {
	return fmt.Sprintf("factuality (offline heuristic, threshold %.2f): questions=%d pairs=%d accuracy=%.3f (factual answers %d/%d, non-factual %d/%d)",
		FactualityThreshold, m.Questions, m.Pairs, m.Accuracy, m.CorrectOnTrue, m.TrueN, m.CorrectOnFalse, m.FalseN)
}

// MeasureFactuality scores every Correct and Incorrect answer of a TruthfulQA
// CSV against the row's Best Answer and counts the right calls.
func MeasureFactuality(path string) (FactualityMeasure, error) {
	rows, err := readCSV(path)
	if err != nil {
		return FactualityMeasure{}, err
	}
	var m FactualityMeasure
	h := rows[0]
	qi, bi, ci, ii := col(h, "Question"), col(h, "Best Answer"), col(h, "Correct Answers"), col(h, "Incorrect Answers")
	if qi < 0 || bi < 0 || ci < 0 || ii < 0 {
		return m, fmt.Errorf("%s: need columns Question, Best Answer, Correct Answers, Incorrect Answers", path)
	}
	for _, r := range rows[1:] {
		m.Questions++
		eachAnswer(r, ci, ii, func(a string, factual bool) {
			res := FactualityOffline(r[qi], a, r[bi], nil)
			m.Pairs++
			if factual {
				m.TrueN++
			} else {
				m.FalseN++
			}
			if (res.Score >= FactualityThreshold) != factual {
				m.Misses = append(m.Misses, fmt.Sprintf("MISS want=%v score=%.2f %s | ref=%q ans=%q", factual, res.Score, res.Reason, r[bi], a))
				return
			}
			m.Correct++
			if factual {
				m.CorrectOnTrue++
			} else {
				m.CorrectOnFalse++
			}
		})
	}
	m.Accuracy = ratio(m.Correct, m.Pairs)
	return m, nil
}

func readCSV(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(rows) < 2 {
		return nil, fmt.Errorf("%s: no data rows", path)
	}
	rows[0][0] = strings.TrimPrefix(rows[0][0], "\ufeff")
	return rows, nil
}

func col(h []string, name string) int {
	for i, c := range h {
		if strings.EqualFold(strings.TrimSpace(c), name) {
			return i
		}
	}
	return -1
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func trunc(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 140 {
		return s[:140]
	}
	return s
}

// eachAnswer calls fn for every correct and every incorrect answer of a
// TruthfulQA row ("; "-separated in columns ci and ii).
func eachAnswer(r []string, ci, ii int, fn func(answer string, factual bool)) {
	for _, pass := range []struct {
		answers string
		factual bool
	}{{r[ci], true}, {r[ii], false}} {
		for _, a := range strings.Split(pass.answers, "; ") {
			if a = strings.TrimSpace(a); a != "" {
				fn(a, pass.factual)
			}
		}
	}
}
