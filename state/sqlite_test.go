package state_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/state"
	"github.com/cairn-dev/cairn/state/statetest"
)

func TestSQLiteConformance(t *testing.T) {
	statetest.Run(t, func(t *testing.T) state.Store {
		s, err := state.Open(context.Background(), filepath.Join(t.TempDir(), "nested", "state.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestSQLiteURLAndReopen(t *testing.T) {
	ctx := context.Background()
	p := filepath.Join(t.TempDir(), "s.db")
	s, err := state.Open(ctx, "sqlite://"+p)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutRecord(ctx, "k", "a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	v1, _ := s.SchemaVersion(ctx)
	s.Close()
	// Reopening runs no migration twice and keeps the data.
	s, err = state.Open(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v2, _ := s.SchemaVersion(ctx)
	if v1 != v2 || v1 < 1 {
		t.Fatalf("schema version %d then %d", v1, v2)
	}
	if _, ok, _ := s.GetRecord(ctx, "k", "a"); !ok {
		t.Fatal("data lost on reopen")
	}
	var mode string
	if err := s.(*state.SQLStore).DB().QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q (%v), want wal", mode, err)
	}
}

func TestSQLiteNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	p := filepath.Join(t.TempDir(), "s.db")
	s, err := state.Open(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	db := s.(*state.SQLStore).DB()
	if _, err := db.Exec(`INSERT INTO schema_migrations (version) VALUES (999)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = state.Open(ctx, p)
	if err == nil || !strings.Contains(err.Error(), "999") || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("err = %v, want a 'schema version 999 is newer' error", err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ in, want string }{
		{"", "empty"},
		{"mysql://user:hunter2@h/db", "unsupported"},
		{"/tmp/x?mode=ro", "may not contain"},
	} {
		_, err := state.Open(ctx, tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q) = %v, want error containing %q", tc.in, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open(%q) error leaks the password: %v", tc.in, err)
		}
	}
}

// Opening the same file from many goroutines at once migrates it exactly once.
func TestConcurrentFirstOpen(t *testing.T) {
	ctx := context.Background()
	p := filepath.Join(t.TempDir(), "s.db")
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		go func() {
			s, err := state.Open(ctx, p)
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for i := 0; i < 4; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	db, _ := sql.Open("sqlite", p)
	defer db.Close()
	var n int
	db.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n)
	if want := len(state.Migrations("INTEGER", "BLOB")); n != want {
		t.Fatalf("%d migrations recorded, want %d (each once)", n, want)
	}
}
