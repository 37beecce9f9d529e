package data

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
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
	long := filepath.Join(dir, "long.csv")
	if err := os.WriteFile(long, []byte("a,b\n1,"+strings.Repeat("x", 3<<20)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path, want string
		line       int
	}{
		{nul, "a NUL byte: this is binary content", 1},
		{long, "a line longer than 1048576 bytes", 2},
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
