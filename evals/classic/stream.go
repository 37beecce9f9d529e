package classic

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
)

// BootstrapRows is the most rows a suite is held in memory for: up to it,
// metrics are computed exactly from the rows and each has a bootstrap
// interval; past it the rows stream through fixed-size summaries (below)
// and the intervals are left out — 200 resamples of every metric over
// millions of rows would cost minutes (make bench: about 4 s for 18 metrics
// at 50,000 rows), and the interval is then narrow.
const BootstrapRows = 50_000

// bootstrapRows is BootstrapRows, lowered by tests.
var bootstrapRows = BootstrapRows

// scoreBins is the resolution of a streamed summary's score histogram:
// scores are binned to 1e-4, so ROC and PR AUC are exact for scores of up
// to four decimals and otherwise count scores within 1e-4 of each other as
// tied (small histograms stay in cache: one per slice value and group).
const scoreBins = 10_000

// summary accumulates what the binary classification and regression
// metrics need from any number of rows in memory that does not grow with
// them: the confusion counts, a score histogram (for AUC), sums for the
// log loss, Brier score, calibration bins and the regression errors.
type summary struct {
	reg    bool // regression: errors; else classes and scores
	lite   bool // a fairness group: the confusion counts alone
	rows   int
	w      float64
	c      conf
	scored bool      // every row has a score
	bins   []float64 // 2 per bin: weight of negatives, of positives
	ll, br float64
	ece    [ECEBins][4]float64 // weight, weighted labels, weighted scores, rows
	// regression
	abs, sq, ape, sy, syy float64
}

func newSummary(task string) *summary { return &summary{scored: true, reg: task == TaskRegression} }

// row is what every summary a sample goes into adds from it, computed once.
type row struct {
	bin int     // score histogram bin, -1 without a score
	ll  float64 // the log loss term
	ece int     // calibration bin
}

func rowOf(x *Sample) row {
	if math.IsNaN(x.Score) {
		return row{bin: -1}
	}
	p := math.Min(math.Max(x.Score, logLossEps), 1-logLossEps)
	return row{bin: int(math.Round(x.Score * scoreBins)), ll: -(x.Label*math.Log(p) + (1-x.Label)*math.Log(1-p)),
		ece: min(int(x.Score*ECEBins), ECEBins-1)}
}

func (a *summary) add(x *Sample, t row) {
	a.rows++
	a.w += x.Weight
	if a.reg {
		d := x.Label - x.Predicted
		a.abs += x.Weight * math.Abs(d)
		a.sq += x.Weight * d * d
		a.ape += x.Weight * math.Abs(d) / math.Max(math.Abs(x.Label), logLossEps)
		a.sy += x.Weight * x.Label
		a.syy += x.Weight * x.Label * x.Label
		return
	}
	a.c.add(x)
	if a.lite {
		return
	}
	if t.bin < 0 {
		a.scored = false
		return
	}
	if a.bins == nil {
		a.bins = make([]float64, 2*(scoreBins+1))
	}
	a.bins[2*t.bin+int(x.Label)] += x.Weight
	a.ll += x.Weight * t.ll
	a.br += x.Weight * (x.Score - x.Label) * (x.Score - x.Label)
	e := t.ece
	a.ece[e][0] += x.Weight
	a.ece[e][1] += x.Weight * x.Label
	a.ece[e][2] += x.Weight * x.Score
	a.ece[e][3]++
}

