package data

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/compiler"
)

// smallDrift is a hand-computable pair of samples: x numeric, c categorical.
// x: reference 1..10, current five 1s then 2..6 (PSI 3.4041141744549024, D 0.4).
// c: reference a×5 b×5, current a×8 c×2: bins a, b, c with proportions
// (.5,.5,0) vs (.8,0,.2): PSI = .3 ln 1.6 + (1e-4−.5) ln(1e-4/.5) + (.2−1e-4) ln(.2/1e-4)
// = 5.918166366825161, total variation distance 0.5.
func smallDrift(t *testing.T, ext string) (ref, cur string) {
	dir := t.TempDir()
	refX := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	curX := []int{1, 1, 1, 1, 1, 2, 3, 4, 5, 6}
	refC := "aaaaabbbbb"
	curC := "aaaaaaaacc"
	write := func(name string, xs []int, cs string) string {
		p := filepath.Join(dir, name+ext)
		cols := []ColumnSpec{{"x", "float"}, {"c", "string"}, {"unused", "string"}}
		if ext == ".csv" {
			var b strings.Builder
			b.WriteString("unused,x,c\n")
			for i, x := range xs {
				fmt.Fprintf(&b, "u,%d,%c\n", x, cs[i])
			}
			b.WriteString(",,\n") // a row of nulls: counted, not binned
			if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}
		var buf bytes.Buffer
		i := 0
		err := WriteParquet(&buf, cols, 4, func(row []Value) bool {
			switch {
			case i < len(xs):
				row[0] = Value{Kind: KindFloat, Float: float64(xs[i])}
				row[1] = Value{Kind: KindString, Str: string(cs[i])}
				row[2] = Value{Kind: KindString, Str: "u"}
			case i == len(xs):
				row[0], row[1], row[2] = Value{}, Value{}, Value{}
			default:
				return false
			}
			i++
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ref", refX, refC), write("cur", curX, curC)
}

func smallModel(method string) (*compiler.Model, map[string]*compiler.Feature) {
	return &compiler.Model{Name: "m", Monitoring: &compiler.Monitoring{Drift: &compiler.Drift{
			Features: []string{"x", "c"}, Method: method, Threshold: 0.45}}},
		map[string]*compiler.Feature{"x": {Name: "x", DType: "float"}, "c": {Name: "c", DType: "string"}}
}

func TestDriftByHand(t *testing.T) {
	for _, ext := range []string{".csv", ".parquet"} {
		for _, method := range []string{"psi", "ks"} {
			t.Run(ext+"/"+method, func(t *testing.T) {
				ref, cur := smallDrift(t, ext)
				m, fs := smallModel(method)
				res, err := Drift(m, fs, ref, cur, DriftOptions{})
				if err != nil {
					t.Fatal(err)
				}
				c, x := res.Features[0], res.Features[1]
				if c.Feature != "c" || x.Feature != "x" {
					t.Fatalf("features not sorted: %s, %s", c.Feature, x.Feature)
				}
				near := func(what string, got, want float64) {
					t.Helper()
					if math.Abs(got-want) > 1e-12 {
						t.Errorf("%s = %.16g, want %.16g", what, got, want)
					}
				}
				near("x psi", x.PSI, 3.4041141744549024)
				near("x ks", x.KS.Statistic, 0.4)
				near("x p", x.KS.PValue, KolmogorovQ(math.Sqrt(5)*0.4))
				near("c psi", c.PSI, 5.918166366825161)
				near("c tvd", *c.TVD, 0.5)
				if !x.KS.Exact || x.KS.ErrorBound != 0 {
					t.Errorf("small sample should be exact: %+v", x.KS)
				}
				if len(x.Bins) != 10 || *x.Bins[0].Upper != 1 || x.Bins[9].Upper != nil {
					t.Errorf("bins = %+v", x.Bins)
				}
				if x.Reference.Rows != 11 || x.Reference.Nulls != 1 || x.Current.Nulls != 1 {
					t.Errorf("stats = %+v %+v", x.Reference, x.Current)
				}
				// Threshold 0.45: under psi both drift; under ks D=0.4 does not, TVD=0.5 does.
				want := []string{"c", "x"}
				if method == "ks" {
					want = []string{"c"}
				}
				if !slices.Equal(res.DriftedFeatures, want) || !res.Drifted {
					t.Errorf("drifted = %v, want %v", res.DriftedFeatures, want)
				}
				if !strings.HasPrefix(res.EvidenceID, "sha256:") || !strings.HasPrefix(res.Reference.SHA256, "sha256:") {
					t.Errorf("ids: %q %q", res.EvidenceID, res.Reference.SHA256)
				}
			})
		}
	}
}

func TestDriftEvidenceIDIgnoresPathAndTime(t *testing.T) {
	ref, cur := smallDrift(t, ".csv")
	m, fs := smallModel("psi")
	a, err := Drift(m, fs, ref, cur, DriftOptions{})
	if err != nil {
		t.Fatal(err)
	}
	moved := filepath.Join(t.TempDir(), "elsewhere.csv")
	b0, _ := os.ReadFile(ref)
	os.WriteFile(moved, b0, 0o644)
	b, err := Drift(m, fs, moved, cur, DriftOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a.EvidenceID != b.EvidenceID {
		t.Errorf("same bytes elsewhere gave another evidence id")
	}
	m.Monitoring.Drift.Threshold = 0.5
	c, _ := Drift(m, fs, ref, cur, DriftOptions{})
	if c.EvidenceID == a.EvidenceID {
		t.Errorf("another threshold gave the same evidence id")
	}
}

// Above the exact limit the second pass must bracket the exact statistic
// within its reported bound, and PSI must be exact for its (sampled) cuts.
func TestDriftGridModeBracketsExact(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(3, 4))
	write := func(name string, shift float64, n int) string {
		var b strings.Builder
		b.WriteString("x,k\n")
		for range n {
			// k has few distinct values: the grid holds them all, so KS is exact.
			fmt.Fprintf(&b, "%g,%d\n", r.NormFloat64()+shift, r.IntN(7))
		}
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(b.String()), 0o644)
		return p
	}
	ref, cur := write("ref.csv", 0, 6000), write("cur.csv", 0.15, 5000)
	m := &compiler.Model{Name: "m", Monitoring: &compiler.Monitoring{Drift: &compiler.Drift{Features: []string{"x", "k"}, Method: "ks", Threshold: 0.05}}}
	fs := map[string]*compiler.Feature{"x": {Name: "x", DType: "float"}, "k": {Name: "k", DType: "int"}}
	exact, err := Drift(m, fs, ref, cur, DriftOptions{})
	if err != nil {
		t.Fatal(err)
	}
	approx, err := Drift(m, fs, ref, cur, DriftOptions{ExactLimit: 500, GridPoints: 200})
	if err != nil {
		t.Fatal(err)
	}
	for i := range exact.Features {
		e, a := exact.Features[i].KS, approx.Features[i].KS
		if !e.Exact {
			t.Fatalf("%s: default limits should be exact", exact.Features[i].Feature)
		}
		if e.Statistic < a.Statistic-1e-12 || e.Statistic > a.Statistic+a.ErrorBound+1e-12 {
			t.Errorf("%s: exact D %g outside [%g, %g]", exact.Features[i].Feature, e.Statistic, a.Statistic, a.Statistic+a.ErrorBound)
		}
		if a.ErrorBound > 0.02 {
			t.Errorf("%s: error bound %g too loose for 400 grid points", exact.Features[i].Feature, a.ErrorBound)
		}
		var rs, cs float64
		for _, b := range approx.Features[i].Bins {
			rs += b.Reference
			cs += b.Current
		}
		if math.Abs(rs-1) > 1e-9 || math.Abs(cs-1) > 1e-9 {
			t.Errorf("%s: bin proportions sum to %g, %g", exact.Features[i].Feature, rs, cs)
		}
	}
	if k := approx.Features[0]; k.Feature != "k" || !k.KS.Exact || k.KS.Statistic != exact.Features[0].KS.Statistic {
		t.Errorf("discrete k should be exact on the grid: %+v vs %+v", k.KS, exact.Features[0].KS)
	}
}

func TestDriftErrors(t *testing.T) {
	ref, cur := smallDrift(t, ".csv")
	m, fs := smallModel("psi")
	bad := writeFile(t, "bad.csv", "x,c\n1,a\n2,b\nseven,a\n")
	nulls := writeFile(t, "nulls.csv", "x,c\n,a\n,b\n")
	for _, tc := range []struct {
		name, ref, cur string
		model          *compiler.Model
		feats          map[string]*compiler.Feature
		want           string
	}{
		{"no monitor", ref, cur, &compiler.Model{Name: "m"}, fs, "models/m declares no monitoring.drift"},
		{"undeclared feature", ref, cur, m, map[string]*compiler.Feature{"x": fs["x"]}, `names "c", which is not a declared feature`},
		{"wrong type", ref, bad, m, fs, `bad.csv:4: row 3: column "x": string value "seven" is not a valid float`},
		{"all null", nulls, cur, m, fs, `feature "x" has no non-null values in the reference sample`},
		{"missing file", ref, filepath.Join(t.TempDir(), "nope.csv"), m, fs, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Drift(tc.model, tc.feats, tc.ref, tc.cur, DriftOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// The fraud fixtures drift on txn-amount only (the example's story).
func TestDriftFraudFixtures(t *testing.T) {
	var ids []string
	for _, ext := range []string{".csv", ".parquet"} {
		res, err := Drift(fraudModel("psi", 0.2), fraudFeatures(), fixtures+"/fraud_reference"+ext, fixtures+"/fraud_current"+ext, DriftOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(res.DriftedFeatures, []string{"txn-amount"}) {
			t.Errorf("%s: drifted %v", ext, res.DriftedFeatures)
		}
		for _, f := range res.Features {
			f := *f
			ids = append(ids, fmt.Sprintf("%s %.12f", f.Feature, f.PSI))
		}
		if ext == ".csv" {
			b, _ := json.MarshalIndent(res, "", "  ")
			golden(t, "drift_fraud.json", append(b, '\n'))
		}
	}
	// CSV and Parquet copies of the same sample give the same statistics.
	if !slices.Equal(ids[:len(ids)/2], ids[len(ids)/2:]) {
		t.Errorf("csv and parquet disagree: %v", ids)
	}
}
