package data

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/internal/junit/junittest"

	"github.com/cairn-dev/cairn/compiler"
)

// crafted: every rule kind, with known offending rows.
const craftedCSV = `id,amount,category,age,flag,when
1,10.5,a,3,true,2026-01-01
2,-1,b,,false,2026-01-02T10:00:00Z
3,abc,a,5,maybe,yesterday
4,200,z,7,true,
5,,b,x,1,2026-01-05
6,99.9,a,,false,2026-01-06
`

func craftedFeatures() map[string]*compiler.Feature {
	return map[string]*compiler.Feature{
		"amount":   {Name: "amount", DType: "float", Quality: &compiler.Quality{NotNull: ptr(true), Min: ptr(0.0), Max: ptr(100.0)}},
		"category": {Name: "category", DType: "string", Quality: &compiler.Quality{Allowed: []any{"a", "b"}}},
		"age":      {Name: "age", DType: "int", Quality: &compiler.Quality{MaxNullRatio: ptr(0.2), Min: ptr(4.0)}},
		"flag":     {Name: "flag", DType: "bool"},
		"when":     {Name: "when", DType: "timestamp", Quality: &compiler.Quality{MaxNullRatio: ptr(0.5)}},
	}
}

type ruleWant struct {
	failures int
	rows     []int
}

var craftedWant = map[string]ruleWant{
	"amount.dtype":        {1, []int{3}},
	"amount.not_null":     {1, []int{5}},
	"amount.min":          {1, []int{2}},
	"amount.max":          {1, []int{4}},
	"category.dtype":      {0, nil},
	"category.allowed":    {1, []int{4}},
	"age.dtype":           {1, []int{5}},
	"age.min":             {1, []int{1}},
	"age.max_null_ratio":  {2, nil}, // 2/6 nulls > 0.2
	"flag.dtype":          {1, []int{3}},
	"when.dtype":          {1, []int{3}},
	"when.max_null_ratio": {0, nil},
}

func checkCrafted(t *testing.T, rep *Report) {
	t.Helper()
	got := map[string]ruleWant{}
	for _, f := range rep.Features {
		for _, r := range f.Rules {
			w := ruleWant{failures: r.Failures}
			if r.Rule != "max_null_ratio" {
				for _, e := range r.Examples {
					w.rows = append(w.rows, e.Row)
				}
			}
			got[f.Feature+"."+r.Rule] = w
			if r.Passed != (r.Failures == 0) {
				t.Errorf("%s.%s: passed=%v with %d failures", f.Feature, r.Rule, r.Passed, r.Failures)
			}
		}
	}
	for k, w := range craftedWant {
		g, ok := got[k]
		if !ok {
			t.Errorf("rule %s not checked", k)
			continue
		}
		if g.failures != w.failures || len(g.rows) != len(w.rows) || (len(w.rows) > 0 && g.rows[0] != w.rows[0]) {
			t.Errorf("%s: got %d failures at rows %v, want %d at %v", k, g.failures, g.rows, w.failures, w.rows)
		}
	}
	if len(got) != len(craftedWant) {
		t.Errorf("checked %d rules, want %d: %v", len(got), len(craftedWant), got)
	}
	if rep.Rows != 6 || rep.Passed || rep.Failures != 10 {
		t.Errorf("rows=%d passed=%v failures=%d", rep.Rows, rep.Passed, rep.Failures)
	}
}

