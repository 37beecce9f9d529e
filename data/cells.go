package data

import (
	"math"
	"math/rand/v2"
	"slices"
)

// cells counts a sample against a sorted grid: atom[i] values equal to g[i],
// open[i] values strictly between g[i−1] and g[i] (open[len(g)] above the last).
// The counts are exact; only the grid is chosen from a sample.
type cells struct {
	g    []float64
	n    int
	atom []int
	open []int
	lut  []int32 // lut[b] = first i with bucket(g[i]) ≥ b
	g0   float64
	sc   float64 // buckets per unit; 0 = no lookup table
}

func newCells(g []float64) *cells {
	c := &cells{g: g, atom: make([]int, len(g)), open: make([]int, len(g)+1)}
	if len(g) < 2 {
		return c
	}
	span := g[len(g)-1] - g[0]
	if span <= 0 || math.IsInf(span, 0) || math.IsNaN(span) {
		return c
	}
	// A uniform lookup table over [g0, g_last] narrows the binary search to
	// a few grid points. bucket() is monotone in x (IEEE rounding is), so
	// every g[i] in an earlier bucket is < x and every one in a later
	// bucket is > x: the answer lies in [lut[b], lut[b+1]], exactly.
	nb := 4 * len(g)
	c.g0, c.sc = g[0], float64(nb)/span
	c.lut = make([]int32, nb+2)
	i := 0
	for b := range c.lut {
		for i < len(g) && c.bucket(g[i]) < b {
			i++
		}
		c.lut[b] = int32(i)
	}
	return c
}

func (c *cells) bucket(x float64) int {
	return min(int((x-c.g0)*c.sc), len(c.lut)-2)
}

