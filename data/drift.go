package data

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"sync"

	"github.com/cairn-dev/cairn/compiler"
)

// DriftOptions tune the drift computation; zero values take the defaults.
type DriftOptions struct {
	Bins    int     // PSI bins, cut at reference quantiles (default 10)
	Epsilon float64 // proportion counted for an empty PSI bin (default 1e-4)
	// ExactLimit is how many values of one feature in one sample are kept in
	// memory (default 65,536). Up to it PSI and KS are exact. Above it, in
	// the same single pass, the first ExactLimit values pick a grid of
	// GridPoints quantiles (the current sample's grid also holds the
	// reference's points) and every value is counted exactly into the grid's
	// cells: PSI is exact for its cut points (reference quantiles rounded up
	// to the grid, off in level by at most one cell's mass) and KS is
	// reported with a proven bound, the true D in [Statistic,
	// Statistic+ErrorBound]. If the first values were unrepresentative (a
	// cell holds more than 2/GridPoints of a sample: a sorted or trending
	// file), a second pass recounts over quantiles of a fixed-seed reservoir.
	// Without it the KS ErrorBound is at most 4/GridPoints (the two open
	// cells around the worst point); on the 1M-row benchmark it is ~1.2/1024.
	ExactLimit int
	GridPoints int // default 1024
	// MaxCategories bounds the distinct values of a categorical feature (default 10,000).
	MaxCategories int
}

func (o DriftOptions) withDefaults() DriftOptions {
	if o.Bins <= 1 {
		o.Bins = 10
	}
	if o.Epsilon <= 0 {
		o.Epsilon = 1e-4
	}
	if o.ExactLimit <= 0 {
		o.ExactLimit = 1 << 16
	}
	if o.GridPoints <= 0 {
		o.GridPoints = 1024
	}
	if o.MaxCategories <= 0 {
		o.MaxCategories = 10000
	}
	return o
}

// DriftResult is the drift of every monitored feature of a model between a
// reference and a current sample, with the fingerprints of both files.
type DriftResult struct {
	Model           string          `json:"model"`
	Method          string          `json:"method"` // psi | ks, from monitoring.drift
	Threshold       float64         `json:"threshold"`
	Binning         string          `json:"binning"`
	Reference       Fingerprint     `json:"reference"`
	Current         Fingerprint     `json:"current"`
	Features        []*FeatureDrift `json:"features"`
	Drifted         bool            `json:"drifted"`
	DriftedFeatures []string        `json:"drifted_features"`
	// EvidenceID is sha256 over this result without paths, time and the id
	// itself: the same data and the same monitor give the same id.
	EvidenceID string `json:"evidence_id"`
	ComputedAt string `json:"computed_at,omitempty"` // RFC 3339, passed in by the caller
}

// SampleStats counts the rows and nulls of a feature in one sample.
type SampleStats struct {
	Rows  int `json:"rows"`
	Nulls int `json:"nulls"`
}

// PSIBin is one PSI bin with its proportion in each sample.
type PSIBin struct {
	// Upper closes a numeric bin (previous upper, upper]; nil for the last bin (…, +∞).
	Upper     *float64 `json:"upper,omitempty"`
	Category  *string  `json:"category,omitempty"`
	Reference float64  `json:"reference"`
	Current   float64  `json:"current"`
}

// KSResult is the two-sample Kolmogorov–Smirnov test of a numeric feature.
type KSResult struct {
	Statistic float64 `json:"statistic"`
	PValue    float64 `json:"p_value"` // asymptotic: Q_KS(√(nm/(n+m))·D)
	Exact     bool    `json:"exact"`
	// ErrorBound is 0 when exact; otherwise the true D is in [Statistic, Statistic+ErrorBound].
	ErrorBound float64 `json:"error_bound"`
}