func TestValidateCraftedCSV(t *testing.T) {
	r, err := Open(writeFile(t, "crafted.csv", craftedCSV), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rep, err := Validate(craftedFeatures(), r)
	if err != nil {
		t.Fatal(err)
	}
	checkCrafted(t, rep)
}

// The same table in Parquet, typed columns where the values allow it and a
// string column where CSV held junk: the rules judge it the same way.
func TestValidateCraftedParquet(t *testing.T) {
	s := func(x string) Value { return Value{Kind: KindString, Str: x} }
	f := func(x float64) Value { return Value{Kind: KindFloat, Float: x} }
	i := func(x int64) Value { return Value{Kind: KindInt, Int: x} }
	b := func(x bool) Value { return Value{Kind: KindBool, Bool: x} }
	null := Value{}
	rows := [][]Value{
		{i(1), s("10.5"), s("a"), s("3"), s("true"), s("2026-01-01")},
		{i(2), s("-1"), s("b"), null, s("false"), s("2026-01-02T10:00:00Z")},
		{i(3), s("abc"), s("a"), s("5"), s("maybe"), s("yesterday")},
		{i(4), s("200"), s("z"), s("7"), s("true"), null},
		{i(5), null, s("b"), s("x"), s("1"), s("2026-01-05")},
		{i(6), s("99.9"), s("a"), null, s("false"), s("2026-01-06")},
	}
	cols := []ColumnSpec{{"id", "int"}, {"amount", "string"}, {"category", "string"}, {"age", "string"}, {"flag", "string"}, {"when", "string"}}
	p := writeParquetFile(t, cols, rows)
	r, err := Open(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rep, err := Validate(craftedFeatures(), r)
	if err != nil {
		t.Fatal(err)
	}
	checkCrafted(t, rep)

	// Typed columns: an int column for a float feature is fine; a bool column
	// for an int feature fails dtype on every non-null row.
	typed := writeParquetFile(t, []ColumnSpec{{"amount", "int"}, {"age", "bool"}},
		[][]Value{{i(5), b(true)}, {i(150), null}, {null, b(false)}})
	r2, _ := Open(typed, nil)
	defer r2.Close()
	rep2, err := Validate(map[string]*compiler.Feature{
		"amount": {Name: "amount", DType: "float", Quality: &compiler.Quality{Max: ptr(100.0)}},
		"age":    {Name: "age", DType: "int"},
	}, r2)
	if err != nil {
		t.Fatal(err)
	}
	age, amount := rep2.Features[0], rep2.Features[1]
	if age.Rules[0].Failures != 2 || age.Rules[0].Examples[0].Value != "true" {
		t.Errorf("bool column as int: %+v", age.Rules[0])
	}
	if amount.Rules[0].Failures != 0 || amount.Rules[1].Failures != 1 || amount.Rules[1].Examples[0].Row != 2 {
		t.Errorf("int column as float: %+v %+v", amount.Rules[0], amount.Rules[1])
	}
	_ = f
}

func writeParquetFile(t *testing.T, cols []ColumnSpec, rows [][]Value) string {
	t.Helper()
	var buf bytes.Buffer
	n := 0
	err := WriteParquet(&buf, cols, 2, func(row []Value) bool {
		if n == len(rows) {
			return false
		}
		copy(row, rows[n])
		n++
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "s.parquet")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMalformedInputs(t *testing.T) {
	feats := map[string]*compiler.Feature{"a": {Name: "a", DType: "int"}, "b": {Name: "b", DType: "string"}}
	garbage := writeFile(t, "junk.parquet", "PAR1 this is not parquet at all")
	good := writeParquetFile(t, []ColumnSpec{{"a", "int"}, {"b", "string"}}, [][]Value{{{Kind: KindInt, Int: 1}, {Kind: KindString, Str: "x"}}})
	raw, _ := os.ReadFile(good)
	truncated := writeFile(t, "cut.parquet", string(raw[:len(raw)/2]))
	for _, tc := range []struct {
		name, file, content string
		path                string // instead of file+content
		want                string
	}{
		{name: "ragged row", file: "r.csv", content: "a,b\n1,x\n2,y,extra\n", want: "r.csv:3: row 2: ragged row: 3 fields, the header has 2"},
		{name: "short row", file: "s.csv", content: "a,b\n1,x\n2,y\n3\n", want: "s.csv:4: row 3: ragged row: 1 fields, the header has 2"},
		{name: "duplicate header", file: "d.csv", content: "a,b,a\n1,2,3\n", want: `d.csv:1: bad header: column "a" appears twice (columns 1 and 3)`},
		{name: "empty header name", file: "e.csv", content: "a,,b\n1,2,3\n", want: "e.csv:1: bad header: column 2 has an empty name"},
		{name: "header is data", file: "h.csv", content: "1,2\n3,4\n", want: `h.csv:1: bad header: the first row "1,2" looks like data`},
		{name: "empty file", file: "z.csv", content: "", want: "z.csv: empty file: expected a header row"},
		{name: "bad quote", file: "q.csv", content: "a,b\n1,\"x\n2,y\n", want: "q.csv:2: row 1: extraneous or missing"},
		{name: "missing column", file: "m.csv", content: "a,c\n1,2\n", want: `m.csv: feature column "b" not found (the file has: a, c)`},
		{name: "not parquet", path: garbage, want: "junk.parquet: not a readable Parquet file"},
		{name: "truncated parquet", path: truncated, want: "cut.parquet: not a readable Parquet file"},
		{name: "unknown format", file: "x.json", content: "{}", want: "x.json: unknown data format"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.path
			if p == "" {
				p = writeFile(t, tc.file, tc.content)
			}
			r, err := Open(p, nil)
			if err == nil {
				defer r.Close()
				_, err = Validate(feats, r)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

func TestOpenSelectsColumns(t *testing.T) {
	for _, p := range []string{fixtures + "/fraud_current.csv", fixtures + "/fraud_current.parquet"} {
		r, err := Open(p, []string{"txn-count-24h", "transaction-id"})
		if err != nil {
			t.Fatal(err)
		}
		if !r.Next() || r.Value(1).String() != "tx-100001" || r.Row() != 1 {
			t.Errorf("%s: first row %v %v", p, r.Value(0), r.Value(1))
		}
		n := 1
		for r.Next() {
			n++
		}
		if r.Err() != nil || n != 1000 {
			t.Errorf("%s: %d rows, err %v", p, n, r.Err())
		}
		r.Close()
		if _, err := Open(p, []string{"nope"}); err == nil || !strings.Contains(err.Error(), `column "nope" not found`) {
			t.Errorf("%s: missing column err = %v", p, err)
		}
	}
}

// The fraud current sample fails account-age-days (nulls and negative
// sentinels) and nothing else; the report is golden in three formats.
func TestValidateFraudGolden(t *testing.T) {
	p := fixtures + "/fraud_current.csv"
	r, err := Open(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rep, err := Validate(fraudFeatures(), r)
	if err != nil {
		t.Fatal(err)
	}
	fp, _ := FingerprintFile(p)
	rep.Data, rep.FeatureSet = &fp, "fraud-detector"
	for _, f := range rep.Features {
		if f.Passed != (f.Feature != "account-age-days") {
			t.Errorf("%s passed=%v", f.Feature, f.Passed)
		}
	}
	for _, tc := range []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"validate_fraud.txt", func(b *bytes.Buffer) error { return rep.WriteText(b) }},
		{"validate_fraud.json", func(b *bytes.Buffer) error { return rep.WriteJSON(b) }},
		{"validate_fraud.junit.xml", func(b *bytes.Buffer) error { return rep.WriteJUnit(b) }},
	} {
		var b bytes.Buffer
		if err := tc.write(&b); err != nil {
			t.Fatal(err)
		}
		golden(t, tc.name, b.Bytes())
		if strings.HasSuffix(tc.name, ".xml") {
			junittest.Valid(t, tc.name, b.Bytes()) // as Jenkins would read it
		}
	}
}
