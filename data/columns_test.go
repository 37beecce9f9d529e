package data

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/cairn-dev/cairn/compiler"
)

// The lookup table must give exactly sort.SearchFloat64s's answer.
func TestCellsIndexMatchesSearch(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	grids := map[string][]float64{
		"single": {3},
		"normal": nil,
		"skewed": nil,
		"huge":   {-math.MaxFloat64, -1, 0, 1, math.MaxFloat64},
		"ints":   {0, 1, 2, 3, 4, 5, 6, 7, 8, 9},
		"tiny":   {1e-300, 2e-300, 3e-300},
	}
	for range 1000 {
		grids["normal"] = append(grids["normal"], r.NormFloat64())
		grids["skewed"] = append(grids["skewed"], math.Exp(4*r.NormFloat64()))
	}
	for name, g := range grids {
		t.Run(name, func(t *testing.T) {
			g = mergeGrids(g, nil)
			c := newCells(g)
			var qs []float64
			for _, x := range g {
				qs = append(qs, x, math.Nextafter(x, math.Inf(1)), math.Nextafter(x, math.Inf(-1)))
			}
			for range 2000 {
				qs = append(qs, g[0]+(g[len(g)-1]-g[0])*r.Float64(), r.NormFloat64()*10)
			}
			qs = append(qs, math.Inf(1), math.Inf(-1), -math.MaxFloat64, math.MaxFloat64)
			for _, x := range qs {
				if got, want := c.index(x), sort.SearchFloat64s(g, x); got != want {
					t.Fatalf("index(%g) = %d, want %d", x, got, want)
				}
			}
		})
	}
}

// ksCells must bracket the exact statistic, whatever the two grids are, and
// be exact when the grids hold every value.
func TestKSCellsBracketsExact(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for trial := range 50 {
		a := make([]float64, 500+r.IntN(500))
		b := make([]float64, 300+r.IntN(500))
		for i := range a {
			a[i] = math.Round(r.NormFloat64()*20) / 10 // ties on purpose
		}
		shift := r.Float64()
		for i := range b {
			b[i] = math.Round((r.NormFloat64()+shift)*20) / 10
		}
		slices.Sort(a)
		slices.Sort(b)
		exact := KSStatistic(a, b)
		ga := gridOf(a[:100], 10+r.IntN(40))
		gb := mergeGrids(ga, gridOf(b[:50], 10+r.IntN(40)))
		ca, cb := newCells(ga), newCells(gb)
		ca.add(a)
		cb.add(b)
		lo, hi := ksCells(ca, cb)
		if exact < lo-1e-12 || exact > hi+1e-12 {
			t.Fatalf("trial %d: exact D %g outside [%g, %g]", trial, exact, lo, hi)
		}
		full := mergeGrids(a, b)
		ca, cb = newCells(full), newCells(full)
		ca.add(a)
		cb.add(b)
		if lo, hi := ksCells(ca, cb); math.Abs(lo-exact) > 1e-12 || math.Abs(hi-exact) > 1e-12 {
			t.Fatalf("trial %d: full grid gives [%g, %g], want %g", trial, lo, hi, exact)
		}
	}
}

