// Command fixturegen writes the fraud-detection data samples in
// testdata/data: a reference and a current sample (CSV and Parquet) where
// txn-amount drifts and account-age-days breaks its quality rules,
// and an online copy of the current sample for parity checks. Output is
// deterministic (fixed seeds): `go generate ./data` rewrites identical bytes.
package main

import (
	"bytes"
	"encoding/csv"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/cairn-dev/cairn/data"
)

// The columns are the features of examples/fraud-detection, plus the key.
var cols = []data.ColumnSpec{
	{Name: "transaction-id", DType: "string"},
	{Name: "txn-amount", DType: "float"},
	{Name: "merchant-category", DType: "string"},
	{Name: "account-age-days", DType: "int"},
	{Name: "txn-count-24h", DType: "int"},
	{Name: "cardholder-country", DType: "string"},
}

var categories = []string{"grocery", "travel", "electronics", "fuel", "dining", "other"}
var catWeights = []float64{0.32, 0.08, 0.10, 0.15, 0.20, 0.15}

var countries = []string{"DE", "FR", "NL", "ES", "IT", "US"}

type sample struct {
	seed     uint64
	amountMu float64 // log-normal location of transaction_amount
	nullAge  float64 // share of null account_age_days
	negAge   float64 // share of negative (sentinel) account_age_days
	idOffset int
	rows     int
	name     string
}

func main() {
	out := flag.String("out", "testdata/data", "output directory")
	flag.Parse()
	samples := []sample{
		{seed: 1, amountMu: 3.8, rows: 1000, name: "fraud_reference"},
		{seed: 2, amountMu: 4.4, nullAge: 0.04, negAge: 0.01, idOffset: 100000, rows: 1000, name: "fraud_current"},
	}
	for _, s := range samples {
		rows := s.generate()
		must(writeCSV(filepath.Join(*out, s.name+".csv"), rows))
		must(writeParquet(filepath.Join(*out, s.name+".parquet"), rows))
		if s.name == "fraud_current" {
			must(writeCSV(filepath.Join(*out, "fraud_online.csv"), online(rows)))
		}
	}
}

func (s sample) generate() [][]data.Value {
	r := rand.New(rand.NewPCG(s.seed, 42))
	rows := make([][]data.Value, s.rows)
	for i := range rows {
		amount := math.Round(math.Exp(s.amountMu+0.9*r.NormFloat64())*100) / 100
		var age data.Value
		switch u := r.Float64(); {
		case u < s.nullAge:
			age = data.Value{}
		case u < s.nullAge+s.negAge:
			age = data.Value{Kind: data.KindInt, Int: -1}
		default:
			age = data.Value{Kind: data.KindInt, Int: int64(r.ExpFloat64() * 700)}
		}
		country := data.Value{Kind: data.KindString, Str: countries[r.IntN(len(countries))]}
		if r.Float64() < 0.01 {
			country = data.Value{}
		}
		rows[i] = []data.Value{
			{Kind: data.KindString, Str: fmt.Sprintf("tx-%06d", s.idOffset+i+1)},
			{Kind: data.KindFloat, Float: amount},
			{Kind: data.KindString, Str: pick(r)},
			age,
			{Kind: data.KindInt, Int: int64(r.IntN(4) + r.IntN(4))},
			country,
		}
	}
	return rows
}

// online is the current sample as the online store served it: the first 990
// rows, with txn-amount rounded to whole units on every 50th row
// (a train/serve skew) and 5 rows that were never served.
func online(rows [][]data.Value) [][]data.Value {
	var out [][]data.Value
	for i, row := range rows[:990] {
		if i%200 == 7 {
			continue
		}
		c := append([]data.Value(nil), row...)
		if i%50 == 0 {
			c[1].Float = math.Round(c[1].Float)
		}
		out = append(out, c)
	}
	return out
}

func pick(r *rand.Rand) string {
	u := r.Float64()
	for i, w := range catWeights {
		if u < w {
			return categories[i]
		}
		u -= w
	}
	return categories[len(categories)-1]
}

func writeCSV(path string, rows [][]data.Value) error {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	h := make([]string, len(cols))
	for i, c := range cols {
		h[i] = c.Name
	}
	w.Write(h)
	rec := make([]string, len(cols))
	for _, row := range rows {
		for i, v := range row {
			rec[i] = v.String()
			if v.IsNull() {
				rec[i] = ""
			}
		}
		w.Write(rec)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

func writeParquet(path string, rows [][]data.Value) error {
	var b bytes.Buffer
	i := 0
	err := data.WriteParquet(&b, cols, 0, func(row []data.Value) bool {
		if i >= len(rows) {
			return false
		}
		copy(row, rows[i])
		i++
		return true
	})
	if err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "fixturegen:", err)
		os.Exit(1)
	}
}
