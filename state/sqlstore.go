package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Dialect adapts the portable SQL of SQLStore to one database.
type Dialect struct {
	Name string
	// Placeholder returns the n-th (1-based) bind parameter: "?" or "$n".
	Placeholder func(n int) string
	// Migrations are applied in order; migration i has version i+1. Append,
	// never edit: a database records the versions it has applied.
	Migrations []string
}

// SQLStore implements Store over database/sql with portable SQL (standard
// types, ON CONFLICT upserts), so a backend is a Dialect plus a *sql.DB.
type SQLStore struct {
	db *sql.DB
	d  Dialect
	ops
}

// NewSQLStore runs pending migrations and returns the store.
func NewSQLStore(ctx context.Context, db *sql.DB, d Dialect) (*SQLStore, error) {
	s := &SQLStore{db: db, d: d}
	s.ops = ops{q: db, s: s}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// DB exposes the handle (tests use it to tamper with the audit log).
func (s *SQLStore) DB() *sql.DB { return s.db }

func (s *SQLStore) Close() error { return s.db.Close() }

func (s *SQLStore) rebind(q string) string {
	if s.d.Placeholder == nil {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString(s.d.Placeholder(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (s *SQLStore) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)`); err != nil {
		return fmt.Errorf("state: create schema_migrations: %w", err)
	}
	cur, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if cur > len(s.d.Migrations) {
		return fmt.Errorf("state: schema version %d is newer than this cairn supports (%d); upgrade cairn", cur, len(s.d.Migrations))
	}
	for i := cur; i < len(s.d.Migrations); i++ {
		v := i + 1
		err := s.Update(ctx, func(o Ops) error {
			tx := o.(ops).q
			// Another process may have migrated meanwhile: re-check inside the write transaction.
			var n int
			if err := tx.QueryRowContext(ctx, s.rebind(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), v).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			for _, stmt := range splitSQL(s.d.Migrations[i]) {
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("%w\n%s", err, stmt)
				}
			}
			_, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO schema_migrations (version) VALUES (?)`), v)
			return err
		})
		if err != nil {
			return fmt.Errorf("state: migration %d: %w", v, err)
		}
	}
	return nil
}

func splitSQL(m string) []string {
	var out []string
	for _, st := range strings.Split(m, ";") {
		if strings.TrimSpace(st) != "" {
			out = append(out, st)
		}
	}
	return out
}

func (s *SQLStore) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("state: schema version: %w", err)
	}
	return int(v.Int64), nil
}

// Update runs fn in one transaction.
func (s *SQLStore) Update(ctx context.Context, fn func(tx Ops) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("state: begin: %w", err)
	}
	o := ops{q: tx, s: s, inTx: true}
	if err := fn(o); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("state: commit: %w", err)
	}
	return nil
}

