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

// fraudFeatures mirrors the fraud-detection example's feature declarations.
func fraudFeatures() map[string]*compiler.Feature {
	return map[string]*compiler.Feature{
		"transaction_amount": {Name: "transaction_amount", Entity: "transaction", DType: "float",
			Quality: &compiler.Quality{NotNull: ptr(true), Min: ptr(0.0), Max: ptr(20000.0)}},
		"merchant_category": {Name: "merchant_category", Entity: "transaction", DType: "string",
			Quality: &compiler.Quality{NotNull: ptr(true), Allowed: []any{"grocery", "electronics", "travel", "restaurants", "fuel", "online"}}},
		"account_age_days": {Name: "account_age_days", Entity: "account", DType: "int",
			Quality: &compiler.Quality{Min: ptr(0.0), MaxNullRatio: ptr(0.01)}},
		"card_present": {Name: "card_present", Entity: "transaction", DType: "bool"},
		"hour_of_day": {Name: "hour_of_day", Entity: "transaction", DType: "int",
			Quality: &compiler.Quality{Min: ptr(0.0), Max: ptr(23.0)}},
	}
}

func fraudModel(method string, threshold float64) *compiler.Model {
	return &compiler.Model{Name: "fraud-detector", Kind: "classic",
		Features: []string{"account_age_days", "card_present", "hour_of_day", "merchant_category", "transaction_amount"},
		Monitoring: &compiler.Monitoring{Drift: &compiler.Drift{
			Features: []string{"transaction_amount", "merchant_category", "account_age_days", "hour_of_day"},
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
