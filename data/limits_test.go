package data

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/limits"
)

// A 200 MB file of NUL bytes (sparse: nothing is written) is rejected at its
// first byte, in little memory, with a short message; so is a file whose
// one line never ends.
func TestHostileCSVIsRejectedEarly(t *testing.T) {
	dir := t.TempDir()
	nul := filepath.Join(dir, "nul.csv")
	f, err := os.Create(nul)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(200 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	defer limits.Set(limits.Set(limits.Limits{LineBytes: 1 << 20}))
	long := filepath.Join(dir, "long.csv")
	if err := os.WriteFile(long, []byte("a,b\n1,"+strings.Repeat("x", 3<<20)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path, want string
		line       int
	}{
		{nul, "a NUL byte: this is binary content", 1},
		{long, "a line longer than 1048576 bytes", 2}, // under the 1 MiB limit set above
	} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		r, err := Open(c.path, nil)
		if err == nil {
			for r.Next() {
			}
			err = r.Err()
			r.Close()
		}
		runtime.ReadMemStats(&after)
		var le *LineError
		if !errors.As(err, &le) || le.Line != c.line || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%s: %v, want a LineError at line %d", filepath.Base(c.path), err, c.line)
		}
		if len(err.Error()) > 300 {
			t.Errorf("%s: a %d-byte message", filepath.Base(c.path), len(err.Error()))
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
			t.Errorf("%s: allocated %d MB", filepath.Base(c.path), alloc>>20)
		}
	}
}

// The row limit holds for CSV (counted as rows are read) and Parquet (read
// from the footer, before any row), and its message names the flag.
func TestRowLimit(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "s.csv")
	if err := os.WriteFile(csvPath, []byte("a\n1\n2\n3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pqPath := writeParquetFile(t, []ColumnSpec{{Name: "a", DType: "int"}}, [][]Value{{{Kind: KindInt, Int: 1}}, {{Kind: KindInt, Int: 2}}, {{Kind: KindInt, Int: 3}}})
	for _, c := range []struct {
		max  int64
		path string
		want string // "" reads every row
	}{
		{3, csvPath, ""},
		{2, csvPath, "s.csv: more than 2 rows (limit 2; raise it with --max-rows"},
		{3, pqPath, ""},
		{2, pqPath, "s.parquet: 3 rows in its footer (limit 2; raise it with --max-rows"},
	} {
		prev := limits.Set(limits.Limits{Rows: c.max})
		n, err := countRows(c.path)
		limits.Set(prev)
		if c.want == "" {
			if err != nil || n != 3 {
				t.Errorf("%s at %d: %d rows, %v; want 3 rows", filepath.Base(c.path), c.max, n, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s at %d: %v; want %q", filepath.Base(c.path), c.max, err, c.want)
		}
	}
}

func countRows(path string) (int, error) {
	r, err := Open(path, nil)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	n := 0
	for r.Next() {
		n++
	}
	return n, r.Err()
}