func (s *SQLStore) AcquireLock(ctx context.Context, name string, h LockHolder) (LockHolder, bool, error) {
	var cur LockHolder
	acquired := false
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return cur, false, fmt.Errorf("state: lock %s: %w", name, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO locks (name, holder_id, actor, host, pid, since) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`),
		name, h.ID, h.Actor, h.Host, h.PID, FormatTime(h.Since))
	if err != nil {
		return cur, false, fmt.Errorf("state: lock %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		acquired = true
		cur = h
	} else {
		var since string
		if err := tx.QueryRowContext(ctx, s.rebind(`SELECT holder_id, actor, host, pid, since FROM locks WHERE name = ?`), name).
			Scan(&cur.ID, &cur.Actor, &cur.Host, &cur.PID, &since); err != nil {
			return cur, false, fmt.Errorf("state: lock %s: %w", name, err)
		}
		cur.Since, _ = ParseTime(since)
	}
	if err := tx.Commit(); err != nil {
		return LockHolder{}, false, fmt.Errorf("state: lock %s: %w", name, err)
	}
	return cur, acquired, nil
}

func (s *SQLStore) ReleaseLock(ctx context.Context, name, holderID string) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.rebind(`DELETE FROM locks WHERE name = ? AND holder_id = ?`), name, holderID)
	if err != nil {
		return false, fmt.Errorf("state: unlock %s: %w", name, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

type ops struct {
	q    querier
	s    *SQLStore
	inTx bool
}

// atomic runs fn in a transaction: the current one inside Update, else a new one.
func (o ops) atomic(ctx context.Context, fn func(o ops) error) error {
	if o.inTx {
		return fn(o)
	}
	return o.s.Update(ctx, func(tx Ops) error { return fn(tx.(ops)) })
}

func (o ops) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return o.q.ExecContext(ctx, o.s.rebind(q), args...)
}

func (o ops) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return o.q.QueryContext(ctx, o.s.rebind(q), args...)
}

func (o ops) row(ctx context.Context, q string, args ...any) *sql.Row {
	return o.q.QueryRowContext(ctx, o.s.rebind(q), args...)
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain data types are marshalled here
	}
	return string(b)
}

// ---- model versions

func (o ops) RegisterModelVersion(ctx context.Context, mv ModelVersion) (bool, error) {
	if mv.Model == "" || mv.Version == "" {
		return false, fmt.Errorf("state: model version needs a model and a version (got %q@%q)", mv.Model, mv.Version)
	}
	if mv.Metrics == nil {
		mv.Metrics = map[string]float64{}
	}
	if mv.Features == nil {
		mv.Features = []string{}
	}
	created := false
	err := o.atomic(ctx, func(o ops) error {
		old, err := o.GetModelVersion(ctx, mv.Model, mv.Version)
		if err == nil {
			if old.ContentHash() != mv.ContentHash() {
				return &ConflictError{Object: "models/" + mv.Model + "@" + mv.Version,
					Detail: fmt.Sprintf("version %s is already registered with different content (%s, registering %s); versions are immutable: register a new version", mv.Version, diffModel(*old, mv), mv.ContentHash())}
			}
			return nil
		}
		if !errors.Is(err, ErrNotFound) {
			return err
		}
		run := ""
		if r := mv.normRun(); r != nil {
			run = mustJSON(r)
		}
		_, err = o.exec(ctx, `INSERT INTO model_versions (model, version, artifact_uri, metrics, data_snapshot, features, git_commit, content_hash, registered_at, registered_by, trigger_id, training_run) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			mv.Model, mv.Version, mv.ArtifactURI, mustJSON(mv.Metrics), mv.DataSnapshot, mustJSON(mv.Features), mv.Commit, mv.ContentHash(), FormatTime(mv.RegisteredAt), mv.RegisteredBy, mv.TriggerID, run)
		if err != nil {
			return fmt.Errorf("state: register models/%s@%s: %w", mv.Model, mv.Version, err)
		}
		created = true
		return nil
	})
	return created, err
}

func diffModel(a, b ModelVersion) string {
	var d []string
	if a.ArtifactURI != b.ArtifactURI {
		d = append(d, fmt.Sprintf("artifact %q vs %q", a.ArtifactURI, b.ArtifactURI))
	}
	if mustJSON(a.Metrics) != mustJSON(b.Metrics) {
		d = append(d, fmt.Sprintf("metrics %s vs %s", mustJSON(a.Metrics), mustJSON(b.Metrics)))
	}
	if a.DataSnapshot != b.DataSnapshot {
		d = append(d, fmt.Sprintf("data snapshot %q vs %q", a.DataSnapshot, b.DataSnapshot))
	}
	fa, fb := append([]string(nil), a.Features...), append([]string(nil), b.Features...)
	sort.Strings(fa)
	sort.Strings(fb)
	if mustJSON(fa) != mustJSON(fb) {
		d = append(d, fmt.Sprintf("features %v vs %v", fa, fb))
	}
	if a.Commit != b.Commit {
		d = append(d, fmt.Sprintf("commit %q vs %q", a.Commit, b.Commit))
	}
	if a.TriggerID != b.TriggerID {
		d = append(d, fmt.Sprintf("trigger %q vs %q", a.TriggerID, b.TriggerID))
	}
	if ra, rb := mustJSON(a.normRun()), mustJSON(b.normRun()); ra != rb {
		d = append(d, fmt.Sprintf("training run %s vs %s", ra, rb))
	}
	return "registered " + a.ContentHash() + ": " + strings.Join(d, ", ")
}

