// Package postgres is the PostgreSQL backend of the state store, chosen by a
// postgres:// (or postgresql://) state URL. It reuses state.NewSQLStore with
// $n placeholders and BYTEA records, runs every transaction SERIALIZABLE and
// retries serialization failures, so the compare-and-set and MAX+1 writes of
// the shared SQL code stay correct with many processes writing at once.
//
// Importing the package registers the backend:
//
//	import _ "github.com/cairn-dev/cairn/state/postgres"
//	s, err := state.Open(ctx, "postgres://user@host:5432/db?search_path=cairn")
//
// A search_path in the URL selects (and, if missing, creates) the schema that
// holds cairn's tables, so several cairn states can share one database.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/cairn-dev/cairn/state"
)

func init() {
	open := func(ctx context.Context, url string) (state.Store, error) { return Open(ctx, url) }
	state.RegisterBackend("postgres", open)
	state.RegisterBackend("postgresql", open)
}

// Dialect is the PostgreSQL dialect of state.SQLStore.
func Dialect() state.Dialect {
	return state.Dialect{Name: "postgres", Placeholder: func(n int) string { return fmt.Sprintf("$%d", n) }, Migrations: state.Migrations("BIGINT", "BYTEA")}
}

// migrateLockKey serialises migrations (and schema creation) of concurrently
// starting processes; without it two fresh workers race on CREATE TABLE.
const migrateLockKey int64 = 0x636169726e6d6967 // "cairnmig"

// Store is the PostgreSQL state store. Every method retries transient
// serialization failures, so callers see the same semantics as SQLite.
type Store struct {
	*state.SQLStore
	pool   *pgxpool.Pool // SERIALIZABLE sessions, behind SQLStore
	url    string
	schema string

	plainMu sync.Mutex
	plain   *pgxpool.Pool // default isolation, for River and raw queries
}

// ParseConfig parses a state URL into a pool config with cairn's session
// settings (SERIALIZABLE transactions). Errors never include the password.
func ParseConfig(url string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx errors can quote the URL; print only the redacted form.
		return nil, fmt.Errorf("state: invalid PostgreSQL URL %s: %s", state.RedactURL(url), redactErr(err, url))
	}
	cfg.ConnConfig.RuntimeParams["default_transaction_isolation"] = "serializable"
	if !strings.Contains(url, "pool_max_conns") {
		// pgx's default (max(4, CPUs)) starves a worker running many jobs.
		cfg.MaxConns = 10
	}
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "cairn"
	}
	return cfg, nil
}

func redactErr(err error, url string) string {
	msg := err.Error()
	if _, rest, ok := strings.Cut(url, "://"); ok {
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if _, pw, ok := strings.Cut(rest[:at], ":"); ok && pw != "" {
				msg = strings.ReplaceAll(msg, pw, "xxxxx")
			}
		}
	}
	return msg
}

// Open connects, creates the search_path schema if it is missing, and runs
// pending migrations.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := ParseConfig(url)
	if err != nil {
		return nil, err
	}
	where := state.RedactURL(url)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("state: connect %s: %s", where, redactErr(err, url))
	}
	s := &Store{pool: pool, url: url, schema: firstSchema(cfg.ConnConfig.RuntimeParams["search_path"])}
	if err := s.init(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("state: %s: %s", where, redactErr(err, url))
	}
	return s, nil
}

func firstSchema(searchPath string) string {
	first, _, _ := strings.Cut(searchPath, ",")
	first = strings.Trim(strings.TrimSpace(first), `"`)
	if first == "$user" {
		return ""
	}
	return first
}

func (s *Store) init(ctx context.Context) error {
	return WithMigrationLock(ctx, s.pool, func() error {
		if s.schema != "" {
			if _, err := s.pool.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{s.schema}.Sanitize()); err != nil {
				return fmt.Errorf("create schema %q: %w", s.schema, err)
			}
		}
		db := stdlib.OpenDBFromPool(s.pool)
		sqs, err := state.NewSQLStore(ctx, db, Dialect())
		if err != nil {
			db.Close()
			return err
		}
		s.SQLStore = sqs
		return nil
	})
}

// WithMigrationLock runs fn holding the session advisory lock that
// serialises cairn's migrations (state and River) across processes.
func WithMigrationLock(ctx context.Context, pool *pgxpool.Pool, fn func() error) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrateLockKey); err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	// Unlock on the same session; a dying process loses it with its connection.
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrateLockKey)
	return fn()
}

