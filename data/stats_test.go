package data

import (
	"math"
	"slices"
	"testing"
)

// Critical values of the Kolmogorov distribution, P(K > λ) = α, as printed
// in the standard tables (e.g. Smirnov 1948; Massey 1951): λ_α for α.
func TestKolmogorovQKnownTable(t *testing.T) {
	for _, tc := range []struct{ lambda, alpha, tol float64 }{
		{0.8276, 0.50, 2e-4},
		{1.0727, 0.20, 2e-4},
		{1.2238, 0.10, 2e-4},
		{1.3581, 0.05, 1e-4},
		{1.4802, 0.025, 1e-4},
		{1.6276, 0.01, 1e-4},
		{1.7308, 0.005, 1e-4},
		{1.9495, 0.001, 1e-5},
	} {
		if got := KolmogorovQ(tc.lambda); math.Abs(got-tc.alpha) > tc.tol {
			t.Errorf("Q(%g) = %.6f, table says %g", tc.lambda, got, tc.alpha)
		}
	}
	// Both series agree where the implementation switches between them.
	lo, hi := KolmogorovQ(1.18-1e-9), KolmogorovQ(1.18)
	if math.Abs(lo-hi) > 1e-9 {
		t.Errorf("series disagree at 1.18: %.12f vs %.12f", lo, hi)
	}
	if KolmogorovQ(0) != 1 || KolmogorovQ(0.1) < 0.999999 || KolmogorovQ(5) > 1e-20 {
		t.Errorf("tails wrong: Q(0)=%g Q(0.1)=%g Q(5)=%g", KolmogorovQ(0), KolmogorovQ(0.1), KolmogorovQ(5))
	}
}

func TestKSPValue(t *testing.T) {
	// n = m = 50: ne = 25, so D = 1.3581/5 sits at the 5% critical value.
	if p := KSPValue(1.3581/5, 50, 50); math.Abs(p-0.05) > 1e-4 {
		t.Errorf("p = %g, want 0.05", p)
	}
	if p := KSPValue(0.3, 0, 10); p != 1 {
		t.Errorf("empty sample p = %g, want 1", p)
	}
}

func TestKSStatisticByHand(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b []float64
		want float64
	}{
		{"shifted", []float64{1, 2, 3, 4}, []float64{3, 4, 5, 6}, 0.5},
		{"ties across samples", []float64{1, 1, 2}, []float64{1, 2, 2}, 1.0 / 3},
		{"interleaved", []float64{0.1, 0.2, 0.3}, []float64{0.25, 0.35, 0.45, 0.55}, 0.75},
		{"identical", []float64{1, 2, 3}, []float64{1, 2, 3}, 0},
		{"disjoint", []float64{1, 2}, []float64{3, 4, 5}, 1},
		{"mass at one value", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, []float64{1, 1, 1, 1, 1, 2, 3, 4, 5, 6}, 0.4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := KSStatistic(tc.a, tc.b); math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("D = %g, want %g", got, tc.want)
			}
			if got := KSStatistic(tc.b, tc.a); math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("D is not symmetric: %g", got)
			}
		})
	}
}

func TestQuantileEdges(t *testing.T) {
	ten := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, tc := range []struct {
		name   string
		sorted []float64
		bins   int
		want   []float64
	}{
		{"deciles of 1..10", ten, 10, []float64{1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"quartiles of 1..10", ten, 4, []float64{3, 5, 8}}, // x(ceil(2.5))=x3, x(5), x(ceil(7.5))=x8
		{"ties merge bins", []float64{0, 0, 0, 0, 0, 0, 0, 1, 2, 3}, 10, []float64{0, 1, 2}},
		{"constant", []float64{4, 4, 4}, 10, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := quantileEdges(tc.sorted, tc.bins); !slices.Equal(got, tc.want) {
				t.Errorf("edges = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPSIByHand(t *testing.T) {
	// Reference 1..10 in decile bins: 0.1 each. Current: half in the first
	// bin, 0.1 in bins 2–6, bins 7–10 empty (counted as ε = 1e-4):
	// PSI = 0.4·ln 5 + 4·(1e-4 − 0.1)·ln(1e-4/0.1) = 3.4041141744549024.
	ref := []float64{.1, .1, .1, .1, .1, .1, .1, .1, .1, .1}
	cur := []float64{.5, .1, .1, .1, .1, .1, 0, 0, 0, 0}
	if got := PSI(ref, cur, 1e-4); math.Abs(got-3.4041141744549024) > 1e-12 {
		t.Errorf("PSI = %.16g", got)
	}
	if got := PSI(ref, ref, 1e-4); got != 0 {
		t.Errorf("PSI of identical = %g", got)
	}
}