// FeatureDrift is the drift of one feature.
type FeatureDrift struct {
	Feature string `json:"feature"`
	DType   string `json:"dtype"`
	Type    string `json:"type"` // numeric | categorical
	// Statistic is what the threshold is compared with: the PSI for method
	// psi; for ks, the KS statistic D (numeric) or the total variation
	// distance of the category frequencies (categorical: the sup over all
	// events, as D is the sup over half-lines).
	Statistic float64     `json:"statistic"`
	Threshold float64     `json:"threshold"`
	Drifted   bool        `json:"drifted"`
	PSI       float64     `json:"psi"`
	Bins      []PSIBin    `json:"bins"`
	KS        *KSResult   `json:"ks,omitempty"`
	TVD       *float64    `json:"tvd,omitempty"`
	Reference SampleStats `json:"reference"`
	Current   SampleStats `json:"current"`
}

// Binning describes how PSI bins are made, for reports and evidence.
func (o DriftOptions) Binning() string {
	o = o.withDefaults()
	return fmt.Sprintf("numeric: %d equal-frequency bins cut at the reference quantiles x(ceil(k*n/%d)), k=1..%d, "+
		"right-closed, tied cuts merged; categorical: one bin per category in either sample; "+
		"an empty bin counts as proportion %g; nulls excluded", o.Bins, o.Bins, o.Bins-1, o.Epsilon)
}

type featAcc struct {
	rows, nulls int
	num         *numAcc
	cat         *catAcc
}

// catAcc counts the categories of a categorical feature.
type catAcc struct {
	idx    map[string]int
	counts []int
}

func (c *catAcc) toMap() map[string]int {
	m := make(map[string]int, len(c.idx))
	for k, i := range c.idx {
		m[k] = c.counts[i]
	}
	return m
}