// index is the first i with g[i] ≥ x (len(g) when none).
func (c *cells) index(x float64) int {
	g := c.g
	lo, hi := 0, len(g)
	if c.lut != nil {
		if x < c.g0 {
			return 0
		}
		if x > g[len(g)-1] {
			return len(g)
		}
		b := c.bucket(x)
		lo, hi = int(c.lut[b]), int(c.lut[b+1])
	}
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if g[m] < x {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

func (c *cells) add(xs []float64) {
	g := c.g
	for _, x := range xs {
		k := c.index(x)
		if k < len(g) && g[k] == x {
			c.atom[k]++
		} else {
			c.open[k]++
		}
	}
	c.n += len(xs)
}

// maxOpen is the largest share of the sample inside one open cell: within
// it the sample's ECDF is unknown, so it bounds the KS error on this side.
func (c *cells) maxOpen() float64 {
	if c.n == 0 {
		return 0
	}
	return float64(slices.Max(c.open)) / float64(c.n)
}

// numAcc accumulates a numeric feature of one sample in one pass. The first
// limit values are kept: up to there everything is exact. When a value
// beyond the limit arrives, the kept values (the prefix) pick a grid of
// gridPoints quantiles, merged with a base grid (the reference's, for the
// current sample, so that both can be compared at the same points); from
// then on every value is counted exactly into that grid's cells, and the kept
// values continue as a uniform reservoir sample (Vitter's Algorithm L, fixed
// seed) in case the prefix turns out to be unrepresentative (a sorted or
// trending file): Drift then makes a second pass over a grid from the
// reservoir, as every value was sampled with the same probability.
type numAcc struct {
	n          int
	limit      int
	gridPoints int
	base       []float64
	vals       []float64
	lo, hi     float64
	cells      *cells
	rng        *rand.Rand
	w          float64 // Algorithm L state
	next       int     // 1-based number of the next value the reservoir takes
}

func newNumAcc(limit, gridPoints int, seed, stream uint64) *numAcc {
	return &numAcc{limit: limit, gridPoints: gridPoints, rng: rand.New(rand.NewPCG(seed, stream)),
		lo: math.Inf(1), hi: math.Inf(-1)}
}

func (a *numAcc) exact() bool { return a.n <= a.limit }

func (a *numAcc) addAll(xs []float64) {
	for _, x := range xs {
		a.lo = min(a.lo, x)
		a.hi = max(a.hi, x)
	}
	if a.cells == nil {
		k := min(a.limit-len(a.vals), len(xs))
		a.vals = append(a.vals, xs[:k]...)
		a.n += k
		xs = xs[k:]
		if len(xs) == 0 {
			return
		}
		a.toCells()
	}
	a.cells.add(xs)
	// Reservoir: skip ahead to the values it takes.
	end := a.n + len(xs)
	for a.next <= end {
		a.vals[a.rng.IntN(len(a.vals))] = xs[a.next-a.n-1]
		a.skip()
	}
	a.n = end
}

func (a *numAcc) toCells() {
	slices.Sort(a.vals)
	a.cells = newCells(mergeGrids(gridOf(a.vals, a.gridPoints), a.base))
	a.cells.add(a.vals)
	// The reservoir only has to pick a fallback grid of gridPoints quantiles:
	// 16 values per grid point are plenty, and a smaller reservoir means far
	// fewer replacements (k·ln(n/k)) and less memory. A random subset of the
	// prefix is a uniform sample of it, which Algorithm L continues.
	if k := 16 * a.gridPoints; k < len(a.vals) {
		for i := range k {
			j := i + a.rng.IntN(len(a.vals)-i)
			a.vals[i], a.vals[j] = a.vals[j], a.vals[i]
		}
		a.vals = append([]float64(nil), a.vals[:k]...) // frees the prefix
	}
	a.w = math.Exp(math.Log(a.rng.Float64()) / float64(len(a.vals)))
	a.next = a.n
	a.skip()
}

func (a *numAcc) skip() {
	s := math.Floor(math.Log(a.rng.Float64())/math.Log1p(-a.w)) + 1
	if s > math.MaxInt32 || math.IsNaN(s) {
		a.next = math.MaxInt
		return
	}
	a.next += int(s)
	a.w *= math.Exp(math.Log(a.rng.Float64()) / float64(len(a.vals)))
}

// sorted returns the kept values sorted (all of them when exact).
func (a *numAcc) sorted() []float64 {
	slices.Sort(a.vals)
	return a.vals
}

// finish returns the sample's cells over its grid, counting the kept values
// into a grid made from them and base when the sample stayed exact.
func (a *numAcc) finish(base []float64) *cells {
	if a.cells != nil {
		return a.cells
	}
	c := newCells(mergeGrids(gridOf(a.sorted(), a.gridPoints), base))
	c.add(a.vals)
	return c
}

// mergeGrids is the sorted union of two sorted grids.
func mergeGrids(a, b []float64) []float64 {
	g := make([]float64, 0, len(a)+len(b))
	g = append(append(g, a...), b...)
	slices.Sort(g)
	return slices.Compact(g)
}

// cellEdges picks PSI cut points from a grid with exact counts: the k-th is
// the smallest grid point with at least ⌈k·n/bins⌉ values at or below it,
// i.e. the exact x(⌈k·n/bins⌉) rounded up to the grid (its quantile level is
// off by at most the mass of one open cell). Ties merge, a cut at or above
// the maximum is dropped, as in quantileEdges.
func cellEdges(c *cells, bins int, maxVal float64) []float64 {
	var e []float64
	cum, j := 0, 0
	for k := 1; k < bins; k++ {
		need := int(math.Ceil(float64(k) * float64(c.n) / float64(bins)))
		for j < len(c.g) && cum+c.open[j]+c.atom[j] < need {
			cum += c.open[j] + c.atom[j]
			j++
		}
		if j == len(c.g) {
			break
		}
		if x := c.g[j]; len(e) == 0 || x > e[len(e)-1] {
			e = append(e, x)
		}
	}
	for len(e) > 0 && e[len(e)-1] >= maxVal {
		e = e[:len(e)-1]
	}
	return e
}

// binCounts folds cells into PSI bins; the edges must be grid points, so that
// no open cell straddles a cut.
func binCounts(c *cells, edges []float64) []int {
	b := make([]int, len(edges)+1)
	for i, g := range c.g {
		k := binIndex(edges, g)
		b[k] += c.atom[i] + c.open[i]
	}
	b[len(edges)] += c.open[len(c.g)]
	return b
}

// ksCells bounds the two-sample KS statistic of samples known as cells over
// two grids. It walks the union of the grids: at each point and in each gap
// between points, each ECDF is known exactly (at its own grid points) or
// only to lie within its enclosing open cell. lo is the largest certain gap
// between the two ECDFs, hi the largest possible: sup|F_a − F_b| ∈ [lo, hi].
func ksCells(a, b *cells) (lo, hi float64) {
	na, nb := float64(a.n), float64(b.n)
	ia, ib := 0, 0
	ca, cb := 0, 0 // counts through the last grid point passed on each side
	region := func(aLo, aHi, bLo, bHi int) {
		al, ah, bl, bh := float64(aLo)/na, float64(aHi)/na, float64(bLo)/nb, float64(bHi)/nb
		hi = max(hi, ah-bl, bh-al)
		lo = max(lo, al-bh, bl-ah)
	}
	for ia < len(a.g) || ib < len(b.g) {
		u := math.Inf(1)
		if ia < len(a.g) {
			u = a.g[ia]
		}
		if ib < len(b.g) {
			u = min(u, b.g[ib])
		}
		// The gap just below u lies inside open cell ia of a and ib of b.
		region(ca, ca+a.open[ia], cb, cb+b.open[ib])
		aLo, aHi := ca, ca+a.open[ia]
		if ia < len(a.g) && a.g[ia] == u {
			ca += a.open[ia] + a.atom[ia]
			aLo, aHi = ca, ca
			ia++
		}
		bLo, bHi := cb, cb+b.open[ib]
		if ib < len(b.g) && b.g[ib] == u {
			cb += b.open[ib] + b.atom[ib]
			bLo, bHi = cb, cb
			ib++
		}
		region(aLo, aHi, bLo, bHi)
	}
	region(ca, ca+a.open[ia], cb, cb+b.open[ib])
	return lo, hi
}
