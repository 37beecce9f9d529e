package data

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/cairn-dev/cairn/compiler"
)

var update = flag.Bool("update", false, "rewrite golden files")

const fixtures = "../testdata/data"

func ptr[T any](v T) *T { return &v }

// fraudFeatures are examples/fraud-detection's feature declarations.
func fraudFeatures() map[string]*compiler.Feature {
	return map[string]*compiler.Feature{
		"txn-amount": {Name: "txn-amount", Entity: "transaction", DType: "float",
			Quality: &compiler.Quality{NotNull: ptr(true), Min: ptr(0.0), Max: ptr(50000.0)}},
		"merchant-category": {Name: "merchant-category", Entity: "transaction", DType: "string",
			Quality: &compiler.Quality{NotNull: ptr(true), Allowed: []any{"grocery", "travel", "electronics", "fuel", "dining", "other"}}},
		"account-age-days": {Name: "account-age-days", Entity: "transaction", DType: "int",
			Quality: &compiler.Quality{Min: ptr(0.0), MaxNullRatio: ptr(0.01)}},
		"txn-count-24h": {Name: "txn-count-24h", Entity: "transaction", DType: "int",
			Quality: &compiler.Quality{NotNull: ptr(true), Min: ptr(0.0)}},
		"cardholder-country": {Name: "cardholder-country", Entity: "transaction", DType: "string", PII: true,
			Quality: &compiler.Quality{MaxNullRatio: ptr(0.05)}},
	}
}

func fraudModel(method string, threshold float64) *compiler.Model {
	return &compiler.Model{Name: "fraud-detector", Kind: "classic",
		Features: []string{"txn-amount", "merchant-category", "account-age-days", "txn-count-24h", "cardholder-country"},
		Monitoring: &compiler.Monitoring{Drift: &compiler.Drift{
			Features: []string{"txn-amount", "merchant-category", "account-age-days"},
			Method:   method, Threshold: threshold}}}
}

// writeFile writes content to name in a fresh temp dir and returns the path.
func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// golden compares got with testdata/data/golden/name, rewriting it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join(fixtures, "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test ./data -update to create it)", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs from golden file (go test ./data -update to accept):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}