// Drift computes PSI and KS for every feature in the model's
// monitoring.drift between the reference and current sample files.
func Drift(model *compiler.Model, features map[string]*compiler.Feature, reference, current string, opts DriftOptions) (*DriftResult, error) {
	opts = opts.withDefaults()
	if model == nil || model.Monitoring == nil || model.Monitoring.Drift == nil {
		name := ""
		if model != nil {
			name = model.Name
		}
		return nil, fmt.Errorf("models/%s declares no monitoring.drift", name)
	}
	mon := model.Monitoring.Drift
	names := append([]string(nil), mon.Features...)
	sort.Strings(names)
	names = slices.Compact(names)
	dtypes := make([]string, len(names))
	for i, n := range names {
		f, ok := features[n]
		if !ok {
			return nil, fmt.Errorf("models/%s: monitoring.drift.features names %q, which is not a declared feature", model.Name, n)
		}
		dtypes[i] = f.DType
	}
	res := &DriftResult{Model: model.Name, Method: mon.Method, Threshold: mon.Threshold, Binning: opts.Binning(), DriftedFeatures: []string{}}
	// Hashing the files (a tenth of the work) overlaps the scans; its
	// errors still come first, as when it ran before them.
	var fpErr [2]error
	var hashing sync.WaitGroup
	hashing.Go(func() { res.Reference, fpErr[0] = FingerprintFile(reference) })
	hashing.Go(func() { res.Current, fpErr[1] = FingerprintFile(current) })
	fail := func(err error) (*DriftResult, error) {
		hashing.Wait()
		return nil, cmp.Or(fpErr[0], fpErr[1], err)
	}
	ref, err := scanDrift(reference, names, dtypes, opts, 1, nil)
	if err != nil {
		return fail(err)
	}
	// The current sample's grids include the reference's, so that both are
	// known exactly at the reference's points (and PSI cut points).
	base := make([][]float64, len(names))
	for i, a := range ref {
		if a.num == nil || a.num.n == 0 {
			continue
		}
		if a.num.cells != nil {
			base[i] = a.num.cells.g
		} else {
			s := a.num.sorted()
			base[i] = mergeGrids(gridOf(s, opts.GridPoints), quantileEdges(s, opts.Bins))
		}
	}
	cur, err := scanDrift(current, names, dtypes, opts, 2, base)
	if err != nil {
		return fail(err)
	}

	// Numeric features beyond the exact limit were counted into grid cells in
	// the same pass. Where a prefix made a poor grid (some open cell holds
	// more than 2/GridPoints of a sample), a second pass recounts both
	// samples over quantiles of the reservoir samples.
	type numCells struct{ ref, cur *cells }
	numeric := make([]numCells, len(names))
	edges := make([][]float64, len(names))
	var second []int
	grids := make([][]float64, len(names))
	for i := range names {
		r, c := ref[i].num, cur[i].num
		if r == nil {
			continue
		}
		if r.n == 0 || c.n == 0 {
			return fail(fmt.Errorf("feature %q has no non-null values in the %s sample", names[i], map[bool]string{true: "reference", false: "current"}[r.n == 0]))
		}
		if r.exact() && c.exact() {
			edges[i] = quantileEdges(r.sorted(), opts.Bins)
			continue
		}
		rc, cc := r.finish(base[i]), c.finish(base[i])
		if r.exact() {
			edges[i] = quantileEdges(r.sorted(), opts.Bins)
		} else {
			edges[i] = cellEdges(rc, opts.Bins, r.hi)
		}
		if limit := 2 / float64(opts.GridPoints); rc.maxOpen() <= limit && cc.maxOpen() <= limit {
			numeric[i] = numCells{rc, cc}
			continue
		}
		if onSecondPass != nil {
			onSecondPass(names[i])
		}
		rs, cs := r.sorted(), c.sorted()
		edges[i] = quantileEdges(rs, opts.Bins)
		g := append(gridOf(rs, opts.GridPoints), gridOf(cs, opts.GridPoints)...)
		grids[i] = mergeGrids(g, edges[i])
		second = append(second, i)
	}
	if len(second) > 0 {
		refCells, err := countCells(reference, names, dtypes, grids, second)
		if err != nil {
			return fail(err)
		}
		curCells, err := countCells(current, names, dtypes, grids, second)
		if err != nil {
			return fail(err)
		}
		for _, i := range second {
			numeric[i] = numCells{refCells[i], curCells[i]}
		}
	}

	for i, name := range names {
		fd := &FeatureDrift{Feature: name, DType: dtypes[i], Threshold: mon.Threshold,
			Reference: SampleStats{Rows: ref[i].rows, Nulls: ref[i].nulls},
			Current:   SampleStats{Rows: cur[i].rows, Nulls: cur[i].nulls}}
		if ref[i].num != nil {
			fd.Type = "numeric"
			if nc := numeric[i]; nc.ref == nil {
				numericExact(fd, ref[i].num.sorted(), cur[i].num.sorted(), edges[i], opts.Epsilon)
			} else {
				numericCells(fd, nc.ref, nc.cur, edges[i], opts.Epsilon)
			}
			fd.Statistic = fd.PSI
			if mon.Method == "ks" {
				fd.Statistic = fd.KS.Statistic
			}
		} else {
			fd.Type = "categorical"
			if err := categorical(fd, ref[i].cat.toMap(), cur[i].cat.toMap(), opts.Epsilon); err != nil {
				return fail(err)
			}
			fd.Statistic = fd.PSI
			if mon.Method == "ks" {
				fd.Statistic = *fd.TVD
			}
		}
		fd.Drifted = fd.Statistic > mon.Threshold
		if fd.Drifted {
			res.Drifted = true
			res.DriftedFeatures = append(res.DriftedFeatures, name)
		}
		res.Features = append(res.Features, fd)
	}
	if _, err := fail(nil); err != nil {
		return nil, err
	}
	res.EvidenceID = evidenceID(res)
	return res, nil
}

// onSecondPass lets tests see which features needed the second pass.
var onSecondPass func(feature string)

