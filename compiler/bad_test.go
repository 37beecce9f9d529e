package compiler

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/cairn-dev/cairn/internal/diag"
)

// writeArchive extracts a txtar spec repo into a fresh directory.
func writeArchive(t testing.TB, a *txtar.Archive) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range a.Files {
		p := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestBadSpecs runs the catalog in testdata/compiler/bad: each archive is a
// spec repo with one mistake and a first line "want CODE file:line:col".
func TestBadSpecs(t *testing.T) {
	files, err := filepath.Glob("../testdata/compiler/bad/*.txtar")
	if err != nil || len(files) < 30 {
		t.Fatalf("want at least 30 bad specs, found %d (%v)", len(files), err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txtar")
		t.Run(name, func(t *testing.T) {
			a, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Fields(strings.TrimSpace(string(a.Comment)))
			if len(want) != 3 || want[0] != "want" {
				t.Fatalf("first line must be 'want CODE POS', got %q", a.Comment)
			}
			b, ds := Compile(writeArchive(t, a), Options{})
			if b != nil || len(ds) == 0 {
				t.Fatalf("compiled without errors; want %s at %s", want[1], want[2])
			}
			checkDiags(t, ds, want[1], want[2])
		})
	}
}

func checkDiags(t *testing.T, ds diag.List, code, pos string) {
	t.Helper()
	found := false
	for _, d := range ds {
		if d.Severity != diag.Error {
			t.Errorf("severity %s, want error: %s", d.Severity, d)
		}
		if strings.Contains(d.Message, "AbCdEf1234567890") {
			t.Errorf("message prints a secret: %s", d)
		}
		if d.Message == "" || strings.Contains(d.Message, "cairn:schema") {
			t.Errorf("message leaks the schema or is empty: %s", d)
		}
		if pos != "-" && !d.Pos.IsValid() {
			t.Errorf("diagnostic without a position: %s", d)
		}
		got := d.Pos.String()
		if got == "" {
			got = "-"
		}
		if d.Code == code && got == pos {
			found = true
		}
	}
	if !found {
		t.Errorf("want %s at %s; got:\n%s", code, pos, list(ds))
	}
}

func list(ds diag.List) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString("  " + d.String() + "\n")
	}
	return b.String()
}
