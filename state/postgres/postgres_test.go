package postgres_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/cairn-dev/cairn/state"
	"github.com/cairn-dev/cairn/state/postgres"
	"github.com/cairn-dev/cairn/state/postgres/pgtest"
	"github.com/cairn-dev/cairn/state/statetest"
)

func TestPostgresConformance(t *testing.T) {
	statetest.Run(t, func(t *testing.T) state.Store {
		u, _ := pgtest.Schema(t)
		s, err := state.Open(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := s.(*postgres.Store); !ok {
			t.Fatalf("state.Open(%s) = %T, want *postgres.Store", u, s)
		}
		return s
	})
}

// Several processes starting at once on a fresh schema must not race on the
// migrations, and reopening runs none twice.
func TestConcurrentOpenAndReopen(t *testing.T) {
	u, _ := pgtest.Schema(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := postgres.Open(ctx, u)
			if err != nil {
				errs <- err
				return
			}
			s.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	s, err := postgres.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v, err := s.SchemaVersion(ctx)
	if err != nil || v != len(postgres.Dialect().Migrations) {
		t.Fatalf("schema version %d (%v), want %d", v, err, len(postgres.Dialect().Migrations))
	}
	var n int
	if err := s.DB().QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n != v {
		t.Fatalf("schema_migrations rows = %d (%v), want %d", n, err, v)
	}
	var iso string
	if err := s.DB().QueryRow(`SHOW transaction_isolation`).Scan(&iso); err != nil || iso != "serializable" {
		t.Fatalf("transaction_isolation = %q (%v), want serializable", iso, err)
	}
}

// A schema that does not exist yet is created from the URL's search_path.
func TestCreatesSearchPathSchema(t *testing.T) {
	base := pgtest.BaseURL(t)
	_, schema := pgtest.Schema(t) // registers the cleanup
	u := pgtest.WithSearchPath(t, base, schema+"_new")
	ctx := context.Background()
	s, err := postgres.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		s.DB().Exec(`DROP SCHEMA ` + schema + `_new CASCADE`)
		s.Close()
	}()
	if s.Schema() != schema+"_new" {
		t.Fatalf("Schema() = %q", s.Schema())
	}
	if err := s.PutRecord(ctx, "k", "a", []byte{0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.DB().QueryRow(`SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'records'`, schema+"_new").Scan(&n); err != nil || n != 1 {
		t.Fatalf("records table in new schema: %d (%v)", n, err)
	}
}

func TestBadURLsNameTheProblemWithoutThePassword(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ url, want string }{
		{"postgres://u:s3cret@127.0.0.1:1/db?connect_timeout=1", "127.0.0.1"},
		{"postgres://u:s3cret@127.0.0.1:5432/db?sslmode=bogus", "sslmode"},
	} {
		_, err := state.Open(ctx, tc.url)
		if err == nil {
			t.Fatalf("%s: no error", tc.url)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error prints the password: %v", err)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %q does not mention %q", err, tc.want)
		}
	}
}

// Compare-and-set under contention: exactly one of many concurrent moves from
// the same value wins (READ COMMITTED would let several "win" in turn).
func TestConcurrentCompareAndSet(t *testing.T) {
	u, _ := pgtest.Schema(t)
	ctx := context.Background()
	s, err := postgres.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.SetPointer(ctx, "models/m", "prod", "", "1"); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	won, conflicts := 0, 0
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			err := s.SetPointer(ctx, "models/m", "prod", "1", string(rune('a'+i)))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case state.IsConflict(err):
				conflicts++
			default:
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	if won != 1 || conflicts != n-1 {
		t.Fatalf("won %d, conflicts %d; want 1 and %d", won, conflicts, n-1)
	}
}