// evidenceID hashes the result's content, leaving out where the files were
// and when it ran: the same bytes under the same monitor are the same evidence.
func evidenceID(r *DriftResult) string {
	c := *r
	c.EvidenceID, c.ComputedAt = "", ""
	c.Reference.Path, c.Current.Path = "", ""
	b, _ := json.Marshal(&c) // plain data: cannot fail
	h := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(h[:])
}

// scanDrift reads a sample once, column by column: row and null counts,
// numeric values (see numAcc; base[i] is the grid a numeric feature's cells
// must include) and category counts.
func scanDrift(path string, names, dtypes []string, opts DriftOptions, seed uint64, base [][]float64) ([]*featAcc, error) {
	src, err := openColumns(path, names)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	accs := make([]*featAcc, len(names))
	sinks := make([]sink, len(names))
	for i := range names {
		a := &featAcc{}
		accs[i] = a
		if numericDType(dtypes[i]) {
			a.num = newNumAcc(opts.ExactLimit, opts.GridPoints, seed, uint64(i))
			if base != nil {
				a.num.base = base[i]
			}
			sinks[i] = a.numericSink(names[i], dtypes[i])
		} else {
			a.cat = &catAcc{idx: map[string]int{}}
			sinks[i] = a.categoricalSink(names[i], dtypes[i], opts.MaxCategories)
		}
	}
	if _, err := src.scan(sinks); err != nil {
		return nil, err
	}
	return accs, nil
}

func (a *featAcc) countNulls(ch *chunk) {
	a.rows += ch.n
	if ch.defs != nil {
		for i := range ch.n {
			if ch.null(i) {
				a.nulls++
			}
		}
	}
}

// coerceErr is the error for packed value j of a chunk that does not coerce.
func coerceErr(ch *chunk, j int, name, dtype string) error {
	_, err := Coerce(ch.value(j), dtype)
	return ch.rowErr(ch.rowOf(j), fmt.Errorf("column %q: %w", name, err))
}

func (a *featAcc) numericSink(name, dtype string) sink {
	var buf []float64
	return func(ch *chunk) error {
		xs, bad := ch.numbers(dtype, &buf)
		if bad >= 0 {
			return coerceErr(ch, bad, name, dtype)
		}
		a.countNulls(ch)
		a.num.addAll(xs)
		return nil
	}
}

func (a *featAcc) categoricalSink(name, dtype string, maxCats int) sink {
	c := a.cat
	count := func(ch *chunk, j int, k []byte, ks string) error {
		i, ok := c.idx[string(k)]
		if !ok {
			if len(c.idx) >= maxCats {
				return ch.rowErr(ch.rowOf(j), fmt.Errorf("column %q has more than %d distinct values; is it really categorical?", name, maxCats))
			}
			if ks == "" {
				ks = string(k)
			}
			i = len(c.counts)
			c.idx[ks] = i
			c.counts = append(c.counts, 0)
		}
		c.counts[i]++
		return nil
	}
	return func(ch *chunk) error {
		n := ch.nvals()
		if dtype == "string" && ch.kind == KindString {
			for j := range n {
				if err := count(ch, j, ch.bytesAt(j), ""); err != nil {
					return err
				}
			}
		} else {
			for j := range n {
				v, err := Coerce(ch.value(j), dtype)
				if err != nil {
					return coerceErr(ch, j, name, dtype)
				}
				k := v.Key()
				if err := count(ch, j, []byte(k), k); err != nil {
					return err
				}
			}
		}
		a.countNulls(ch)
		return nil
	}
}

// gridOf returns up to k quantiles of a sorted sample.
func gridOf(sorted []float64, k int) []float64 {
	if len(sorted) <= k {
		return append([]float64(nil), sorted...)
	}
	g := make([]float64, 0, k)
	for j := 1; j <= k; j++ {
		g = append(g, sorted[(j*len(sorted)-1)/k])
	}
	return g
}

