package data

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/cairn-dev/cairn/compiler"
)

// DriftOptions tune the drift computation; zero values take the defaults.
type DriftOptions struct {
	Bins    int     // PSI bins, cut at reference quantiles (default 10)
	Epsilon float64 // proportion counted for an empty PSI bin (default 1e-4)
	// ExactLimit is how many values of one feature in one sample are kept in
	// memory (default 65,536). Up to it PSI and KS are exact; above it a
	// second pass counts every value into a grid of GridPoints quantiles of
	// each sample (taken from a fixed-seed reservoir), PSI stays exact for
	// its cut points and KS is reported with a proven error bound.
	ExactLimit int
	GridPoints int // default 1024: KS error bound about 1/1024
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

// numAcc holds a numeric feature's values, exactly up to a limit and then as
// a fixed-seed reservoir sample of that size.
type numAcc struct {
	n     int
	limit int
	vals  []float64
	rng   *rand.Rand
}

func (a *numAcc) add(x float64) {
	a.n++
	if len(a.vals) < a.limit {
		a.vals = append(a.vals, x)
		return
	}
	if j := a.rng.IntN(a.n); j < a.limit {
		a.vals[j] = x
	}
}

func (a *numAcc) exact() bool { return a.n <= a.limit }

type featAcc struct {
	rows, nulls int
	num         *numAcc
	cat         map[string]int
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
	var err error
	if res.Reference, err = FingerprintFile(reference); err != nil {
		return nil, err
	}
	if res.Current, err = FingerprintFile(current); err != nil {
		return nil, err
	}
	ref, err := scanDrift(reference, names, dtypes, opts, 1)
	if err != nil {
		return nil, err
	}
	cur, err := scanDrift(current, names, dtypes, opts, 2)
	if err != nil {
		return nil, err
	}

	// Numeric features sampled beyond the exact limit get a grid and a second pass.
	grids := make([][]float64, len(names))
	edges := make([][]float64, len(names))
	var second []int
	for i := range names {
		if ref[i].num == nil {
			continue
		}
		if ref[i].num.n == 0 || cur[i].num.n == 0 {
			return nil, fmt.Errorf("feature %q has no non-null values in the %s sample", names[i], map[bool]string{true: "reference", false: "current"}[ref[i].num.n == 0])
		}
		slices.Sort(ref[i].num.vals)
		slices.Sort(cur[i].num.vals)
		edges[i] = quantileEdges(ref[i].num.vals, opts.Bins)
		if !ref[i].num.exact() || !cur[i].num.exact() {
			g := append(gridOf(ref[i].num.vals, opts.GridPoints), gridOf(cur[i].num.vals, opts.GridPoints)...)
			g = append(g, edges[i]...)
			slices.Sort(g)
			grids[i] = slices.Compact(g)
			second = append(second, i)
		}
	}
	var refCells, curCells map[int]*cells
	if len(second) > 0 {
		if refCells, err = countCells(reference, names, dtypes, grids, second); err != nil {
			return nil, err
		}
		if curCells, err = countCells(current, names, dtypes, grids, second); err != nil {
			return nil, err
		}
	}

	for i, name := range names {
		fd := &FeatureDrift{Feature: name, DType: dtypes[i], Threshold: mon.Threshold,
			Reference: SampleStats{Rows: ref[i].rows, Nulls: ref[i].nulls},
			Current:   SampleStats{Rows: cur[i].rows, Nulls: cur[i].nulls}}
		if ref[i].num != nil {
			fd.Type = "numeric"
			if grids[i] == nil {
				numericExact(fd, ref[i].num.vals, cur[i].num.vals, edges[i], opts.Epsilon)
			} else {
				numericGrid(fd, refCells[i], curCells[i], grids[i], edges[i], opts.Epsilon)
			}
			fd.Statistic = fd.PSI
			if mon.Method == "ks" {
				fd.Statistic = fd.KS.Statistic
			}
		} else {
			fd.Type = "categorical"
			if err := categorical(fd, ref[i].cat, cur[i].cat, opts.Epsilon); err != nil {
				return nil, err
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
	res.EvidenceID = evidenceID(res)
	return res, nil
}

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

func scanDrift(path string, names, dtypes []string, opts DriftOptions, seed uint64) ([]*featAcc, error) {
	r, err := Open(path, names)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	accs := make([]*featAcc, len(names))
	for i := range names {
		accs[i] = &featAcc{}
		if numericDType(dtypes[i]) {
			accs[i].num = &numAcc{limit: opts.ExactLimit, rng: rand.New(rand.NewPCG(seed, uint64(i)))}
		} else {
			accs[i].cat = map[string]int{}
		}
	}
	for r.Next() {
		for i, a := range accs {
			a.rows++
			v, err := Coerce(r.Value(i), dtypes[i])
			if err != nil {
				return nil, rowErr(r, fmt.Errorf("column %q: %w", names[i], err))
			}
			if v.IsNull() {
				a.nulls++
				continue
			}
			if a.num != nil {
				x, _ := v.Number()
				a.num.add(x)
				continue
			}
			k := v.Key()
			if _, ok := a.cat[k]; !ok && len(a.cat) >= opts.MaxCategories {
				return nil, rowErr(r, fmt.Errorf("column %q has more than %d distinct values; is it really categorical?", names[i], opts.MaxCategories))
			}
			a.cat[k]++
		}
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	return accs, nil
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

// cells counts a sample against a sorted grid: atom[i] values equal to g[i],
// open[i] values strictly between g[i−1] and g[i] (open[len(g)] above the last).
type cells struct {
	n    int
	atom []int
	open []int
}

func countCells(path string, names, dtypes []string, grids [][]float64, which []int) (map[int]*cells, error) {
	sel := make([]string, len(which))
	for j, i := range which {
		sel[j] = names[i]
	}
	r, err := Open(path, sel)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	out := make(map[int]*cells, len(which))
	cs := make([]*cells, len(which))
	for j, i := range which {
		cs[j] = &cells{atom: make([]int, len(grids[i])), open: make([]int, len(grids[i])+1)}
		out[i] = cs[j]
	}
	for r.Next() {
		for j, i := range which {
			v, err := Coerce(r.Value(j), dtypes[i])
			if err != nil {
				return nil, rowErr(r, fmt.Errorf("column %q: %w", names[i], err))
			}
			x, ok := v.Number()
			if !ok {
				continue // null
			}
			g, c := grids[i], cs[j]
			c.n++
			// Hand-rolled binary search: sort.Search's closure call dominated the profile.
			k, hi := 0, len(g)
			for k < hi {
				m := int(uint(k+hi) >> 1)
				if g[m] < x {
					k = m + 1
				} else {
					hi = m
				}
			}
			if k < len(g) && g[k] == x {
				c.atom[k]++
			} else {
				c.open[k]++
			}
		}
	}
	return out, r.Err()
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

func numericGrid(fd *FeatureDrift, rc, cc *cells, grid, edges []float64, eps float64) {
	rb := make([]int, len(edges)+1)
	cb := make([]int, len(edges)+1)
	for i, g := range grid {
		b := binIndex(edges, g)
		rb[b] += rc.atom[i] + rc.open[i]
		cb[b] += cc.atom[i] + cc.open[i]
	}
	rb[len(edges)] += rc.open[len(grid)]
	cb[len(edges)] += cc.open[len(grid)]
	setBins(fd, edges, rb, cb, rc.n, cc.n, eps)

	// D is attained at some grid point or inside an open cell; inside cell i
	// neither ECDF moves by more than that cell's mass, which bounds the error.
	n, m := float64(rc.n), float64(cc.n)
	fr, fc, lo, hi := 0.0, 0.0, 0.0, 0.0
	for i := 0; i <= len(grid); i++ {
		or, oc := float64(rc.open[i])/n, float64(cc.open[i])/m
		hi = math.Max(hi, math.Max(fr-fc+or, fc-fr+oc))
		fr += or
		fc += oc
		if i < len(grid) {
			fr += float64(rc.atom[i]) / n
			fc += float64(cc.atom[i]) / m
		}
		d := math.Abs(fr - fc)
		lo = math.Max(lo, d)
		hi = math.Max(hi, d)
	}
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
	cats := sortedKeys(keys)
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
