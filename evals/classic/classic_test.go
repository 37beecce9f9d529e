package classic

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func binarySamples(labels, scores []float64, attrs ...[]string) []Sample {
	s := make([]Sample, len(labels))
	for i := range labels {
		s[i] = Sample{Label: labels[i], Score: scores[i], Weight: 1}
		if scores[i] >= 0.5 {
			s[i].Predicted = 1
		}
		for _, a := range attrs {
			s[i].Attrs = append(s[i].Attrs, a[i])
		}
	}
	return s
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

// Every metric against values worked out by hand (in the comments) for
// labels [1 1 0 0 1 0], scores [.9 .4 .35 .8 .4 .1], threshold 0.5: the
// predictions are [1 0 0 1 0 0], so tp 1, fn 2, tn 2, fp 1.
func TestClassificationByHand(t *testing.T) {
	s := binarySamples([]float64{1, 1, 0, 0, 1, 0}, []float64{.9, .4, .35, .8, .4, .1})
	for _, c := range []struct {
		m    string
		want float64
	}{
		{Accuracy, 0.5},                     // 3 of 6
		{BalancedAccuracy, 0.5},             // (1/3 + 2/3) / 2
		{Precision, 0.5},                    // 1 / (1 + 1)
		{Recall, 1.0 / 3},                   // 1 / (1 + 2)
		{F1, 0.4},                           // 2·1 / (2·1 + 1 + 2)
		{F1Macro, (0.4 + 4.0/7) / 2},        // negative class: 2·2 / (2·2 + 2 + 1) = 4/7
		{F1Weighted, (0.4*3 + 4.0/7*3) / 6}, // supports 3 and 3
		{ROCAUC, 7.0 / 9},                   // .9 beats 3 negatives, each .4 beats 2: 7 of 9 pairs
		{PRAUC, 1.0/3*1 + 2.0/3*0.75},       // thresholds .9 (R 1/3, P 1), .8 (ΔR 0), .4 (R 1, P 3/4)
		{LogLoss, 4.0835232 / 6},            // −(ln .9 + 2 ln .4 + ln .65 + ln .2 + ln .9) / 6
		{Brier, 1.5025 / 6},                 // .01 + .36 + .1225 + .64 + .36 + .01
		{ECE, 2.55 / 6},                     // bins 9: .1, 4: 2×.6, 3: .35, 8: .8, 1: .1
	} {
		got, err := Compute(c.m, s)
		if err != nil || math.Abs(got-c.want) > 1e-6 {
			t.Errorf("%s = %v, %v; want %v", c.m, got, err, c.want)
		}
	}
	if cm := ConfusionMatrix(s); cm != [2][2]float64{{2, 1}, {2, 1}} {
		t.Errorf("confusion matrix %v, want [[tn fp] [fn tp]] = [[2 1] [2 1]]", cm)
	}
	// Ties between a positive and a negative count half (scikit-learn's
	// trapezoid): with the .35 negative at .4, each .4 positive gets 1.5.
	tied := binarySamples([]float64{1, 1, 0, 0, 1, 0}, []float64{.9, .4, .4, .8, .4, .1})
	if got, _ := Compute(ROCAUC, tied); !near(got, 6.0/9) {
		t.Errorf("ROC AUC with ties = %v, want 6/9", got)
	}
	// Weights count as repeated rows.
	w := binarySamples([]float64{1, 0, 0}, []float64{.9, .8, .2})
	w[1].Weight = 2
	if got, _ := Compute(Accuracy, w); !near(got, 2.0/4) {
		t.Errorf("weighted accuracy = %v, want 2/4", got)
	}
	// One class: ROC AUC is undefined, an error and not a number.
	one := binarySamples([]float64{1, 1}, []float64{.9, .2})
	if _, err := Compute(ROCAUC, one); err == nil || !strings.Contains(err.Error(), "one class") {
		t.Errorf("one class: %v", err)
	}
	// NaN scores: an error.
	nan := binarySamples([]float64{1, 0}, []float64{math.NaN(), .2})
	if _, err := Compute(LogLoss, nan); err == nil {
		t.Error("log loss of a NaN score is a number")
	}
}

// scikit-learn's documented examples for the regression metrics.
func TestRegressionBySklearnExamples(t *testing.T) {
	y, p := []float64{3, -0.5, 2, 7}, []float64{2.5, 0, 2, 8}
	s := make([]Sample, len(y))
	for i := range y {
		s[i] = Sample{Label: y[i], Predicted: p[i], Weight: 1, Score: math.NaN()}
	}
	for _, c := range []struct {
		m    string
		want float64
	}{
		{MAE, 0.5}, {RMSE, math.Sqrt(0.375)}, {MAPE, 0.3273809523809524}, {R2, 0.9486081370449679},
	} {
		if got, err := Compute(c.m, s); err != nil || !near(got, c.want) {
			t.Errorf("%s = %v, %v; want %v", c.m, got, err, c.want)
		}
	}
}

// Fairlearn's definitions, worked by hand. Groups A (rows 0-2) and B (3-5)
// of the fixture: A predicts [1 0 0] on labels [1 1 0] (selection 1/3, TPR
// 1/2, FPR 0), B predicts [1 0 0] on [0 1 0] (selection 1/3, TPR 0, FPR 1/2).
func TestFairnessByHand(t *testing.T) {
	labels, scores := []float64{1, 1, 0, 0, 1, 0}, []float64{.9, .4, .35, .8, .4, .1}
	g := Groups(binarySamples(labels, scores), []string{"A", "A", "A", "B", "B", "B"}, 0)
	for _, c := range []struct {
		m    string
		want float64
	}{
		{DemographicParityDifference, 0}, {DemographicParityRatio, 1}, {DisparateImpactRatio, 1},
		{EqualizedOddsDifference, 0.5}, // max(TPR 1/2 − 0, FPR 1/2 − 0)
		{EqualOpportunityDifference, 0.5},
	} {
		if got, err := FairnessMetric(c.m, g); err != nil || !near(got, c.want) {
			t.Errorf("%s = %v, %v; want %v", c.m, got, err, c.want)
		}
	}
	// Rows 0, 1, 3 (predicted [1 0 1]: selection 2/3) against 2, 4, 5 (none selected).
	g = Groups(binarySamples(labels, scores), []string{"A", "A", "B", "A", "B", "B"}, 0)
	if got, _ := FairnessMetric(DemographicParityDifference, g); !near(got, 2.0/3) {
		t.Errorf("DP difference = %v, want 2/3", got)
	}
	if got, _ := FairnessMetric(DisparateImpactRatio, g); !near(got, 0) {
		t.Errorf("disparate impact = %v, want 0 (four-fifths rule fails)", got)
	}
	if _, err := FairnessMetric(DemographicParityDifference, g[:1]); err == nil {
		t.Error("one group has a parity difference")
	}
}

// Evaluate: intervals are deterministic and hold the value; slices are
// reported with counts and a small one is marked, not dropped; a fairness
// bound over a group under the minimum size does not pass.
func TestEvaluate(t *testing.T) {
	var labels, scores []float64
	var region, sex []string
	for i := 0; i < 200; i++ {
		l := float64(i % 2)
		sc := 0.3 + 0.4*l
		if i%7 == 0 {
			sc = 1 - sc // some mistakes
		}
		labels, scores = append(labels, l), append(scores, sc)
		region = append(region, map[bool]string{true: "north", false: "south"}[i%3 == 0])
		sex = append(sex, map[bool]string{true: "x", false: "f"}[i < 5])
	}
	spec := Spec{Sensitive: []string{"sex"}, Slices: []string{"region"}}
	s := binarySamples(labels, scores, sex, region)
	reqs := []Request{{Name: "auc", Metric: ROCAUC, Threshold: 0.8}, {Name: "dp", Metric: DemographicParityDifference, Threshold: 0.5}}
	a := Evaluate(spec, s, reqs, 30)
	b := Evaluate(spec, s, reqs, 30)
	auc := a.Metrics[0]
	if auc.Value == nil || auc.Low == nil || *auc.Low > *auc.Value || *auc.High < *auc.Value || *a.Metrics[0].Low != *b.Metrics[0].Low {
		t.Fatalf("auc %+v", auc)
	}
	if !auc.Pass || a.Metrics[1].Pass || !strings.Contains(a.Metrics[1].Note, `group sex="x" has 5 rows, fewer than the minimum 30`) {
		t.Errorf("metrics %+v", a.Metrics)
	}
	if a.Passed {
		t.Error("a suite with a failing fairness bound passed")
	}
	if len(a.Slices) != 2 || a.Slices[0].Value != "north" || a.Slices[0].Count != 67 || a.Slices[0].Metrics["auc"] == nil {
		t.Errorf("slices %+v", a.Slices)
	}
	small := Evaluate(spec, s, reqs, 100)
	if !small.Slices[0].Small || small.Slices[1].Small {
		t.Errorf("small slices: %+v", small.Slices)
	}
}

// Malformed predictions files fail at their row.
func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	spec := Spec{Label: "label", Score: "score", Sensitive: []string{"sex"}}
	for _, c := range []struct{ name, content, want string }{
		{"ok.csv", "label,score,sex\n1,0.9,f\n0,0.2,m\n", ""},
		{"missing.csv", "label,prob,sex\n1,0.9,f\n", `"score" not found`},
		{"class.csv", "label,score,sex\n1,0.9,f\n2,0.2,m\n", "row 2: label \"2\": not one of the classes"},
		{"prob.csv", "label,score,sex\n1,1.5,f\n", "row 1: score 1.5 is a probability outside [0, 1]"},
		{"nan.csv", "label,score,sex\n1,NaN,f\n", `row 1: no value in column "score"`}, // NaN is a missing value, as pandas reads it
		{"text.csv", "label,score,sex\n1,high,f\n", `row 1: column "score" holds "high", not a number`},
		{"ragged.csv", "label,score,sex\n1,0.9\n", "row 1"},
		{"rows.jsonl", "{\"label\": 1, \"score\": 0.9, \"sex\": \"f\"}\n{\"label\": true, \"score\": 0.1}\n", `row 2: no value in column "sex"`},
	} {
		p := filepath.Join(dir, c.name)
		os.WriteFile(p, []byte(c.content), 0o644)
		s, err := Read(p, spec)
		if c.want == "" {
			if err != nil || len(s) != 2 || s[0].Label != 1 || s[0].Predicted != 1 || s[1].Predicted != 0 || s[1].Attrs[0] != "m" {
				t.Errorf("%s: %+v, %v", c.name, s, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want %q", c.name, err, c.want)
		}
	}
}

// McNemar's exact test, worked by hand: 6 rows only the first model gets
// right and 1 only the second: 2·P(X ≤ 1 | n=7, ½) = 2·8/128.
func TestMcNemarByHand(t *testing.T) {
	var a, b []Sample
	add := func(n int, ra, rb bool) {
		for range n {
			a = append(a, Sample{Label: 1, Predicted: map[bool]float64{true: 1}[ra], Weight: 1})
			b = append(b, Sample{Label: 1, Predicted: map[bool]float64{true: 1}[rb], Weight: 1})
		}
	}
	add(6, true, false)
	add(1, false, true)
	add(20, true, true)
	if got := McNemar(a, b); !near(got, 0.125) {
		t.Errorf("McNemar p = %v, want 0.125", got)
	}
	if got := McNemar(a[:0], b[:0]); got != 1 {
		t.Errorf("no discordant rows: p = %v, want 1", got)
	}
}

// Compare pairs rows by id (in any order), reports unpaired rows, and its
// paired interval is exactly zero when the versions agree on every row.
func TestCompare(t *testing.T) {
	labels, scores := []float64{1, 0, 1, 0, 1, 0, 1, 0}, []float64{.9, .1, .8, .3, .4, .6, .7, .2}
	champ := binarySamples(labels, scores)
	for i := range champ {
		champ[i].ID = fmt.Sprint("r", i)
	}
	same := slices.Clone(champ)
	slices.Reverse(same)
	c, err := Compare(ROCAUC, same, champ)
	if err != nil || c.Diff != 0 || c.Low == nil || *c.Low != 0 || *c.High != 0 || c.Pairs != 8 {
		t.Fatalf("identical versions: %+v, %v", c, err)
	}
	better := slices.Clone(champ)
	better[4].Score, better[5].Score = .95, .05 // the champion's two mistakes, fixed
	better = append(better, Sample{ID: "extra", Label: 1, Score: .9, Weight: 1})
	c, err = Compare(ROCAUC, better, champ)
	if err != nil || !near(c.Challenger, 1) || !near(c.Champion, 15.0/16) || !near(c.Diff, 1.0/16) || c.Unpaired != 1 {
		t.Fatalf("better challenger: %+v, %v", c, err)
	}
	if d, worst, ok := c.Improvement(); !ok || d <= 0 || worst < 0 {
		t.Errorf("improvement %v, worst case %v", d, worst)
	}
	// A lower-is-better metric turns the sign: a smaller log loss is an improvement.
	c, _ = Compare(LogLoss, better, champ)
	if d, _, _ := c.Improvement(); d <= 0 || c.Diff >= 0 {
		t.Errorf("log loss: diff %v, improvement %v", c.Diff, d)
	}
	if _, err := Compare(ROCAUC, append(slices.Clone(champ), champ[0]), champ); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate id: %v", err)
	}
	noID := binarySamples(labels, scores)
	if _, err := Compare(ROCAUC, noID[:5], noID); err == nil || !strings.Contains(err.Error(), "declare predictions.id") {
		t.Errorf("unequal counts without ids: %v", err)
	}
}

// A file of several versions: each version's rows, and a missing version
// named with the ones the file has.
func TestReadVersion(t *testing.T) {
	p := filepath.Join(t.TempDir(), "p.csv")
	os.WriteFile(p, []byte("id,v,label,score\na,7,1,0.9\nb,7,0,0.2\na,8,1,0.6\nb,8,0,0.7\n"), 0o644)
	spec := Spec{Label: "label", Score: "score", Version: "v", ID: "id", ForVersion: "8"}
	s, err := Read(p, spec)
	if err != nil || len(s) != 2 || s[0].ID != "a" || s[1].Score != 0.7 {
		t.Fatalf("version 8: %+v, %v", s, err)
	}
	spec.ForVersion = "9"
	if _, err := Read(p, spec); err == nil || !strings.Contains(err.Error(), `no predictions of version "9" in column "v" (it has 7, 8)`) {
		t.Errorf("missing version: %v", err)
	}
	spec.ForVersion = ""
	if _, err := Read(p, spec); err == nil || !strings.Contains(err.Error(), "name the version") {
		t.Errorf("no version named: %v", err)
	}
}

// scikit-learn's documented multiclass examples: f1_score's (macro and
// weighted 0.2667 on y_true [0 1 2 0 1 2], y_pred [0 2 1 0 0 1]),
// balanced_accuracy by hand (recalls 1, 0, 0), log_loss's two-class
// example (0.21616), and one-vs-rest ROC AUC as the mean of the binary ones.
func TestMulticlassBySklearnExamples(t *testing.T) {
	yt, yp := []int{0, 1, 2, 0, 1, 2}, []int{0, 2, 1, 0, 0, 1}
	s := make([]Sample, len(yt))
	for i := range yt {
		s[i] = Sample{Label: float64(yt[i]), Predicted: float64(yp[i]), Weight: 1, Score: math.NaN()}
	}
	for _, c := range []struct {
		m    string
		want float64
	}{{F1Macro, 0.26666666666666666}, {F1Weighted, 0.26666666666666666}, {Accuracy, 1.0 / 3}, {BalancedAccuracy, 1.0 / 3}} {
		if got, err := ComputeTask(TaskMulticlass, 3, c.m, s); err != nil || !near(got, c.want) {
			t.Errorf("%s = %v, %v; want %v", c.m, got, err, c.want)
		}
	}
	if _, err := ComputeTask(TaskMulticlass, 3, F1, s); err == nil || !strings.Contains(err.Error(), "binary metric") {
		t.Errorf("binary f1 on multiclass: %v", err)
	}
	if _, err := ComputeTask(TaskMulticlass, 3, ROCAUC, s); err == nil || !strings.Contains(err.Error(), "probability column per class") {
		t.Errorf("AUC without probabilities: %v", err)
	}
	// log_loss(["spam", "ham", "ham", "spam"], [[.1, .9], [.9, .1], [.8, .2], [.35, .65]]), classes [ham spam].
	probs := [][]float64{{.1, .9}, {.9, .1}, {.8, .2}, {.35, .65}}
	lab := []float64{1, 0, 0, 1}
	ll := make([]Sample, 4)
	for i := range ll {
		ll[i] = Sample{Label: lab[i], Probs: probs[i], Predicted: float64(argmax(probs[i])), Weight: 1}
	}
	if got, err := ComputeTask(TaskMulticlass, 2, LogLoss, ll); err != nil || !near(got, 0.21616187468057912) {
		t.Errorf("log loss = %v, %v", got, err)
	}
	// Three classes: OvR macro AUC is the mean of the per-class binary AUCs.
	p3 := [][]float64{{.7, .2, .1}, {.2, .5, .3}, {.1, .3, .6}, {.4, .4, .2}, {.3, .3, .4}, {.5, .1, .4}}
	l3 := []float64{0, 1, 2, 1, 2, 0}
	m3 := make([]Sample, len(p3))
	for i := range m3 {
		m3[i] = Sample{Label: l3[i], Probs: p3[i], Predicted: float64(argmax(p3[i])), Weight: 1}
	}
	var want float64
	for c := range 3 {
		bin := make([]Sample, len(m3))
		for i, x := range m3 {
			bin[i] = Sample{Score: x.Probs[c], Weight: 1, Label: map[bool]float64{true: 1}[int(x.Label) == c]}
		}
		v, _ := Compute(ROCAUC, bin)
		want += v / 3
	}
	if got, err := ComputeTask(TaskMulticlass, 3, ROCAUC, m3); err != nil || !near(got, want) {
		t.Errorf("OvR AUC = %v, %v; want %v", got, err, want)
	}
	// Brier, multiclass: mean of Σ (p − y)², here by hand for the first row (.7−1)² + .2² + .1² = .14.
	if got, _ := ComputeTask(TaskMulticlass, 3, Brier, m3[:1]); !near(got, 0.14) {
		t.Errorf("multiclass Brier = %v, want 0.14", got)
	}
	cm := ConfusionK(3, s)
	if cm[0][0] != 2 || cm[1][2] != 1 || cm[2][1] != 2 || cm[1][0] != 1 {
		t.Errorf("confusion %v", cm)
	}
}

// scikit-learn's ndcg_score examples: 0.69 and 0.49 on true relevance
// [10 0 0 1 5], 0.35 at k=4, and 0.75 at k=1 where two rows tie (their
// gains averaged). MAP@k worked by hand.
func TestRankingBySklearnExamples(t *testing.T) {
	rel := []float64{10, 0, 0, 1, 5}
	ideal := 10 + 5/math.Log2(3) + 1/math.Log2(4)
	q := func(scores ...float64) []Sample {
		s := make([]Sample, len(rel))
		for i := range rel {
			s[i] = Sample{Query: "q", Label: rel[i], Score: scores[i], Weight: 1}
		}
		return s
	}
	for _, c := range []struct {
		s    []Sample
		k    int
		want float64
	}{
		// By hand: DCG over the score order ÷ DCG over the ideal order (10, 5, 1, 0, 0).
		{q(.1, .2, .3, 4, 70), 10, (5 + 1/math.Log2(3) + 10/math.Log2(6)) / ideal},                 // the docs' 0.69…
		{q(.05, 1.1, 1., .5, .0), 10, (1/math.Log2(4) + 10/math.Log2(5) + 5/math.Log2(6)) / ideal}, // 0.49…
		{q(.05, 1.1, 1., .5, .0), 4, (1/math.Log2(4) + 10/math.Log2(5)) / ideal},                   // 0.35…
		{q(1, 0, 0, 0, 1), 1, 0.75},
	} {
		if got, err := ComputeTask(TaskRanking, c.k, NDCG, c.s); err != nil || math.Abs(got-c.want) > 1e-9 {
			t.Errorf("ndcg@%d = %v, %v; want %v", c.k, got, err, c.want)
		}
	}
	// Two queries: AP of [rel, no, rel] = (1 + 2/3)/2; the second query has
	// its one relevant row at rank 2: 1/2. MAP = 0.6667.
	s := []Sample{
		{Query: "a", Label: 1, Score: .9}, {Query: "a", Label: 0, Score: .8}, {Query: "a", Label: 2, Score: .7}, {Query: "a", Label: 0, Score: .1},
		{Query: "b", Label: 0, Score: .9}, {Query: "b", Label: 1, Score: .5},
		{Query: "none", Label: 0, Score: .5}, // no relevant row: left out
	}
	if got, err := ComputeTask(TaskRanking, 10, MAP, s); err != nil || !near(got, (5.0/6+0.5)/2) {
		t.Errorf("MAP = %v, %v", got, err)
	}
	if got, _ := ComputeTask(TaskRanking, 1, MAP, s); !near(got, 0.5) { // AP@1: 1 and 0
		t.Errorf("MAP@1 = %v, want 0.5", got)
	}
	if _, err := ComputeTask(TaskRanking, 10, ROCAUC, s); err == nil {
		t.Error("ROC AUC applies to ranking")
	}
	// Intervals resample whole queries: deterministic, and the value inside.
	spec := Spec{Task: TaskRanking}
	var many []Sample
	for i := range 40 {
		for j := range 5 {
			many = append(many, Sample{Query: fmt.Sprint("q", i), Label: float64((i + j) % 3), Score: float64(j%3) + float64(i%2)/10, Weight: 1})
		}
	}
	r := Evaluate(spec, many, []Request{{Name: "ndcg5", Metric: NDCG, K: 5, Threshold: 0.5}}, 1)
	m := r.Metrics[0]
	if m.Value == nil || m.Low == nil || *m.Low > *m.Value || *m.High < *m.Value || r.Queries != 40 {
		t.Errorf("ranking result %+v, queries %d", m, r.Queries)
	}
}

// Multiclass and ranking files: classes, probabilities that sum to one,
// relevance and query columns, each wrong row named.
func TestReadMulticlassAndRanking(t *testing.T) {
	dir := t.TempDir()
	mc := Spec{Task: TaskMulticlass, Label: "y", Classes: []string{"cat", "dog", "eel"}, Probabilities: []string{"p_cat", "p_dog", "p_eel"}}
	for _, c := range []struct{ content, want string }{
		{"y,p_cat,p_dog,p_eel\ndog,0.2,0.7,0.1\neel,0.5,0.2,0.3\n", ""},
		{"y,p_cat,p_dog,p_eel\nfox,0.2,0.7,0.1\n", `row 1: label "fox": not one of the classes`},
		{"y,p_cat,p_dog,p_eel\ndog,0.2,0.7,0.5\n", "row 1: the class probabilities sum to 1.4, not 1"},
		{"y,p_cat,p_dog\ndog,0.2,0.8\n", `"p_eel" not found`},
	} {
		p := filepath.Join(dir, "mc.csv")
		os.WriteFile(p, []byte(c.content), 0o644)
		s, err := Read(p, mc)
		if c.want == "" {
			if err != nil || len(s) != 2 || s[0].Label != 1 || s[0].Predicted != 1 || s[1].Predicted != 0 || len(s[1].Probs) != 3 {
				t.Errorf("multiclass: %+v, %v", s, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("multiclass: %v; want %q", err, c.want)
		}
	}
	rk := Spec{Task: TaskRanking, Label: "rel", Score: "s", Query: "q"}
	p := filepath.Join(dir, "rk.jsonl")
	os.WriteFile(p, []byte(`{"q": "a", "rel": 2, "s": 3.5}`+"\n"+`{"q": "a", "rel": -1, "s": 1}`+"\n"), 0o644)
	if _, err := Read(p, rk); err == nil || !strings.Contains(err.Error(), "row 2: relevance -1 is negative") {
		t.Errorf("ranking: %v", err)
	}
	if _, err := Read(p, Spec{Task: TaskRanking, Label: "rel", Score: "s"}); err == nil || !strings.Contains(err.Error(), "query column") {
		t.Errorf("ranking without a query: %v", err)
	}
}

// Past the bootstrap's rows the file streams through summaries: every
// metric, slice, group, calibration bin and the confusion matrix come out
// as the exact in-memory evaluation gives them (scores of four decimals sit
// in their own histogram bins), only without intervals.
func TestStreamedEqualsInMemory(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("label,score,weight,region,band,target,guess\n")
	for i := range 3000 {
		label := (i*7)%10 < 3
		score := float64((i*7919)%10000) / 10000
		if label {
			score = math.Min(0.9999, score+0.3)
		}
		fmt.Fprintf(&b, "%d,%.4f,%d,%s,%s,%d,%d\n", map[bool]int{true: 1}[label], score, 1+i%3, []string{"n", "s", "w"}[i%3], []string{"a", "b"}[i%5/3], i%50, (i*3)%50)
	}
	p := filepath.Join(dir, "p.csv")
	os.WriteFile(p, []byte(b.String()), 0o644)
	var reqs []Request
	for _, m := range append(append([]string{}, Classification...), Fairness...) {
		reqs = append(reqs, Request{Name: m, Metric: m, Threshold: 0.5})
	}
	spec := Spec{Label: "label", Score: "score", Weight: "weight", Slices: []string{"region", "band"}, Sensitive: []string{"region"}}
	exact, err := EvaluateFile(p, spec, reqs, 30)
	if err != nil || exact.Metrics[0].Low == nil {
		t.Fatalf("in memory: %v", err)
	}
	bootstrapRows = 1000
	defer func() { bootstrapRows = BootstrapRows }()
	streamed, err := EvaluateFile(p, spec, reqs, 30)
	if err != nil {
		t.Fatal(err)
	}
	if streamed.Rows != 3000 || streamed.Metrics[0].Low != nil || !strings.Contains(streamed.Metrics[0].Note, "no interval") {
		t.Fatalf("streamed: %d rows, %+v", streamed.Rows, streamed.Metrics[0])
	}
	for i, m := range exact.Metrics {
		s := streamed.Metrics[i]
		if (m.Value == nil) != (s.Value == nil) || m.Value != nil && !near(*m.Value, *s.Value) || m.Pass != s.Pass {
			t.Errorf("%s: exact %v, streamed %v", m.Name, deref(m.Value), deref(s.Value))
		}
		if fmt.Sprint(m.Groups) != fmt.Sprint(s.Groups) {
			t.Errorf("%s groups: %v vs %v", m.Name, m.Groups, s.Groups)
		}
	}
	if *exact.Confusion != *streamed.Confusion || len(exact.Slices) != len(streamed.Slices) {
		t.Errorf("confusion %v vs %v; %d vs %d slices", exact.Confusion, streamed.Confusion, len(exact.Slices), len(streamed.Slices))
	}
	for i, sl := range exact.Slices {
		for k, v := range sl.Metrics {
			if w := streamed.Slices[i].Metrics[k]; (v == nil) != (w == nil) || v != nil && !near(*v, *w) {
				t.Errorf("slice %s=%s %s: %v vs %v", sl.Column, sl.Value, k, deref(v), deref(w))
			}
		}
	}
	for i, c := range exact.Calibration {
		if s := streamed.Calibration[i]; c.Count != s.Count || !near(c.MeanScore, s.MeanScore) || !near(c.Observed, s.Observed) {
			t.Errorf("calibration bin %d: %+v vs %+v", i, c, s)
		}
	}
	// Regression, the same way.
	rspec := Spec{Task: TaskRegression, Label: "target", Predicted: "guess", Slices: []string{"band"}}
	rreqs := []Request{{Name: "mae", Metric: MAE}, {Name: "rmse", Metric: RMSE}, {Name: "mape", Metric: MAPE}, {Name: "r2", Metric: R2}}
	bootstrapRows = BootstrapRows
	re, _ := EvaluateFile(p, rspec, rreqs, 30)
	bootstrapRows = 1000
	rs, _ := EvaluateFile(p, rspec, rreqs, 30)
	for i := range re.Metrics {
		if !near(*re.Metrics[i].Value, *rs.Metrics[i].Value) {
			t.Errorf("%s: exact %v, streamed %v", re.Metrics[i].Name, *re.Metrics[i].Value, *rs.Metrics[i].Value)
		}
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}
