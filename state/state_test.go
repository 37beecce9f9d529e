package state

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
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

// TestContentHashStable: a model version registered before a field was
// added keeps its content hash (its eval evidence is keyed by it); the new
// field changes the hash only when set. The hash below was computed before
// trigger_id existed.
func TestContentHashStable(t *testing.T) {
	mv := ModelVersion{Model: "fraud-detector", Version: "7", ArtifactURI: "s3://m/7", Metrics: map[string]float64{"auc": 0.94},
		DataSnapshot: "snap-1", Features: []string{"b", "a"}, Commit: "abc123", RegisteredAt: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	const before = "sha256:af4a23b9abbbc663b3b50137308770e15492bf596d0be519fe05b58acf8ccd30"
	if got := mv.ContentHash(); got != before {
		t.Fatalf("content hash %s, was %s before trigger_id: old versions would lose their evidence", got, before)
	}
	mv.TriggerID = "drift:sha256:01"
	if mv.ContentHash() == before {
		t.Fatal("a trigger id does not enter the hash")
	}
}