// Pool is a connection pool with the server's default isolation (READ
// COMMITTED) on the same database and search_path, for River, the leader
// elector and ad-hoc queries: River's queue queries are built for it, and
// under SERIALIZABLE they would fail with serialization errors. It is
// opened on first use and closed with the store.
func (s *Store) Pool() *pgxpool.Pool {
	s.plainMu.Lock()
	defer s.plainMu.Unlock()
	if s.plain == nil {
		cfg := s.pool.Config()
		delete(cfg.ConnConfig.RuntimeParams, "default_transaction_isolation")
		p, err := pgxpool.NewWithConfig(context.Background(), cfg)
		if err != nil {
			// NewWithConfig only fails on an invalid config, which this one is not.
			panic(fmt.Sprintf("postgres: plain pool: %v", err))
		}
		s.plain = p
	}
	return s.plain
}

// Schema is the schema from the URL's search_path ("" = the server default).
func (s *Store) Schema() string { return s.schema }

// URL is the state URL the store was opened with.
func (s *Store) URL() string { return s.url }

// Close closes the database handle and the pool.
func (s *Store) Close() error {
	err := s.SQLStore.Close()
	s.pool.Close()
	s.plainMu.Lock()
	if s.plain != nil {
		s.plain.Close()
	}
	s.plainMu.Unlock()
	return err
}

// SchemaVersion is the applied migration version.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	return retry(ctx, func() (int, error) { return s.SQLStore.SchemaVersion(ctx) })
}

// maxAttempts bounds retries of one call under contention.
const maxAttempts = 30

// Retryable reports whether err is a transient conflict between concurrent
// transactions: a serialization failure, a deadlock, or a unique violation
// from a check-then-insert that lost a race (on retry the check sees the
// winner's row and answers as SQLite would).
func Retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "40001", "40P01", "23505":
			return true
		}
	}
	return errors.Is(err, pgx.ErrTxCommitRollback)
}

func retry[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	backoff := time.Millisecond
	for attempt := 1; ; attempt++ {
		v, err := fn()
		if err == nil || !Retryable(err) || attempt == maxAttempts {
			return v, err
		}
		// Jitter so that the losers of one conflict do not collide again.
		d := backoff/2 + time.Duration(rand.Int64N(int64(backoff)))
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(d):
		}
		backoff = min(backoff*2, 100*time.Millisecond)
	}
}

func retry0(ctx context.Context, fn func() error) error {
	_, err := retry(ctx, func() (struct{}, error) { return struct{}{}, fn() })
	return err
}

// Update runs fn in one SERIALIZABLE transaction, re-running it (from the
// start, in a fresh transaction) when it loses a serialization conflict; fn
// should therefore only have effects through tx.
func (s *Store) Update(ctx context.Context, fn func(tx state.Ops) error) error {
	return retry0(ctx, func() error { return s.SQLStore.Update(ctx, fn) })
}

func (s *Store) AcquireLock(ctx context.Context, name string, h state.LockHolder) (state.LockHolder, bool, error) {
	type res struct {
		h  state.LockHolder
		ok bool
	}
	r, err := retry(ctx, func() (res, error) {
		h, ok, err := s.SQLStore.AcquireLock(ctx, name, h)
		return res{h, ok}, err
	})
	return r.h, r.ok, err
}

func (s *Store) ReleaseLock(ctx context.Context, name, holderID string) (bool, error) {
	return retry(ctx, func() (bool, error) { return s.SQLStore.ReleaseLock(ctx, name, holderID) })
}

func (s *Store) RegisterModelVersion(ctx context.Context, mv state.ModelVersion) (bool, error) {
	return retry(ctx, func() (bool, error) { return s.SQLStore.RegisterModelVersion(ctx, mv) })
}

func (s *Store) GetModelVersion(ctx context.Context, model, version string) (*state.ModelVersion, error) {
	return retry(ctx, func() (*state.ModelVersion, error) { return s.SQLStore.GetModelVersion(ctx, model, version) })
}

func (s *Store) ListModelVersions(ctx context.Context, model string) ([]state.ModelVersion, error) {
	return retry(ctx, func() ([]state.ModelVersion, error) { return s.SQLStore.ListModelVersions(ctx, model) })
}

func (s *Store) RegisterPromptVersion(ctx context.Context, pv state.PromptVersion) (bool, error) {
	return retry(ctx, func() (bool, error) { return s.SQLStore.RegisterPromptVersion(ctx, pv) })
}

func (s *Store) GetPromptVersion(ctx context.Context, prompt, version string) (*state.PromptVersion, error) {
	return retry(ctx, func() (*state.PromptVersion, error) { return s.SQLStore.GetPromptVersion(ctx, prompt, version) })
}

func (s *Store) ListPromptVersions(ctx context.Context, prompt string) ([]state.PromptVersion, error) {
	return retry(ctx, func() ([]state.PromptVersion, error) { return s.SQLStore.ListPromptVersions(ctx, prompt) })
}

func (s *Store) GetPointer(ctx context.Context, object, name string) (string, bool, error) {
	type res struct {
		v  string
		ok bool
	}
	r, err := retry(ctx, func() (res, error) {
		v, ok, err := s.SQLStore.GetPointer(ctx, object, name)
		return res{v, ok}, err
	})
	return r.v, r.ok, err
}

