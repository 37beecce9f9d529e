package state

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// A read-only command never creates a state: a missing file (or its
// directory) is ErrNoState, naming where it looked.
func TestOpenExistingNeverCreates(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, loc := range []string{filepath.Join(dir, "no", "such", "state.db"), "sqlite://" + filepath.Join(dir, "x.db")} {
		_, err := OpenExisting(ctx, loc)
		var ns *NoStateError
		if !errors.Is(err, ErrNoState) || !errors.As(err, &ns) {
			t.Fatalf("%s: %v, want ErrNoState", loc, err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("OpenExisting created %v", entries)
	}
	p := filepath.Join(dir, "state.db")
	st, err := OpenSQLite(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	st2, err := OpenExisting(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	st2.Close()
}
