package data

import (
	"math"
	"sort"
)

// KolmogorovQ is the survival function of the Kolmogorov distribution,
// P(K > λ), the limiting law of √(nm/(n+m))·D for the two-sample KS
// statistic D. Two series are used, each where it converges fast:
//
//	λ ≥ 1.18: Q(λ) = 2 Σ_{j≥1} (−1)^{j−1} exp(−2 j² λ²)
//	λ < 1.18: Q(λ) = 1 − (√(2π)/λ) Σ_{j≥1} exp(−(2j−1)² π² / (8 λ²))
func KolmogorovQ(lambda float64) float64 {
	if lambda <= 0 {
		return 1
	}
	if lambda < 1.18 {
		s := 0.0
		for j := 1; j <= 50; j++ {
			k := float64(2*j - 1)
			t := math.Exp(-k * k * math.Pi * math.Pi / (8 * lambda * lambda))
			s += t
			if t <= 1e-17*s {
				break
			}
		}
		return clamp01(1 - math.Sqrt(2*math.Pi)/lambda*s)
	}
	s, sign := 0.0, 1.0
	for j := 1; j <= 100; j++ {
		t := math.Exp(-2 * float64(j*j) * lambda * lambda)
		s += sign * t
		sign = -sign
		if t <= 1e-17*math.Abs(s) {
			break
		}
	}
	return clamp01(2 * s)
}

func clamp01(x float64) float64 { return math.Min(1, math.Max(0, x)) }

// KSPValue is the asymptotic p-value of a two-sample KS statistic d for
// sample sizes n and m: Q(√(nm/(n+m))·d).
func KSPValue(d float64, n, m int) float64 {
	if n == 0 || m == 0 {
		return 1
	}
	ne := float64(n) * float64(m) / float64(n+m)
	return KolmogorovQ(math.Sqrt(ne) * d)
}

// KSStatistic is the exact two-sample Kolmogorov–Smirnov statistic
// sup_x |F_a(x) − F_b(x)| of two sorted samples.
func KSStatistic(a, b []float64) float64 {
	n, m := float64(len(a)), float64(len(b))
	if n == 0 || m == 0 {
		return 0
	}
	i, j, d := 0, 0, 0.0
	for i < len(a) && j < len(b) {
		x := math.Min(a[i], b[j])
		for i < len(a) && a[i] <= x {
			i++
		}
		for j < len(b) && b[j] <= x {
			j++
		}
		d = math.Max(d, math.Abs(float64(i)/n-float64(j)/m))
	}
	return d
}

// PSI is the population stability index Σ (c−r)·ln(c/r) over bins of
// proportions, with empty bins counted as eps so that the log is defined.
func PSI(ref, cur []float64, eps float64) float64 {
	s := 0.0
	for i := range ref {
		r, c := ref[i], cur[i]
		if r == 0 {
			r = eps
		}
		if c == 0 {
			c = eps
		}
		s += (c - r) * math.Log(c/r)
	}
	return s
}

// quantileEdges returns the interior cut points of bins equal-frequency
// bins of a sorted sample: the inverse empirical CDF at k/bins,
// x_(⌈k·n/bins⌉), k = 1..bins−1, without duplicates (ties merge bins).
func quantileEdges(sorted []float64, bins int) []float64 {
	var e []float64
	n := len(sorted)
	for k := 1; k < bins; k++ {
		i := int(math.Ceil(float64(k)*float64(n)/float64(bins))) - 1
		if i < 0 {
			i = 0
		}
		x := sorted[i]
		if len(e) == 0 || x > e[len(e)-1] {
			e = append(e, x)
		}
	}
	// A cut at the maximum leaves an empty last bin; drop it.
	for len(e) > 0 && e[len(e)-1] >= sorted[n-1] {
		e = e[:len(e)-1]
	}
	return e
}

// binIndex is the bin of x for right-closed bins (−∞,e0], (e0,e1], …, (e_last,∞).
func binIndex(edges []float64, x float64) int {
	return sort.SearchFloat64s(edges, x)
}