// metric is Compute's value for the summarised rows (AUC at the bins'
// resolution).
func (a *summary) metric(m string) (float64, error) {
	if a.rows == 0 {
		return math.NaN(), errors.New("no samples")
	}
	if a.reg != (m == MAE || m == RMSE || m == MAPE || m == R2) {
		return math.NaN(), fmt.Errorf("%s does not apply to these predictions", m)
	}
	needScores := m == ROCAUC || m == PRAUC || m == LogLoss || m == Brier || m == ECE
	if needScores && (!a.scored || a.bins == nil) {
		return math.NaN(), ErrNoScores
	}
	c := a.c
	switch m {
	case Accuracy:
		return (c.tp + c.tn) / a.w, nil
	case BalancedAccuracy:
		return (ratio(c.tp, c.tp+c.fn) + ratio(c.tn, c.tn+c.fp)) / 2, nil
	case Precision:
		return ratio(c.tp, c.tp+c.fp), nil
	case Recall:
		return ratio(c.tp, c.tp+c.fn), nil
	case F1:
		return f1(c, 1), nil
	case F1Macro:
		return (f1(c, 1) + f1(c, 0)) / 2, nil
	case F1Weighted:
		pos, neg := c.tp+c.fn, c.tn+c.fp
		return (f1(c, 1)*pos + f1(c, 0)*neg) / (pos + neg), nil
	case ROCAUC:
		var pos, neg, auc float64
		for b := 0; b <= scoreBins; b++ {
			n, p := a.bins[2*b], a.bins[2*b+1]
			auc += p * (neg + n/2)
			pos, neg = pos+p, neg+n
		}
		if pos == 0 || neg == 0 {
			return math.NaN(), errors.New("ROC AUC is undefined with one class only")
		}
		return auc / (pos * neg), nil
	case PRAUC:
		var total float64
		for b := 0; b <= scoreBins; b++ {
			total += a.bins[2*b+1]
		}
		if total == 0 {
			return math.NaN(), errors.New("average precision is undefined without positives")
		}
		var tp, fp, ap, prev float64
		for b := scoreBins; b >= 0; b-- {
			n, p := a.bins[2*b], a.bins[2*b+1]
			if n == 0 && p == 0 {
				continue
			}
			tp, fp = tp+p, fp+n
			r := tp / total
			ap += (r - prev) * tp / (tp + fp)
			prev = r
		}
		return ap, nil
	case LogLoss:
		return a.ll / a.w, nil
	case Brier:
		return a.br / a.w, nil
	case ECE:
		var e float64
		for _, b := range a.ece {
			if b[0] > 0 {
				e += b[0] / a.w * math.Abs(b[1]/b[0]-b[2]/b[0])
			}
		}
		return e, nil
	case MAE:
		return a.abs / a.w, nil
	case RMSE:
		return math.Sqrt(a.sq / a.w), nil
	case MAPE:
		return a.ape / a.w, nil
	case R2:
		tot := a.syy - a.sy*a.sy/a.w
		if tot <= 0 {
			return math.NaN(), nil
		}
		return 1 - a.sq/tot, nil
	}
	return math.NaN(), fmt.Errorf("%s is not computed on streamed rows", m)
}

func (a *summary) calibration() []CalibrationBin {
	if !a.scored || a.bins == nil {
		return nil
	}
	var out []CalibrationBin
	for b, v := range a.ece {
		if v[0] == 0 {
			continue
		}
		out = append(out, CalibrationBin{Low: float64(b) / ECEBins, High: float64(b+1) / ECEBins, Count: int(v[3]), MeanScore: v[2] / v[0], Observed: v[1] / v[0]})
	}
	return out
}