// writeSample writes the same numeric sample x (and a category c) as CSV.
func writeSample(t *testing.T, dir, name string, xs []float64) string {
	var b strings.Builder
	b.WriteString("x,c\n")
	for i, x := range xs {
		fmt.Fprintf(&b, "%s,%c\n", fmtNum(x), 'a'+rune(i%3))
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Beyond the exact limit, drift is computed in one pass over each sample
// when the first values represent the rest, and with a second pass over a
// reservoir grid when they do not (a sorted file); both bracket the exact D.
func TestDriftOnePassAndFallback(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	iidRef, iidCur := make([]float64, 20000), make([]float64, 15000)
	for i := range iidRef {
		iidRef[i] = r.NormFloat64()
	}
	for i := range iidCur {
		iidCur[i] = r.NormFloat64() + 0.1
	}
	sortedRef := slices.Sorted(slices.Values(iidRef))
	m := &compiler.Model{Name: "m", Monitoring: &compiler.Monitoring{Drift: &compiler.Drift{Features: []string{"x"}, Method: "ks", Threshold: 0.5}}}
	fs := map[string]*compiler.Feature{"x": {Name: "x", DType: "float"}}
	opts := DriftOptions{ExactLimit: 2000, GridPoints: 100}
	for _, tc := range []struct {
		name     string
		ref, cur []float64
		second   bool
	}{
		{"iid", iidRef, iidCur, false},
		{"sorted reference", sortedRef, iidCur, true},
		{"exact reference", iidRef[:1500], iidCur, false},
		{"exact current", iidRef, iidCur[:1000], false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ref, cur := writeSample(t, dir, "ref.csv", tc.ref), writeSample(t, dir, "cur.csv", tc.cur)
			var second []string
			onSecondPass = func(f string) { second = append(second, f) }
			defer func() { onSecondPass = nil }()
			approx, err := Drift(m, fs, ref, cur, opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(second) > 0; got != tc.second {
				t.Errorf("second pass = %v, want %v", got, tc.second)
			}
			exact, err := Drift(m, fs, ref, cur, DriftOptions{})
			if err != nil {
				t.Fatal(err)
			}
			e, a := exact.Features[0].KS, approx.Features[0].KS
			if !e.Exact {
				t.Fatal("default limits should be exact")
			}
			if e.Statistic < a.Statistic-1e-12 || e.Statistic > a.Statistic+a.ErrorBound+1e-12 {
				t.Errorf("exact D %g outside [%g, %g]", e.Statistic, a.Statistic, a.Statistic+a.ErrorBound)
			}
			if a.ErrorBound > 4.0/100 {
				t.Errorf("error bound %g, want ≤ 4/GridPoints", a.ErrorBound)
			}
			// The reference bins are cut within one grid cell of the deciles.
			for _, b := range approx.Features[0].Bins {
				if math.Abs(b.Reference-0.1) > 0.03 {
					t.Errorf("reference bin proportion %g, want about 0.1: %+v", b.Reference, approx.Features[0].Bins)
					break
				}
			}
		})
	}
}

// typedSample writes a Parquet file with the encodings and types real
// writers produce (dictionaries, int32, float32, ms timestamps, dates,
// booleans, a required column, nulls, several row groups and pages), and
// returns the feature declarations that read it.
func typedSample(t *testing.T, n int) (string, map[string]*compiler.Feature) {
	dict := func(n parquet.Node) parquet.Node { return parquet.Encoded(n, &parquet.RLEDictionary) }
	group := parquet.Group{
		"s":    parquet.Optional(dict(parquet.String())),
		"d":    parquet.Optional(dict(parquet.Leaf(parquet.DoubleType))),
		"i32":  parquet.Optional(parquet.Int(32)),
		"f32":  parquet.Optional(parquet.Leaf(parquet.FloatType)),
		"ts":   parquet.Optional(parquet.Timestamp(parquet.Millisecond)),
		"day":  parquet.Optional(parquet.Date()),
		"b":    parquet.Optional(parquet.Leaf(parquet.BooleanType)),
		"req":  parquet.Int(64),
		"nums": parquet.Optional(parquet.String()), // numbers as text, some not
	}
	schema := parquet.NewSchema("s", group)
	p := filepath.Join(t.TempDir(), "typed.parquet")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := parquet.NewWriter(f, schema, parquet.MaxRowsPerRowGroup(700), parquet.PageBufferSize(512))
	r := rand.New(rand.NewPCG(11, 12))
	col := func(name string) int { l, _ := schema.Lookup(name); return l.ColumnIndex }
	for i := range n {
		row := make(parquet.Row, len(group))
		set := func(name string, v parquet.Value) {
			def := 1
			if name == "req" {
				def = 0
			} else if r.IntN(10) == 0 {
				v, def = parquet.Value{}, 0
			}
			row[col(name)] = v.Level(0, def, col(name))
		}
		set("s", parquet.ByteArrayValue([]byte([]string{"x", "y", "z", "w"}[r.IntN(4)])))
		set("d", parquet.DoubleValue(float64(r.IntN(50))/4))
		set("i32", parquet.Int32Value(int32(r.IntN(200)-20)))
		set("f32", parquet.FloatValue(float32(r.NormFloat64())))
		set("ts", parquet.Int64Value(1.7e12+int64(r.IntN(1e9))))
		set("day", parquet.Int32Value(int32(19000+r.IntN(400))))
		set("b", parquet.BooleanValue(r.IntN(3) == 0))
		set("req", parquet.Int64Value(int64(i)))
		num := fmt.Sprint(r.IntN(100))
		if i%97 == 5 {
			num = "n/a?"
		}
		set("nums", parquet.ByteArrayValue([]byte(num)))
		if _, err := w.WriteRows([]parquet.Row{row}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	q := func(min, max float64) *compiler.Quality {
		return &compiler.Quality{NotNull: ptr(true), Min: ptr(min), Max: ptr(max), MaxNullRatio: ptr(0.05)}
	}
	fs := map[string]*compiler.Feature{
		"s":    {Name: "s", DType: "string", Quality: &compiler.Quality{Allowed: []any{"x", "y", "z"}}},
		"d":    {Name: "d", DType: "float", Quality: q(1, 10)},
		"i32":  {Name: "i32", DType: "int", Quality: q(0, 150)},
		"f32":  {Name: "f32", DType: "float", Quality: q(-2, 2)},
		"ts":   {Name: "ts", DType: "timestamp", Quality: q(1.7e9+100, 1.7e9+900)},
		"day":  {Name: "day", DType: "timestamp", Quality: q(19100*86400, 19300*86400)},
		"b":    {Name: "b", DType: "bool", Quality: &compiler.Quality{Allowed: []any{false}}},
		"req":  {Name: "req", DType: "int", Quality: q(10, float64(n-10))},
		"nums": {Name: "nums", DType: "float", Quality: q(5, 90)},
	}
	return p, fs
}

// The typed, parallel Parquet path must give exactly what the row-by-row
// path gives (Value per cell through Coerce), for validation and drift.
func TestParquetTypedPathMatchesRowPath(t *testing.T) {
	path, fs := typedSample(t, 3000)
	run := func(rowScan bool) (*Report, *DriftResult) {
		forceRowScan = rowScan
		defer func() { forceRowScan = false }()
		r, err := Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		rep, err := Validate(fs, r)
		if err != nil {
			t.Fatal(err)
		}
		var drifted []string
		for n := range fs {
			if n != "nums" { // its bad values are an error for drift
				drifted = append(drifted, n)
			}
		}
		m := &compiler.Model{Name: "m", Monitoring: &compiler.Monitoring{Drift: &compiler.Drift{Features: drifted, Method: "psi", Threshold: 0.1}}}
		dr, err := Drift(m, fs, path, path, DriftOptions{ExactLimit: 1000, GridPoints: 50})
		if err != nil {
			t.Fatal(err)
		}
		return rep, dr
	}
	typedRep, typedDrift := run(false)
	rowRep, rowDrift := run(true)
	// One worker or several: the same bytes out (evidence ids depend on it).
	procs := runtime.GOMAXPROCS(1)
	_, serialDrift := run(false)
	runtime.GOMAXPROCS(procs)
	if serialDrift.EvidenceID != typedDrift.EvidenceID {
		t.Errorf("evidence id depends on the number of workers")
	}
	if !reflect.DeepEqual(typedRep, rowRep) {
		a, b := fmt.Sprintf("%+v", typedRep.Features), fmt.Sprintf("%+v", rowRep.Features)
		t.Errorf("validation differs:\ntyped %s\nrows  %s", a, b)
	}
	if typedRep.Rows != 3000 || typedRep.Passed {
		t.Errorf("rows %d passed %v", typedRep.Rows, typedRep.Passed)
	}
	for _, f := range typedRep.Features {
		if f.Nulls == 0 && f.Feature != "req" {
			t.Errorf("%s: no nulls counted", f.Feature)
		}
		for _, rr := range f.Rules {
			if rr.Rule == "dtype" && (rr.Failures > 0) != (f.Feature == "nums") {
				t.Errorf("%s: dtype failures %d", f.Feature, rr.Failures)
			}
		}
	}
	if !reflect.DeepEqual(typedDrift, rowDrift) {
		t.Errorf("drift differs:\ntyped %+v\nrows  %+v", typedDrift.Features, rowDrift.Features)
	}
	for _, f := range typedDrift.Features {
		if f.PSI != 0 || (f.KS != nil && f.KS.Statistic != 0) {
			t.Errorf("%s: a sample drifts from itself: psi %g ks %+v", f.Feature, f.PSI, f.KS)
		}
	}
}

// With columns decoded in parallel the reported error is still the one a
// row-by-row reader meets first: the earliest row, then the first column.
func TestParquetEarliestErrorWins(t *testing.T) {
	cols := []ColumnSpec{{"a", "string"}, {"b", "string"}}
	rows := [][2]string{}
	for i := range 5000 {
		rows = append(rows, [2]string{fmt.Sprint(i), fmt.Sprint(i)})
	}
	rows[4000][0] = "bad-a"
	rows[3000][1] = "bad-b"
	rows[4000][1] = "bad-b2"
	p := filepath.Join(t.TempDir(), "e.parquet")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	err = WriteParquet(f, cols, 1000, func(v []Value) bool {
		if i == len(rows) {
			return false
		}
		v[0], v[1] = Value{Kind: KindString, Str: rows[i][0]}, Value{Kind: KindString, Str: rows[i][1]}
		i++
		return true
	})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	m := &compiler.Model{Name: "m", Monitoring: &compiler.Monitoring{Drift: &compiler.Drift{Features: []string{"a", "b"}, Method: "psi", Threshold: 0.1}}}
	fs := map[string]*compiler.Feature{"a": {Name: "a", DType: "int"}, "b": {Name: "b", DType: "int"}}
	for _, rowScan := range []bool{false, true} {
		forceRowScan = rowScan
		_, err := Drift(m, fs, p, p, DriftOptions{})
		forceRowScan = false
		want := `row 3001: column "b": string value "bad-b" is not a valid int`
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("row scan %v: err = %v, want %q", rowScan, err, want)
		}
	}
}

// go test ./data -run '^$' -bench CellsAdd
func BenchmarkCellsAdd(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	xs := make([]float64, 1<<16)
	for i := range xs {
		xs[i] = r.NormFloat64()
	}
	g := slices.Sorted(slices.Values(xs[:1<<14]))
	c := newCells(mergeGrids(gridOf(g, 1024), gridOf(g[:8000], 1024)))
	b.ResetTimer()
	for b.Loop() {
		c.add(xs)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(xs)), "ns/value")
}