func (s *Store) SetPointer(ctx context.Context, object, name, from, to string) error {
	return retry0(ctx, func() error { return s.SQLStore.SetPointer(ctx, object, name, from, to) })
}

func (s *Store) ListPointers(ctx context.Context, prefix string) ([]state.Pointer, error) {
	return retry(ctx, func() ([]state.Pointer, error) { return s.SQLStore.ListPointers(ctx, prefix) })
}

func (s *Store) RecordEvalRun(ctx context.Context, run state.EvalRun) (int64, error) {
	return retry(ctx, func() (int64, error) { return s.SQLStore.RecordEvalRun(ctx, run) })
}

func (s *Store) GetEvalRun(ctx context.Context, id int64) (*state.EvalRun, error) {
	return retry(ctx, func() (*state.EvalRun, error) { return s.SQLStore.GetEvalRun(ctx, id) })
}

func (s *Store) LatestEvalRun(ctx context.Context, eval, subjectHash, evalHash string) (*state.EvalRun, bool, error) {
	type res struct {
		r  *state.EvalRun
		ok bool
	}
	r, err := retry(ctx, func() (res, error) {
		run, ok, err := s.SQLStore.LatestEvalRun(ctx, eval, subjectHash, evalHash)
		return res{run, ok}, err
	})
	return r.r, r.ok, err
}

func (s *Store) ListEvalRuns(ctx context.Context, eval string) ([]state.EvalRun, error) {
	return retry(ctx, func() ([]state.EvalRun, error) { return s.SQLStore.ListEvalRuns(ctx, eval) })
}

func (s *Store) SetRenderedHash(ctx context.Context, path, hash string) error {
	return retry0(ctx, func() error { return s.SQLStore.SetRenderedHash(ctx, path, hash) })
}

func (s *Store) RenderedHashes(ctx context.Context) (map[string]string, error) {
	return retry(ctx, func() (map[string]string, error) { return s.SQLStore.RenderedHashes(ctx) })
}

func (s *Store) PutRecord(ctx context.Context, kind, key string, value []byte) error {
	return retry0(ctx, func() error { return s.SQLStore.PutRecord(ctx, kind, key, value) })
}

func (s *Store) GetRecord(ctx context.Context, kind, key string) ([]byte, bool, error) {
	type res struct {
		v  []byte
		ok bool
	}
	r, err := retry(ctx, func() (res, error) {
		v, ok, err := s.SQLStore.GetRecord(ctx, kind, key)
		return res{v, ok}, err
	})
	return r.v, r.ok, err
}

func (s *Store) ListRecords(ctx context.Context, kind, prefix string) (map[string][]byte, error) {
	return retry(ctx, func() (map[string][]byte, error) { return s.SQLStore.ListRecords(ctx, kind, prefix) })
}

func (s *Store) DeleteRecord(ctx context.Context, kind, key string) error {
	return retry0(ctx, func() error { return s.SQLStore.DeleteRecord(ctx, kind, key) })
}

func (s *Store) DeleteRecords(ctx context.Context, kind, prefix string) error {
	return retry0(ctx, func() error { return s.SQLStore.DeleteRecords(ctx, kind, prefix) })
}

func (s *Store) PutRecordOnce(ctx context.Context, kind, key string, value []byte) (bool, error) {
	return retry(ctx, func() (bool, error) { return s.SQLStore.PutRecordOnce(ctx, kind, key, value) })
}

func (s *Store) AppendAudit(ctx context.Context, e state.AuditEntry) (state.AuditEntry, error) {
	return retry(ctx, func() (state.AuditEntry, error) { return s.SQLStore.AppendAudit(ctx, e) })
}

// ScanAudit is not retried: fn has seen rows by the time a read could fail.
func (s *Store) ScanAudit(ctx context.Context, q state.AuditQuery, fn func(state.AuditEntry) error) error {
	return s.SQLStore.ScanAudit(ctx, q, fn)
}

func (s *Store) AuditHead(ctx context.Context) (state.AuditEntry, bool, error) {
	type head struct {
		e  state.AuditEntry
		ok bool
	}
	h, err := retry(ctx, func() (head, error) {
		e, ok, err := s.SQLStore.AuditHead(ctx)
		return head{e, ok}, err
	})
	return h.e, h.ok, err
}

func (s *Store) ListAudit(ctx context.Context) ([]state.AuditEntry, error) {
	return retry(ctx, func() ([]state.AuditEntry, error) { return s.SQLStore.ListAudit(ctx) })
}

// DB exposes the database/sql handle (tests tamper with the audit log through it).
func (s *Store) DB() *sql.DB { return s.SQLStore.DB() }

var _ state.Store = (*Store)(nil)