const modelCols = `model, version, artifact_uri, metrics, data_snapshot, features, git_commit, registered_at, registered_by, trigger_id, training_run`

func scanModel(sc interface{ Scan(...any) error }) (ModelVersion, error) {
	var mv ModelVersion
	var metrics, feats, at, run string
	if err := sc.Scan(&mv.Model, &mv.Version, &mv.ArtifactURI, &metrics, &mv.DataSnapshot, &feats, &mv.Commit, &at, &mv.RegisteredBy, &mv.TriggerID, &run); err != nil {
		return mv, err
	}
	if run != "" {
		if err := json.Unmarshal([]byte(run), &mv.Run); err != nil {
			return mv, fmt.Errorf("state: models/%s@%s training run: %w", mv.Model, mv.Version, err)
		}
	}
	if err := json.Unmarshal([]byte(metrics), &mv.Metrics); err != nil {
		return mv, fmt.Errorf("state: models/%s@%s metrics: %w", mv.Model, mv.Version, err)
	}
	if err := json.Unmarshal([]byte(feats), &mv.Features); err != nil {
		return mv, fmt.Errorf("state: models/%s@%s features: %w", mv.Model, mv.Version, err)
	}
	var err error
	mv.RegisteredAt, err = ParseTime(at)
	return mv, err
}

func (o ops) GetModelVersion(ctx context.Context, model, version string) (*ModelVersion, error) {
	mv, err := scanModel(o.row(ctx, `SELECT `+modelCols+` FROM model_versions WHERE model = ? AND version = ?`, model, version))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("models/%s version %s: %w", model, version, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("state: get models/%s@%s: %w", model, version, err)
	}
	return &mv, nil
}

func (o ops) ListModelVersions(ctx context.Context, model string) ([]ModelVersion, error) {
	rows, err := o.query(ctx, `SELECT `+modelCols+` FROM model_versions WHERE ? = '' OR model = ?`, model, model)
	if err != nil {
		return nil, fmt.Errorf("state: list model versions: %w", err)
	}
	defer rows.Close()
	var out []ModelVersion
	for rows.Next() {
		mv, err := scanModel(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, mv)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Model != out[j].Model {
			return out[i].Model < out[j].Model
		}
		return VersionLess(out[i].Version, out[j].Version)
	})
	return out, rows.Err()
}

// ---- prompt versions