// countCells is the second pass: it counts the selected numeric features
// of a sample into the cells of their grids.
func countCells(path string, names, dtypes []string, grids [][]float64, which []int) (map[int]*cells, error) {
	sel := make([]string, len(which))
	for j, i := range which {
		sel[j] = names[i]
	}
	src, err := openColumns(path, sel)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	out := make(map[int]*cells, len(which))
	sinks := make([]sink, len(which))
	for j, i := range which {
		c := newCells(grids[i])
		out[i] = c
		var buf []float64
		sinks[j] = func(ch *chunk) error {
			xs, bad := ch.numbers(dtypes[i], &buf)
			if bad >= 0 {
				return coerceErr(ch, bad, names[i], dtypes[i])
			}
			c.add(xs)
			return nil
		}
	}
	if _, err := src.scan(sinks); err != nil {
		return nil, err
	}
	return out, nil
}

func numericExact(fd *FeatureDrift, ref, cur, edges []float64, eps float64) {
	rc := make([]int, len(edges)+1)
	cc := make([]int, len(edges)+1)
	for _, x := range ref {
		rc[binIndex(edges, x)]++
	}
	for _, x := range cur {
		cc[binIndex(edges, x)]++
	}
	setBins(fd, edges, rc, cc, len(ref), len(cur), eps)
	d := KSStatistic(ref, cur)
	fd.KS = &KSResult{Statistic: d, PValue: KSPValue(d, len(ref), len(cur)), Exact: true}
}

// numericCells computes PSI over edges (grid points of both samples' cells)
// and bounds KS from the cells.
func numericCells(fd *FeatureDrift, rc, cc *cells, edges []float64, eps float64) {
	setBins(fd, edges, binCounts(rc, edges), binCounts(cc, edges), rc.n, cc.n, eps)
	lo, hi := ksCells(rc, cc)
	fd.KS = &KSResult{Statistic: lo, PValue: KSPValue(lo, rc.n, cc.n), Exact: hi-lo < 1e-12, ErrorBound: hi - lo}
	if fd.KS.Exact {
		fd.KS.ErrorBound = 0
	}
}

func setBins(fd *FeatureDrift, edges []float64, rc, cc []int, n, m int, eps float64) {
	rp := make([]float64, len(rc))
	cp := make([]float64, len(cc))
	fd.Bins = make([]PSIBin, len(rc))
	for i := range rc {
		rp[i] = float64(rc[i]) / float64(n)
		cp[i] = float64(cc[i]) / float64(m)
		fd.Bins[i] = PSIBin{Reference: rp[i], Current: cp[i]}
		if i < len(edges) {
			u := edges[i]
			fd.Bins[i].Upper = &u
		}
	}
	fd.PSI = PSI(rp, cp, eps)
}

func categorical(fd *FeatureDrift, ref, cur map[string]int, eps float64) error {
	n, m := 0, 0
	keys := map[string]bool{}
	for k, c := range ref {
		n += c
		keys[k] = true
	}
	for k, c := range cur {
		m += c
		keys[k] = true
	}
	if n == 0 || m == 0 {
		which := "reference"
		if n > 0 {
			which = "current"
		}
		return fmt.Errorf("feature %q has no non-null values in the %s sample", fd.Feature, which)
	}
	cats := slices.Sorted(maps.Keys(keys))
	rp := make([]float64, len(cats))
	cp := make([]float64, len(cats))
	tvd := 0.0
	for i, k := range cats {
		rp[i] = float64(ref[k]) / float64(n)
		cp[i] = float64(cur[k]) / float64(m)
		tvd += math.Abs(rp[i] - cp[i])
		fd.Bins = append(fd.Bins, PSIBin{Category: &cats[i], Reference: rp[i], Current: cp[i]})
	}
	tvd /= 2
	fd.TVD = &tvd
	fd.PSI = PSI(rp, cp, eps)
	return nil
}
