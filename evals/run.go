package evals

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/evals/scorer"
	"github.com/cairn-dev/cairn/prices"
	"github.com/cairn-dev/cairn/state"
)

// RunSuite plans and executes a suite and aggregates it. The per-case results
// and the run are stored in opts.Store under the run id "<suite>@<bundle
// hash>"; with no opts.Store the cache lives for this run only and no
// records are written.
//
// The dataset is streamed twice rather than planned whole: a first pass
// parses and renders every row (a bad row is an error before any provider
// call, and the case count is known), the second plans each row just before
// it runs. Memory is then the results, not the cases (a 100k-row dataset's
// cases hold every rendered prompt).
func RunSuite(ctx context.Context, b *compiler.Bundle, suite string, opts Options) (*Run, error) {
	if ev := b.Evals[suite]; ev != nil && ev.Predictions != nil {
		r, err := RunPredictions(ctx, b, suite, opts.Version)
		if err != nil || opts.Store == nil {
			return r, err
		}
		r.BundleHash = bundleHash(b)
		if err := opts.Store.PutRecord(ctx, KindRun, RunID(suite, r.BundleHash, r.Version), RunRecord(r)); err != nil {
			return nil, fmt.Errorf("eval results: %w", err)
		}
		return r, nil
	}
	p, err := newSuitePlanner(b, suite, opts.Catalog, opts.Retriever)
	if err != nil {
		return nil, err
	}
	rows := 0
	if err := forEachRow(p.dsPath, p.ev.Dataset, func(r Row) error {
		rows++
		_, err := p.rowCases(ctx, r, true)
		return err
	}); err != nil {
		return nil, err
	}
	eng, err := NewEngine(b, opts)
	if err != nil {
		return nil, err
	}
	if err := eng.Unavailable(suiteProviders(b, suite, p.metrics)...); err != nil {
		return nil, err
	}
	total := rows * p.repeats
	start := time.Now()
	results, err := eng.executeStream(ctx, total, opts.Parallel, opts.Progress, func(emit func(Case) error) error {
		return forEachRow(p.dsPath, p.ev.Dataset, func(r Row) error {
			cs, err := p.rowCases(ctx, r, false)
			if err != nil {
				return err
			}
			for _, c := range cs {
				if err := emit(c); err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	ev := b.Evals[suite]
	var metrics []MetricSpec
	if total > 0 {
		metrics = p.metrics
	}
	r := summarize(suite, metrics, results, ev.MinPasses)
	if total > 0 {
		r.Target = p.target
	}
	r.DatasetHash = ev.DatasetHash
	r.DurationMS = float64(time.Since(start).Milliseconds())
	if h := bundleHash(b); h != "" {
		r.BundleHash = h
	}
	if opts.Store == nil {
		return r, nil // nothing could read the records back
	}
	runID := suite + "@" + r.BundleHash
	for _, c := range r.Cases {
		v, _ := json.Marshal(c)
		if err := eng.Store.PutRecord(ctx, KindCase, fmt.Sprintf("%s/%s#%d", runID, c.ID, c.Repeat), v); err != nil {
			return nil, fmt.Errorf("eval results: %w", err)
		}
	}
	if err := eng.Store.PutRecord(ctx, KindRun, runID, RunRecord(r)); err != nil {
		return nil, fmt.Errorf("eval results: %w", err)
	}
	return r, nil
}

// RunRecord is the eval.run record of a run: the run without its cases,
// which are their own eval.case records (a 100k-case run would otherwise be
// stored twice, the second time as one huge value).
func RunRecord(r *Run) []byte {
	summary := *r
	summary.Cases = nil
	v, _ := json.Marshal(summary)
	return v
}

func bundleHash(b *compiler.Bundle) (h string) {
	defer func() {
		if recover() != nil { // a hand-built bundle may lack what hashing needs
			h = ""
		}
	}()
	return b.Hash()
}

// ExecuteAll runs cases with up to parallel in flight, results in case order.
func (e *Engine) ExecuteAll(ctx context.Context, cases []Case, parallel int, progress func(done, total int)) ([]CaseResult, error) {
	return e.executeStream(ctx, len(cases), parallel, progress, func(emit func(Case) error) error {
		for _, c := range cases {
			if err := emit(c); err != nil {
				return err
			}
		}
		return nil
	})
}

// errStop ends a producer early (the context is done); it is not reported.
var errStop = errors.New("stop")

// executeStream runs the total cases that produce emits, in order, with up
// to parallel in flight; results are in emit order. Only the results are
// kept: each case is dropped once it has run.
func (e *Engine) executeStream(ctx context.Context, total, parallel int, progress func(done, total int), produce func(emit func(Case) error) error) ([]CaseResult, error) {
	if parallel <= 0 {
		parallel = 4
	}
	results := make([]CaseResult, total)
	// The first run-level error (a provider's configuration, the store)
	// stops the run: every case left would fail the same way.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		done    int
		firstEr error
	)
	in := interner{}
	type job struct {
		i int
		c Case
	}
	jobs := make(chan job, parallel)
	for w := 0; w < parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				r, err := e.ExecuteCase(ctx, j.c)
				mu.Lock()
				if err != nil && firstEr == nil {
					firstEr = err
					cancel()
				}
				r.Metrics = in.metrics(r.Metrics)
				results[j.i] = r
				done++
				if progress != nil {
					progress(done, total)
				}
				mu.Unlock()
			}
		}()
	}
	n := 0
	perr := produce(func(c Case) error {
		if ctx.Err() != nil {
			return errStop
		}
		if n >= total { // the dataset changed between the two passes
			return fmt.Errorf("eval: the dataset changed while it was read (more than %d cases)", total)
		}
		jobs <- job{n, c}
		n++
		return nil
	})
	close(jobs)
	wg.Wait()
	if perr != nil && perr != errStop {
		return nil, perr
	}
	if firstEr != nil {
		return nil, firstEr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if n != total {
		return nil, fmt.Errorf("eval: the dataset changed while it was read (%d cases, expected %d)", n, total)
	}
	return results, nil
}

// interner shares one Metrics map between the cases whose metric results
// are equal: most cases of a large suite score alike, and a map per case
// was most of a 100k-case run's memory.
type interner map[string]map[string]MetricResult

func (in interner) metrics(m map[string]MetricResult) map[string]MetricResult {
	b, err := json.Marshal(m) // sorted keys: equal maps give equal bytes
	if err != nil {
		return m
	}
	if prev, ok := in[string(b)]; ok {
		return prev
	}
	if len(in) < 4096 { // bounded: real-valued scores rarely repeat
		in[string(b)] = m
	}
	return m
}

// Summarize computes a run's metrics, rows and verdict from its case results.
// minPasses is the passes a row needs over its repeats (0: all of them).
func Summarize(suite string, cases []Case, results []CaseResult, minPasses int) *Run {
	var metrics []MetricSpec
	if len(cases) > 0 {
		metrics = cases[0].Metrics
	}
	r := summarize(suite, metrics, results, minPasses)
	r.Target = cases0Target(cases)
	return r
}

func cases0Target(cs []Case) string {
	if len(cs) > 0 {
		return cs[0].Target
	}
	return ""
}

func summarize(suite string, metrics []MetricSpec, results []CaseResult, minPasses int) *Run {
	r := &Run{Suite: suite, Cases: results}
	var costs []float64
	for _, c := range results {
		if c.Status == Error {
			r.Errors++
		}
		if c.CacheHit {
			r.CacheHits++
		}
		if c.CostUSD != nil {
			costs = append(costs, *c.CostUSD)
		}
		r.InputTokens += c.InputTokens
		r.OutTokens += c.OutputTokens
	}
	r.CostUSD = prices.Sum(costs...)
	r.Answered, r.RAGSnapshots = answered(results)
	allPass := true
	for _, m := range metrics {
		a := computeMetric(m, results)
		if !a.Pass {
			allPass = false
		}
		r.Metrics = append(r.Metrics, a)
	}
	// Rows over repeats.
	byRow := map[string]*RowResult{}
	var order []string
	for _, c := range results {
		rr, ok := byRow[c.ID]
		if !ok {
			rr = &RowResult{ID: c.ID}
			byRow[c.ID] = rr
			order = append(order, c.ID)
		}
		rr.Runs++
		switch c.Status {
		case Pass:
			rr.Passes++
		case Error:
			rr.Errors++
		}
	}
	for _, id := range order {
		rr := byRow[id]
		need := minPasses
		if need <= 0 || need > rr.Runs {
			need = rr.Runs
		}
		switch {
		case rr.Passes >= need:
			rr.Status = Pass
		case rr.Passes+rr.Errors >= need:
			rr.Status = Error // the errors decide it: unknown, not failed
		default:
			rr.Status = Fail
		}
		r.Rows = append(r.Rows, *rr)
	}
	switch {
	case r.Errors > 0 || len(results) == 0:
		r.Status = Error
	case allPass:
		r.Status, r.Passed = Pass, true
	default:
		r.Status = Fail
	}
	return r
}

func computeMetric(m MetricSpec, results []CaseResult) Aggregate {
	// The operator is the metric's, whether or not any case scored.
	lower := m.Aggregate != "pass_rate" && scorer.LowerIsBetter(m.Settings.Scorer)
	a := Aggregate{Name: m.Name, Scorer: m.Settings.Scorer, Aggregate: m.Aggregate, Threshold: m.Threshold, Op: ">=",
		Approximation: scorer.Approximation(m.Settings)}
	if lower {
		a.Op = "<="
	}
	var vals []float64
	passN := 0
	for _, c := range results {
		mr, ok := c.Metrics[m.Name]
		if c.Status == Error && (!ok || mr.Status == Error || mr.Score == nil) {
			a.Errors++
			continue
		}
		if !ok || mr.Score == nil {
			a.Errors++
			continue
		}
		a.Cases++
		vals = append(vals, *mr.Score)
		if mr.Pass {
			passN++
		}
	}
	if len(vals) == 0 {
		return a
	}
	var v float64
	switch m.Aggregate {
	case "pass_rate":
		v = float64(passN) / float64(len(vals))
	case "max":
		v = vals[0]
		for _, x := range vals {
			v = math.Max(v, x)
		}
	case "p95":
		s := append([]float64(nil), vals...)
		sort.Float64s(s)
		// Nearest-rank percentile.
		v = s[int(math.Ceil(0.95*float64(len(s))))-1]
	default:
		var sum float64
		for _, x := range vals {
			sum += x
		}
		v = sum / float64(len(vals))
	}
	v = math.Round(v*1e6) / 1e6
	a.Value = &v
	if lower {
		a.Pass = v <= m.Threshold
	} else {
		a.Pass = v >= m.Threshold
	}
	return a
}

// Transition is a case whose status changed between two runs.
type Transition struct {
	ID     string `json:"id"`
	Repeat int    `json:"repeat"`
	From   Status `json:"from"` // "" when the case is new
	To     Status `json:"to"`   // "" when the case was removed
}

// MetricDelta is a metric's change between two runs.
type MetricDelta struct {
	Name  string   `json:"name"`
	Base  *float64 `json:"base"`
	Head  *float64 `json:"head"`
	Delta *float64 `json:"delta"`
	// Regressed: the metric passed on base and fails on head.
	Regressed bool `json:"regressed"`
}

// Delta compares two runs of a suite.
type Delta struct {
	Suite       string        `json:"suite"`
	BaseStatus  Status        `json:"base_status"`
	HeadStatus  Status        `json:"head_status"`
	Transitions []Transition  `json:"transitions"`
	Metrics     []MetricDelta `json:"metrics"`
	CostDelta   float64       `json:"cost_delta_usd"`
}

// Compare compares base and head case by case. Either may be nil (a suite
// added or removed).
func Compare(base, head *Run) Delta {
	d := Delta{}
	type k struct {
		id  string
		rep int
	}
	bm, hm := map[k]Status{}, map[k]Status{}
	var keys []k
	if base != nil {
		d.Suite, d.BaseStatus = base.Suite, base.Status
		for _, c := range base.Cases {
			bm[k{c.ID, c.Repeat}] = c.Status
			keys = append(keys, k{c.ID, c.Repeat})
		}
	}
	if head != nil {
		d.Suite, d.HeadStatus = head.Suite, head.Status
		for _, c := range head.Cases {
			if _, ok := bm[k{c.ID, c.Repeat}]; !ok {
				keys = append(keys, k{c.ID, c.Repeat})
			}
			hm[k{c.ID, c.Repeat}] = c.Status
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].id != keys[j].id {
			return keys[i].id < keys[j].id
		}
		return keys[i].rep < keys[j].rep
	})
	for _, key := range keys {
		if bm[key] != hm[key] {
			d.Transitions = append(d.Transitions, Transition{ID: key.id, Repeat: key.rep, From: bm[key], To: hm[key]})
		}
	}
	bmet, hmet := map[string]Aggregate{}, map[string]Aggregate{}
	var names []string
	if base != nil {
		for _, a := range base.Metrics {
			bmet[a.Name] = a
			names = append(names, a.Name)
		}
		d.CostDelta -= base.CostUSD
	}
	if head != nil {
		for _, a := range head.Metrics {
			if _, ok := bmet[a.Name]; !ok {
				names = append(names, a.Name)
			}
			hmet[a.Name] = a
		}
		d.CostDelta += head.CostUSD
	}
	sort.Strings(names)
	for _, n := range names {
		b, bok := bmet[n]
		h, hok := hmet[n]
		md := MetricDelta{Name: n}
		if bok {
			md.Base = b.Value
		}
		if hok {
			md.Head = h.Value
		}
		if md.Base != nil && md.Head != nil {
			x := math.Round((*md.Head-*md.Base)*1e6) / 1e6
			md.Delta = &x
		}
		md.Regressed = bok && hok && b.Pass && !h.Pass
		d.Metrics = append(d.Metrics, md)
	}
	d.CostDelta = math.Round(d.CostDelta*1e9) / 1e9
	return d
}

// suiteProviders are the providers a suite's cases call: the target prompt's
// model and every judge.
func suiteProviders(b *compiler.Bundle, suite string, metrics []MetricSpec) []string {
	var out []string
	if ev := b.Evals[suite]; ev != nil && ev.Target.Prompt != "" {
		if pr := b.Prompts[ev.Target.Prompt]; pr != nil {
			out = append(out, pr.Model.Provider)
		}
	}
	for _, m := range metrics {
		if m.Settings.JudgeProvider != "" {
			out = append(out, m.Settings.JudgeProvider)
		}
	}
	return out
}

// answered lists what answered a run's cases, sorted, and its RAG snapshots.
func answered(results []CaseResult) ([]state.Answered, []string) {
	counts := map[[2]string]int{}
	snaps := map[string]bool{}
	for _, c := range results {
		if c.ModelReported != "" {
			counts[[2]string{c.ModelReported, c.SystemFingerprint}]++
		}
		if c.RAGSnapshot != "" {
			snaps[c.RAGSnapshot] = true
		}
	}
	var out []state.Answered
	for k, n := range counts {
		out = append(out, state.Answered{Model: k[0], SystemFingerprint: k[1], Cases: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Model != out[j].Model {
			return out[i].Model < out[j].Model
		}
		return out[i].SystemFingerprint < out[j].SystemFingerprint
	})
	return out, slices.Sorted(maps.Keys(snaps))
}