func (o ops) RegisterPromptVersion(ctx context.Context, pv PromptVersion) (bool, error) {
	if pv.Prompt == "" || pv.Version == "" || pv.ContentHash == "" {
		return false, fmt.Errorf("state: prompt version needs a prompt, a version and a content hash (got %q@%q %q)", pv.Prompt, pv.Version, pv.ContentHash)
	}
	if pv.Inputs == nil {
		pv.Inputs = []string{}
	}
	created := false
	err := o.atomic(ctx, func(o ops) error {
		old, err := o.GetPromptVersion(ctx, pv.Prompt, pv.Version)
		if err == nil {
			if old.ContentHash != pv.ContentHash {
				return &ConflictError{Object: "prompts/" + pv.Prompt + "@" + pv.Version,
					Detail: fmt.Sprintf("version %s is already registered with content %s; this content is %s: bump the version", pv.Version, old.ContentHash, pv.ContentHash)}
			}
			return nil
		}
		if !errors.Is(err, ErrNotFound) {
			return err
		}
		_, err = o.exec(ctx, `INSERT INTO prompt_versions (prompt, version, content_hash, template, messages, model, inputs, registered_at, registered_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			pv.Prompt, pv.Version, pv.ContentHash, pv.Template, mustJSON(pv.Messages), mustJSON(pv.Model), mustJSON(pv.Inputs), FormatTime(pv.RegisteredAt), pv.RegisteredBy)
		if err != nil {
			return fmt.Errorf("state: register prompts/%s@%s: %w", pv.Prompt, pv.Version, err)
		}
		created = true
		return nil
	})
	return created, err
}

const promptCols = `prompt, version, content_hash, template, messages, model, inputs, registered_at, registered_by`

func scanPrompt(sc interface{ Scan(...any) error }) (PromptVersion, error) {
	var pv PromptVersion
	var msgs, model, inputs, at string
	if err := sc.Scan(&pv.Prompt, &pv.Version, &pv.ContentHash, &pv.Template, &msgs, &model, &inputs, &at, &pv.RegisteredBy); err != nil {
		return pv, err
	}
	for _, f := range []struct {
		s string
		v any
	}{{msgs, &pv.Messages}, {model, &pv.Model}, {inputs, &pv.Inputs}} {
		if err := json.Unmarshal([]byte(f.s), f.v); err != nil {
			return pv, fmt.Errorf("state: prompts/%s@%s: %w", pv.Prompt, pv.Version, err)
		}
	}
	var err error
	pv.RegisteredAt, err = ParseTime(at)
	return pv, err
}

func (o ops) GetPromptVersion(ctx context.Context, prompt, version string) (*PromptVersion, error) {
	pv, err := scanPrompt(o.row(ctx, `SELECT `+promptCols+` FROM prompt_versions WHERE prompt = ? AND version = ?`, prompt, version))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("prompts/%s version %s: %w", prompt, version, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("state: get prompts/%s@%s: %w", prompt, version, err)
	}
	return &pv, nil
}

func (o ops) ListPromptVersions(ctx context.Context, prompt string) ([]PromptVersion, error) {
	rows, err := o.query(ctx, `SELECT `+promptCols+` FROM prompt_versions WHERE ? = '' OR prompt = ?`, prompt, prompt)
	if err != nil {
		return nil, fmt.Errorf("state: list prompt versions: %w", err)
	}
	defer rows.Close()
	var out []PromptVersion
	for rows.Next() {
		pv, err := scanPrompt(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, pv)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Prompt != out[j].Prompt {
			return out[i].Prompt < out[j].Prompt
		}
		return VersionLess(out[i].Version, out[j].Version)
	})
	return out, rows.Err()
}

// VersionLess orders versions numerically where they are dotted numbers
// ("2" < "10", "1.9.0" < "1.10.0"), else as strings.
func VersionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		na, ea := strconv.Atoi(pa[i])
		nb, eb := strconv.Atoi(pb[i])
		if ea == nil && eb == nil {
			if na != nb {
				return na < nb
			}
			continue
		}
		if pa[i] != pb[i] {
			return pa[i] < pb[i]
		}
	}
	if len(pa) != len(pb) {
		return len(pa) < len(pb)
	}
	return a < b
}

// ---- pointers

func (o ops) GetPointer(ctx context.Context, object, name string) (string, bool, error) {
	var v string
	err := o.row(ctx, `SELECT version FROM pointers WHERE object = ? AND name = ?`, object, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("state: get %s.%s: %w", object, name, err)
	}
	return v, true, nil
}

func (o ops) SetPointer(ctx context.Context, object, name, from, to string) error {
	return o.atomic(ctx, func(o ops) error {
		cur, _, err := o.GetPointer(ctx, object, name)
		if err != nil {
			return err
		}
		if cur != from {
			return &ConflictError{Object: object + "." + name, Detail: fmt.Sprintf("points at %q, expected %q (changed concurrently)", cur, from)}
		}
		switch {
		case to == "":
			_, err = o.exec(ctx, `DELETE FROM pointers WHERE object = ? AND name = ?`, object, name)
		case from == "":
			_, err = o.exec(ctx, `INSERT INTO pointers (object, name, version) VALUES (?, ?, ?)`, object, name, to)
		default:
			_, err = o.exec(ctx, `UPDATE pointers SET version = ? WHERE object = ? AND name = ?`, to, object, name)
		}
		if err != nil {
			return fmt.Errorf("state: set %s.%s: %w", object, name, err)
		}
		return nil
	})
}

func (o ops) ListPointers(ctx context.Context, prefix string) ([]Pointer, error) {
	rows, err := o.query(ctx, `SELECT object, name, version FROM pointers ORDER BY object, name`)
	if err != nil {
		return nil, fmt.Errorf("state: list pointers: %w", err)
	}
	defer rows.Close()
	var out []Pointer
	for rows.Next() {
		var p Pointer
		if err := rows.Scan(&p.Object, &p.Name, &p.Version); err != nil {
			return nil, err
		}
		if strings.HasPrefix(p.Object, prefix) {
			out = append(out, p)
		}
	}
	return out, rows.Err()
}

// ---- eval runs

func (o ops) RecordEvalRun(ctx context.Context, run EvalRun) (int64, error) {
	if run.Eval == "" || run.SubjectHash == "" {
		return 0, fmt.Errorf("state: eval run needs an eval and a subject hash")
	}
	if run.Metrics == nil {
		run.Metrics = map[string]float64{}
	}
	var id int64
	err := o.atomic(ctx, func(o ops) error {
		var max sql.NullInt64
		if err := o.row(ctx, `SELECT MAX(id) FROM eval_runs`).Scan(&max); err != nil {
			return fmt.Errorf("state: record eval run: %w", err)
		}
		id = max.Int64 + 1
		passed := 0
		if run.Passed {
			passed = 1
		}
		prov := ""
		if len(run.Answered) > 0 || len(run.RAGSnapshots) > 0 || run.Tokens > 0 || run.CostUSD > 0 {
			prov = mustJSON(provenance{run.Answered, run.RAGSnapshots, run.Tokens, run.CostUSD})
		}
		if _, err := o.exec(ctx, `INSERT INTO eval_runs (id, eval, eval_hash, target, target_version, subject_hash, passed, metrics, summary, started_at, finished_at, provenance) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			id, run.Eval, run.EvalHash, run.Target, run.TargetVersion, run.SubjectHash, passed, mustJSON(run.Metrics), run.Summary, FormatTime(run.StartedAt), FormatTime(run.FinishedAt), prov); err != nil {
			return fmt.Errorf("state: record eval run: %w", err)
		}
		for i, c := range run.Cases {
			if _, err := o.exec(ctx, `INSERT INTO eval_cases (run_id, idx, case_id, status, scores, output, error) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				id, i, c.CaseID, c.Status, mustJSON(c.Scores), c.Output, c.Error); err != nil {
				return fmt.Errorf("state: record eval case %s: %w", c.CaseID, err)
			}
		}
		return nil
	})
	return id, err
}

const runCols = `id, eval, eval_hash, target, target_version, subject_hash, passed, metrics, summary, started_at, finished_at, provenance`

// provenance is the eval_runs.provenance column ("" when nothing was reported).
type provenance struct {
	Answered     []Answered `json:"answered,omitempty"`
	RAGSnapshots []string   `json:"rag_snapshots,omitempty"`
	Tokens       int        `json:"tokens,omitempty"`
	CostUSD      float64    `json:"cost_usd,omitempty"`
}

func scanRun(sc interface{ Scan(...any) error }) (EvalRun, error) {
	var r EvalRun
	var passed int
	var metrics, st, fin, prov string
	if err := sc.Scan(&r.ID, &r.Eval, &r.EvalHash, &r.Target, &r.TargetVersion, &r.SubjectHash, &passed, &metrics, &r.Summary, &st, &fin, &prov); err != nil {
		return r, err
	}
	if prov != "" {
		var p provenance
		if err := json.Unmarshal([]byte(prov), &p); err != nil {
			return r, fmt.Errorf("state: eval run %d provenance: %w", r.ID, err)
		}
		r.Answered, r.RAGSnapshots, r.Tokens, r.CostUSD = p.Answered, p.RAGSnapshots, p.Tokens, p.CostUSD
	}
	r.Passed = passed != 0
	if err := json.Unmarshal([]byte(metrics), &r.Metrics); err != nil {
		return r, fmt.Errorf("state: eval run %d metrics: %w", r.ID, err)
	}
	var err error
	if r.StartedAt, err = ParseTime(st); err != nil {
		return r, err
	}
	r.FinishedAt, err = ParseTime(fin)
	return r, err
}

func (o ops) GetEvalRun(ctx context.Context, id int64) (*EvalRun, error) {
	r, err := scanRun(o.row(ctx, `SELECT `+runCols+` FROM eval_runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("eval run %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("state: get eval run %d: %w", id, err)
	}
	rows, err := o.query(ctx, `SELECT case_id, status, scores, output, error FROM eval_cases WHERE run_id = ? ORDER BY idx`, id)
	if err != nil {
		return nil, fmt.Errorf("state: eval run %d cases: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var c CaseResult
		var scores string
		if err := rows.Scan(&c.CaseID, &c.Status, &scores, &c.Output, &c.Error); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(scores), &c.Scores); err != nil {
			return nil, fmt.Errorf("state: eval run %d case %s: %w", id, c.CaseID, err)
		}
		r.Cases = append(r.Cases, c)
	}
	return &r, rows.Err()
}

func (o ops) LatestEvalRun(ctx context.Context, eval, subjectHash, evalHash string) (*EvalRun, bool, error) {
	r, err := scanRun(o.row(ctx, `SELECT `+runCols+` FROM eval_runs WHERE eval = ? AND subject_hash = ? AND eval_hash = ? ORDER BY id DESC LIMIT 1`, eval, subjectHash, evalHash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("state: latest run of %s: %w", eval, err)
	}
	return &r, true, nil
}

func (o ops) ListEvalRuns(ctx context.Context, eval string) ([]EvalRun, error) {
	rows, err := o.query(ctx, `SELECT `+runCols+` FROM eval_runs WHERE ? = '' OR eval = ? ORDER BY id`, eval, eval)
	if err != nil {
		return nil, fmt.Errorf("state: list eval runs: %w", err)
	}
	defer rows.Close()
	var out []EvalRun
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ---- rendered targets

func (o ops) SetRenderedHash(ctx context.Context, path, hash string) error {
	var err error
	if hash == "" {
		_, err = o.exec(ctx, `DELETE FROM rendered WHERE path = ?`, path)
	} else {
		_, err = o.exec(ctx, `INSERT INTO rendered (path, hash) VALUES (?, ?) ON CONFLICT (path) DO UPDATE SET hash = excluded.hash`, path, hash)
	}
	if err != nil {
		return fmt.Errorf("state: rendered %s: %w", path, err)
	}
	return nil
}

func (o ops) RenderedHashes(ctx context.Context) (map[string]string, error) {
	rows, err := o.query(ctx, `SELECT path, hash FROM rendered`)
	if err != nil {
		return nil, fmt.Errorf("state: rendered hashes: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var p, h string
		if err := rows.Scan(&p, &h); err != nil {
			return nil, err
		}
		out[p] = h
	}
	return out, rows.Err()
}

// ---- generic records

func (o ops) PutRecord(ctx context.Context, kind, key string, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	if _, err := o.exec(ctx, `INSERT INTO records (kind, rkey, value) VALUES (?, ?, ?) ON CONFLICT (kind, rkey) DO UPDATE SET value = excluded.value`, kind, key, value); err != nil {
		return fmt.Errorf("state: put record %s/%s: %w", kind, key, err)
	}
	return nil
}

func (o ops) PutRecordOnce(ctx context.Context, kind, key string, value []byte) (bool, error) {
	if value == nil {
		value = []byte{}
	}
	res, err := o.exec(ctx, `INSERT INTO records (kind, rkey, value) VALUES (?, ?, ?) ON CONFLICT (kind, rkey) DO NOTHING`, kind, key, value)
	if err != nil {
		return false, fmt.Errorf("state: put record %s/%s: %w", kind, key, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (o ops) GetRecord(ctx context.Context, kind, key string) ([]byte, bool, error) {
	var v []byte
	err := o.row(ctx, `SELECT value FROM records WHERE kind = ? AND rkey = ?`, kind, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("state: get record %s/%s: %w", kind, key, err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, true, nil
}

func (o ops) ListRecords(ctx context.Context, kind, prefix string) (map[string][]byte, error) {
	// Prefix filtering happens here, not with LIKE, so keys containing % or _ behave.
	rows, err := o.query(ctx, `SELECT rkey, value FROM records WHERE kind = ?`, kind)
	if err != nil {
		return nil, fmt.Errorf("state: list records %s: %w", kind, err)
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var k string
		var v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		if strings.HasPrefix(k, prefix) {
			if v == nil {
				v = []byte{}
			}
			out[k] = v
		}
	}
	return out, rows.Err()
}

func (o ops) DeleteRecord(ctx context.Context, kind, key string) error {
	if _, err := o.exec(ctx, `DELETE FROM records WHERE kind = ? AND rkey = ?`, kind, key); err != nil {
		return fmt.Errorf("state: delete record %s/%s: %w", kind, key, err)
	}
	return nil
}

func (o ops) DeleteRecords(ctx context.Context, kind, prefix string) error {
	// substr, not LIKE, so that % and _ in the prefix are literal; both
	// databases count characters in substr and in the length passed.
	if _, err := o.exec(ctx, `DELETE FROM records WHERE kind = ? AND substr(rkey, 1, ?) = ?`, kind, utf8.RuneCountInString(prefix), prefix); err != nil {
		return fmt.Errorf("state: delete records %s/%s*: %w", kind, prefix, err)
	}
	return nil
}

// ---- audit log

func (o ops) AppendAudit(ctx context.Context, e AuditEntry) (AuditEntry, error) {
	err := o.atomic(ctx, func(o ops) error {
		var seq sql.NullInt64
		var prev, at sql.NullString
		err := o.row(ctx, `SELECT seq, hash, at FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&seq, &prev, &at)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("state: audit head: %w", err)
		}
		e.Seq = seq.Int64 + 1
		e.PrevHash = GenesisHash
		if prev.Valid {
			e.PrevHash = prev.String
		}
		e.Time = e.Time.UTC()
		if at.Valid {
			if head, err := ParseTime(at.String); err == nil && e.Time.Before(head) {
				return &TimeOrderError{Time: e.Time, Head: head, HeadSeq: seq.Int64}
			}
		}
		e.Hash = ChainHash(e, e.PrevHash)
		if _, err := o.exec(ctx, `INSERT INTO audit_log (seq, at, actor, git_commit, action, object, before_doc, after_doc, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.Seq, FormatTime(e.Time), e.Actor, e.Commit, e.Action, e.Object, e.Before, e.After, e.PrevHash, e.Hash); err != nil {
			return fmt.Errorf("state: append audit: %w", err)
		}
		return nil
	})
	return e, err
}

func (o ops) ScanAudit(ctx context.Context, q AuditQuery, fn func(AuditEntry) error) error {
	where, args := q.where()
	query := `SELECT seq, at, actor, git_commit, action, object, before_doc, after_doc, prev_hash, hash FROM audit_log` + where + ` ORDER BY seq`
	if q.Desc {
		query += " DESC"
	}
	if q.Limit > 0 && !q.timed() {
		query += fmt.Sprintf(" LIMIT %d", q.Limit)
	}
	rows, err := o.query(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("state: scan audit: %w", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var e AuditEntry
		var at string
		if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Commit, &e.Action, &e.Object, &e.Before, &e.After, &e.PrevHash, &e.Hash); err != nil {
			return err
		}
		e.Time, _ = ParseTime(at) // unparseable: the zero time, which fails verification
		if q.timed() && !q.inTime(e.Time) {
			continue
		}
		if err := fn(e); err != nil {
			return err
		}
		if n++; q.Limit > 0 && n >= q.Limit {
			break
		}
	}
	return rows.Err()
}

func (o ops) AuditHead(ctx context.Context) (AuditEntry, bool, error) {
	var head AuditEntry
	found := false
	err := o.ScanAudit(ctx, AuditQuery{Desc: true, Limit: 1}, func(e AuditEntry) error {
		head, found = e, true
		return nil
	})
	return head, found, err
}

func (o ops) ListAudit(ctx context.Context) ([]AuditEntry, error) {
	rows, err := o.query(ctx, `SELECT seq, at, actor, git_commit, action, object, before_doc, after_doc, prev_hash, hash FROM audit_log ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("state: list audit: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at string
		if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Commit, &e.Action, &e.Object, &e.Before, &e.After, &e.PrevHash, &e.Hash); err != nil {
			return nil, err
		}
		// An unparseable time is tampering; keep the raw text out of the hash path
		// by leaving the zero time, which then fails verification.
		e.Time, _ = ParseTime(at)
		out = append(out, e)
	}
	return out, rows.Err()
}