// EvaluateFile reads a predictions file and evaluates it: up to
// BootstrapRows rows exactly and with intervals (Evaluate); past that, for
// binary classification and regression, from streamed summaries in memory
// that does not grow with the rows. Multiclass and ranking files are held
// whole (a ranking query's rows must be seen together).
func EvaluateFile(path string, spec Spec, reqs []Request, minSlice int) (Result, error) {
	cols := spec.Columns()
	streaming := spec.Task == "" || spec.Task == TaskClassification || spec.Task == TaskRegression
	var held []Sample
	overflow := false // past BootstrapRows: only the summaries
	overall := newSummary(spec.Task)
	slicesAt := map[string]map[string]*summary{}
	groups := map[string]map[string]*summary{}
	for _, c := range spec.Slices {
		slicesAt[c] = map[string]*summary{}
	}
	// A sensitive column that is also a slice shares its summaries; the
	// others need the confusion counts alone.
	lite := map[string]bool{}
	for _, c := range spec.Sensitive {
		if at, ok := slicesAt[c]; ok {
			groups[c] = at
		} else {
			groups[c], lite[c] = map[string]*summary{}, true
		}
	}
	// targets[i] are the summaries-by-value that attribute column i feeds.
	targets := make([]map[string]*summary, len(cols))
	for i, c := range cols {
		if at, ok := slicesAt[c]; ok {
			targets[i] = at
		} else {
			targets[i] = groups[c]
		}
	}
	consume := func(x *Sample) {
		t := row{bin: -1}
		if spec.Task != TaskRegression {
			t = rowOf(x)
		}
		overall.add(x, t)
		for i, by := range targets {
			s := by[x.Attrs[i]]
			if s == nil {
				s = newSummary(spec.Task)
				s.lite = lite[cols[i]]
				by[x.Attrs[i]] = s
			}
			s.add(x, t)
		}
	}
	// Two stages on two cores: this goroutine reads and checks rows, the
	// other adds them to the summaries, in recycled batches.
	const batchRows = 4096
	full, free := make(chan []Sample, 4), make(chan []Sample, 4)
	for range cap(free) {
		free <- make([]Sample, 0, batchRows)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for b := range full {
			for i := range b {
				consume(&b[i])
			}
			free <- b[:0]
		}
	}()
	cur := <-free
	n, err := ReadEach(path, spec, func(x Sample) error {
		switch {
		case !streaming || !overflow && len(held) < bootstrapRows:
			held = append(held, x)
		case !overflow:
			held, overflow = nil, true
		}
		if !streaming {
			return nil
		}
		if cur = append(cur, x); len(cur) == batchRows {
			full <- cur
			cur = <-free
		}
		return nil
	})
	full <- cur
	close(full)
	<-done
	if err != nil {
		return Result{}, err
	}
	if !streaming || n <= bootstrapRows {
		return Evaluate(spec, held, reqs, minSlice), nil
	}
	return fromSummaries(spec, n, overall, slicesAt, groups, reqs, minSlice), nil
}

// fromSummaries is Evaluate's result for streamed rows: the same metrics,
// slices and fairness groups, without intervals.
func fromSummaries(spec Spec, n int, overall *summary, slicesAt, groups map[string]map[string]*summary, reqs []Request, minSlice int) Result {
	res := Result{Rows: n, MinSlice: minSlice, Passed: true}
	if spec.Task != TaskRegression {
		c := overall.c
		res.Confusion = &[2][2]float64{{c.tn, c.fp}, {c.fn, c.tp}}
		res.Calibration = overall.calibration()
	}
	for _, r := range reqs {
		mr := MetricResult{Name: r.Name, Metric: r.Metric, Threshold: r.Threshold, Op: ">=",
			Note: fmt.Sprintf("no interval: %d rows is more than the %d the bootstrap holds", n, BootstrapRows)}
		if LowerIsBetter(r.Metric) {
			mr.Op = "<="
		}
		var v float64
		var err error
		if err = Applies(spec.Task, r.Metric); err == nil {
			if IsFairness(r.Metric) {
				col := r.By
				if col == "" && len(spec.Sensitive) > 0 {
					col = spec.Sensitive[0]
				}
				mr.By = col
				for _, val := range slices.Sorted(maps.Keys(groups[col])) {
					s := groups[col][val]
					c := s.c
					mr.Groups = append(mr.Groups, Group{Value: val, Count: s.rows, SelectionRate: ratio(c.tp+c.fp, c.tp+c.fp+c.tn+c.fn),
						TPR: ratio(c.tp, c.tp+c.fn), FPR: ratio(c.fp, c.fp+c.tn), Small: s.rows < minSlice})
				}
				v, err = FairnessMetric(r.Metric, mr.Groups)
			} else {
				v, err = overall.metric(r.Metric)
			}
		}
		if err == nil && math.IsNaN(v) {
			err = errors.New("undefined on these predictions")
		}
		if err != nil {
			mr.Note = err.Error()
		} else {
			mr.judge(v, minSlice)
		}
		res.Passed = res.Passed && mr.Pass
		res.Metrics = append(res.Metrics, mr)
	}
	for _, c := range spec.Slices {
		for _, v := range slices.Sorted(maps.Keys(slicesAt[c])) {
			s := slicesAt[c][v]
			sl := Slice{Column: c, Value: v, Count: s.rows, Small: s.rows < minSlice, Metrics: map[string]*float64{}}
			for _, r := range reqs {
				if IsFairness(r.Metric) {
					continue
				}
				if x, err := s.metric(r.Metric); err == nil && !math.IsNaN(x) {
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
