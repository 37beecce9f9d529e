package state

import "strings"

// migrations is the one schema both backends use: append only (migration i
// is version i+1). The types are the portable subset (TEXT, INTEGER) plus
// two the dialects spell differently, written {{ID}} (a 64-bit key: SQLite
// INTEGER, PostgreSQL BIGINT) and {{BLOB}} (SQLite BLOB, PostgreSQL BYTEA).
var migrations = []string{
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
		id {{ID}} PRIMARY KEY, eval TEXT NOT NULL, eval_hash TEXT NOT NULL,
		target TEXT NOT NULL, target_version TEXT NOT NULL, subject_hash TEXT NOT NULL,
		passed INTEGER NOT NULL, metrics TEXT NOT NULL, summary TEXT NOT NULL,
		started_at TEXT NOT NULL, finished_at TEXT NOT NULL);
	CREATE INDEX eval_runs_subject ON eval_runs (eval, subject_hash, eval_hash);
	CREATE TABLE eval_cases (
		run_id {{ID}} NOT NULL REFERENCES eval_runs (id), idx INTEGER NOT NULL,
		case_id TEXT NOT NULL, status TEXT NOT NULL, scores TEXT NOT NULL,
		output TEXT NOT NULL, error TEXT NOT NULL,
		PRIMARY KEY (run_id, idx));
	CREATE TABLE rendered (path TEXT PRIMARY KEY, hash TEXT NOT NULL);
	CREATE TABLE records (
		kind TEXT NOT NULL, rkey TEXT NOT NULL, value {{BLOB}} NOT NULL,
		PRIMARY KEY (kind, rkey));
	CREATE TABLE locks (
		name TEXT PRIMARY KEY, holder_id TEXT NOT NULL, actor TEXT NOT NULL,
		host TEXT NOT NULL, pid INTEGER NOT NULL, since TEXT NOT NULL);
	CREATE TABLE audit_log (
		seq {{ID}} PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, git_commit TEXT NOT NULL,
		action TEXT NOT NULL, object TEXT NOT NULL, before_doc TEXT NOT NULL, after_doc TEXT NOT NULL,
		prev_hash TEXT NOT NULL, hash TEXT NOT NULL UNIQUE)`,
	// 2: audit reads by object and action, without reading the log.
	`CREATE INDEX audit_object ON audit_log (object, action, seq);
	CREATE INDEX audit_action ON audit_log (action, seq)`,
	// 3: the training trigger that produced a model version (lineage).
	`ALTER TABLE model_versions ADD COLUMN trigger_id TEXT NOT NULL DEFAULT ''`,
	// 4: what answered an eval run (provider model ids, fingerprints, RAG snapshots).
	`ALTER TABLE eval_runs ADD COLUMN provenance TEXT NOT NULL DEFAULT ''`,
	// 5: the training run behind a model version (parameters, data inputs, repository, cost).
	`ALTER TABLE model_versions ADD COLUMN training_run TEXT NOT NULL DEFAULT ''`,
}

// Migrations returns the schema's migrations in a dialect's types: the
// spelling of a 64-bit integer key and of a byte string.
func Migrations(id, blob string) []string {
	r := strings.NewReplacer("{{ID}}", id, "{{BLOB}}", blob)
	out := make([]string, len(migrations))
	for i, m := range migrations {
		out[i] = r.Replace(m)
	}
	return out
}
