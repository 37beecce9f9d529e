package state

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite" // pure-Go SQLite driver "sqlite"
)

// sqliteMigrations: append only. Types are the portable subset (TEXT,
// INTEGER, BLOB) so the PostgreSQL backend can mirror them (BLOB → BYTEA).
var sqliteMigrations = []string{
	// 1: registry, evals, rendered targets, records, locks, audit log.
	`CREATE TABLE model_versions (
		model TEXT NOT NULL, version TEXT NOT NULL,
		artifact_uri TEXT NOT NULL, metrics TEXT NOT NULL, data_snapshot TEXT NOT NULL,
		features TEXT NOT NULL, git_commit TEXT NOT NULL, content_hash TEXT NOT NULL,
		registered_at TEXT NOT NULL, registered_by TEXT NOT NULL,
		PRIMARY KEY (model, version));
	CREATE TABLE prompt_versions (
		prompt TEXT NOT NULL, version TEXT NOT NULL, content_hash TEXT NOT NULL,
		template TEXT NOT NULL, messages TEXT NOT NULL, model TEXT NOT NULL, inputs TEXT NOT NULL,
		registered_at TEXT NOT NULL, registered_by TEXT NOT NULL,
		PRIMARY KEY (prompt, version));
	CREATE TABLE pointers (
		object TEXT NOT NULL, name TEXT NOT NULL, version TEXT NOT NULL,
		PRIMARY KEY (object, name));
	CREATE TABLE eval_runs (
		id INTEGER PRIMARY KEY, eval TEXT NOT NULL, eval_hash TEXT NOT NULL,
		target TEXT NOT NULL, target_version TEXT NOT NULL, subject_hash TEXT NOT NULL,
		passed INTEGER NOT NULL, metrics TEXT NOT NULL, summary TEXT NOT NULL,
		started_at TEXT NOT NULL, finished_at TEXT NOT NULL);
	CREATE INDEX eval_runs_subject ON eval_runs (eval, subject_hash, eval_hash);
	CREATE TABLE eval_cases (
		run_id INTEGER NOT NULL REFERENCES eval_runs (id), idx INTEGER NOT NULL,
		case_id TEXT NOT NULL, status TEXT NOT NULL, scores TEXT NOT NULL,
		output TEXT NOT NULL, error TEXT NOT NULL,
		PRIMARY KEY (run_id, idx));
	CREATE TABLE rendered (path TEXT PRIMARY KEY, hash TEXT NOT NULL);
	CREATE TABLE records (
		kind TEXT NOT NULL, rkey TEXT NOT NULL, value BLOB NOT NULL,
		PRIMARY KEY (kind, rkey));
	CREATE TABLE locks (
		name TEXT PRIMARY KEY, holder_id TEXT NOT NULL, actor TEXT NOT NULL,
		host TEXT NOT NULL, pid INTEGER NOT NULL, since TEXT NOT NULL);
	CREATE TABLE audit_log (
		seq INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, git_commit TEXT NOT NULL,
		action TEXT NOT NULL, object TEXT NOT NULL, before_doc TEXT NOT NULL, after_doc TEXT NOT NULL,
		prev_hash TEXT NOT NULL, hash TEXT NOT NULL UNIQUE)`,
}

// SQLiteDialect is exported so tests can build stores with extra migrations.
func SQLiteDialect() Dialect {
	return Dialect{Name: "sqlite", Migrations: sqliteMigrations}
}

// OpenSQLite opens (creating it and its directory if needed) the SQLite state
// at path, in WAL mode with a busy timeout, and migrates it.
func OpenSQLite(ctx context.Context, path string) (*SQLStore, error) {
	return openSQLite(ctx, path, SQLiteDialect())
}

func openSQLite(ctx context.Context, path string, d Dialect) (*SQLStore, error) {
	if path == "" {
		return nil, fmt.Errorf("state: empty SQLite path")
	}
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("state: SQLite path %q may not contain '?' or '#'", path)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("state: create %s: %w", dir, err)
		}
	}
	// _txlock=immediate takes the write lock at BEGIN, so two writers queue on
	// the busy timeout instead of deadlocking on a read→write upgrade.
	dsn := "file:" + path + "?_txlock=immediate" +
		"&_pragma=busy_timeout(15000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("state: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("state: open %s: %w", path, err)
	}
	s, err := NewSQLStore(ctx, db, d)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("%w (state %s)", err, path)
	}
	return s, nil
}
