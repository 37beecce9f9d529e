package state_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/state"
)

func fileSum(t *testing.T, p string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// seeded is a closed state file with a record, a model version and an audit entry.
func seeded(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	p := filepath.Join(t.TempDir(), "state.db")
	s, err := state.OpenSQLite(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutRecord(ctx, "k", "a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RegisterModelVersion(ctx, state.ModelVersion{Model: "m", Version: "1", ArtifactURI: "s3://m/1", RegisteredAt: time.Unix(0, 0).UTC()}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendAudit(ctx, state.AuditEntry{Actor: "t", Action: "x", Object: "models/m"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// Reads work; every kind of write fails with ErrReadOnly naming the file,
// and the file is not modified.
func TestSQLiteReadOnly(t *testing.T) {
	ctx := context.Background()
	p := seeded(t)
	before := fileSum(t, p)
	s, err := state.OpenSQLiteReadOnly(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok, err := s.GetRecord(ctx, "k", "a"); err != nil || !ok || string(v) != "1" {
		t.Errorf("GetRecord = %q %v %v", v, ok, err)
	}
	if mvs, err := s.ListModelVersions(ctx, "m"); err != nil || len(mvs) != 1 {
		t.Errorf("ListModelVersions = %v %v", mvs, err)
	}
	if es, err := s.ListAudit(ctx); err != nil || len(es) != 1 {
		t.Errorf("ListAudit = %v %v", es, err)
	}
	writes := map[string]func() error{
		"PutRecord": func() error { return s.PutRecord(ctx, "k", "b", []byte("2")) },
		"RegisterModelVersion": func() error {
			_, err := s.RegisterModelVersion(ctx, state.ModelVersion{Model: "m", Version: "2", ArtifactURI: "s3://m/2"})
			return err
		},
		"AppendAudit": func() error {
			_, err := s.AppendAudit(ctx, state.AuditEntry{Actor: "t", Action: "y", Object: "models/m"})
			return err
		},
		"DeleteRecord":  func() error { return s.DeleteRecord(ctx, "k", "a") },
		"DeleteRecords": func() error { return s.DeleteRecords(ctx, "k", "a") },
		"Update": func() error {
			return s.Update(ctx, func(tx state.Ops) error { return tx.SetRenderedHash(ctx, "rendered/x", "h") })
		},
	}
	for name, w := range writes {
		err := w()
		if !errors.Is(err, state.ErrReadOnly) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: err = %v, want ErrReadOnly naming %s", name, err, p)
		}
	}
	s.Close()
	if fileSum(t, p) != before {
		t.Error("a read-only open modified the state file")
	}
}

func TestSQLiteReadOnlyErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := state.OpenSQLiteReadOnly(ctx, filepath.Join(dir, "missing.db")); err == nil || !strings.Contains(err.Error(), "missing.db") {
		t.Errorf("missing file: %v", err)
	}
	// A SQLite file cairn never migrated cannot be migrated read-only.
	p := filepath.Join(dir, "old.db")
	db, _ := sql.Open("sqlite", p)
	if _, err := db.Exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := state.OpenSQLiteReadOnly(ctx, p); err == nil || !strings.Contains(err.Error(), "schema version 0") || !strings.Contains(err.Error(), "write access") {
		t.Errorf("unmigrated: %v", err)
	}
}

// Without write permission (file 0444 and/or directory 0555), Open falls
// back to read-only. Root ignores permissions, so this runs as an ordinary
// user only (e.g. setpriv --reuid=65534 on the compiled test binary).
func TestOpenUnwritableFallsBackToReadOnly(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root can write read-only files")
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		file, dir os.FileMode
	}{{"file and dir", 0o444, 0o555}, {"file only", 0o444, 0o755}, {"dir only", 0o644, 0o555}} {
		p := seeded(t)
		dir := filepath.Dir(p)
		os.Chmod(p, tc.file)
		os.Chmod(dir, tc.dir)
		s, err := state.Open(ctx, p)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
		} else {
			if _, ok, err := s.GetRecord(ctx, "k", "a"); err != nil || !ok {
				t.Errorf("%s: read: %v %v", tc.name, ok, err)
			}
			if err := s.PutRecord(ctx, "k", "b", nil); !errors.Is(err, state.ErrReadOnly) {
				t.Errorf("%s: write: %v", tc.name, err)
			}
			s.Close()
		}
		os.Chmod(dir, 0o755)
		os.Chmod(p, 0o644)
	}
}
