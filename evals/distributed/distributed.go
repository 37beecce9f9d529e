// Package distributed runs eval suites as River jobs on PostgreSQL: the
// enqueuer (RunSuite, used by `cairn eval`/`apply` with a postgres:// state)
// plans a suite, inserts one job per case and waits; any number of workers
// (`cairn worker`, Worker) execute the cases — provider calls, scoring and the
// result cache go through the shared state store — and the enqueuer then
// aggregates exactly as evals.RunSuite does.
//
// Exactly once: a case's result is written with PutRecordOnce under
// "<run>/<index>/<cache key>", and a worker first checks for it, so a job
// retried after a crash (its worker SIGKILLed after writing but before River
// marked the job completed) never records a second result.
//
// Crash recovery: every worker holds a PostgreSQL advisory lock for its
// lifetime (its liveness lock). Workers reap once a ReapInterval: a running
// job whose worker's lock is gone (the process died, its session closed) is
// made available again at once, instead of waiting for River's stuck-job
// rescuer (every 30 s, after RescueStuckJobsAfter), which stays as a backstop.
package distributed

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/evals"
	"github.com/cairn-dev/cairn/state"
	"github.com/cairn-dev/cairn/state/postgres"
)

// JobKind is the River job kind of one eval case.
const JobKind = "cairn_eval_case"

// Queue is the River queue eval cases go to.
const Queue = "cairn_evals"

// KindResult is the state record kind of distributed case results.
const KindResult = "eval.dist"

// CaseArgs is one job: a self-contained case plus the provider definitions it
// needs. API keys are not in it: workers read them from their own environment
// (each provider's api_key_env).
type CaseArgs struct {
	Run       string                        `json:"run"`
	Index     int                           `json:"index"`
	Case      evals.Case                    `json:"case"`
	Providers map[string]*compiler.Provider `json:"providers"`
	NoCache   bool                          `json:"no_cache,omitempty"`
	// Retry settings for network providers (evals.Options).
	MaxRetries    int   `json:"max_retries,omitempty"`
	BackoffBaseMS int64 `json:"backoff_base_ms,omitempty"`
}

func (CaseArgs) Kind() string { return JobKind }

// InsertOpts sends cases to their queue with a bounded number of attempts
// (a case's own failures are ERROR results, not job failures; only store
// failures make a job fail and retry).
func (CaseArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: 10}
}

// ResultKey is where a case's result is recorded: idempotent per run, case
// position and cache key.
func ResultKey(run string, index int, cacheKey string) string {
	return fmt.Sprintf("%s/%06d/%s", run, index, cacheKey)
}

// Result is the recorded outcome of a job.
type Result struct {
	Worker string           `json:"worker"`
	Case   evals.CaseResult `json:"case"`
}

// Migrate applies River's migrations (idempotent; serialised across
// processes with the state's migration lock).
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return postgres.WithMigrationLock(ctx, pool, func() error {
		m, err := rivermigrate.New(riverpgxv5.New(pool), nil)
		if err != nil {
			return err
		}
		if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
			return fmt.Errorf("river migrations: %w", err)
		}
		return nil
	})
}

// Enqueuer runs suites through workers.
type Enqueuer struct {
	Pool *pgxpool.Pool
	// PollInterval is how often the run's progress is read (default 25ms).
	PollInterval time.Duration
	// StallTimeout fails the run when no case finishes for this long
	// (default 10 minutes; negative waits for ever) — usually: no worker runs.
	StallTimeout time.Duration
	// SkipWorkerCheck enqueues even when no worker is running (they may start later).
	SkipWorkerCheck bool
	// KeepResults keeps the per-job result records (which worker ran each
	// case) after the run is aggregated; by default they are deleted with the
	// same transaction that writes the run, so they do not pile up.
	KeepResults bool
}

// WorkersRunning reports whether some cairn worker is up: workers elect a
// River leader among themselves, so a live (unexpired) leader row whose
// client is a cairn worker means at least one is.
func WorkersRunning(ctx context.Context, pool *pgxpool.Pool) (bool, error) {
	var n int
	err := pool.QueryRow(ctx, `SELECT count(*) FROM river_leader WHERE expires_at > now() AND leader_id LIKE $1`, workerPrefix+"%").Scan(&n)
	return n > 0, err
}

// EnvInProcess set to "1" makes RunSuiteAuto run evals in this process even
// with a PostgreSQL state (no workers needed).
const EnvInProcess = "CAIRN_EVAL_INPROCESS"

// SharedStore is a state store whose database workers share (the
// PostgreSQL backend): what RunSuiteAuto, NewWorker and leader election need
// of it, asked for as a capability rather than a concrete type.
type SharedStore interface {
	evals.Store
	Pool() *pgxpool.Pool
	Schema() string
}

// RunSuiteAuto is what `cairn eval` and apply call: with a state store that
// workers share (a SharedStore: PostgreSQL) the cases go to workers;
// otherwise, with injected opts.Providers (which exist only in this
// process), or with opts.InProcess, it is evals.RunSuite (writing to a state
// store in batched transactions).
func RunSuiteAuto(ctx context.Context, b *compiler.Bundle, suite string, opts evals.Options) (*evals.Run, error) {
	if ss, ok := opts.Store.(SharedStore); ok && len(opts.Providers) == 0 && !opts.InProcess {
		return RunSuite(ctx, ss.Pool(), b, suite, opts)
	}
	return runInProcess(ctx, b, suite, opts)
}

// RunSuite is (&Enqueuer{Pool: pool}).RunSuite.
func RunSuite(ctx context.Context, pool *pgxpool.Pool, b *compiler.Bundle, suite string, opts evals.Options) (*evals.Run, error) {
	return (&Enqueuer{Pool: pool}).RunSuite(ctx, b, suite, opts)
}

// RunSuite plans the suite, enqueues its cases, waits for the workers and
// returns the run as evals.RunSuite would (same records in opts.Store:
// eval.case per case and eval.run). opts.Providers and opts.Getenv are not
// used: workers build providers from the bundle's definitions and their own
// environment. opts.Progress is called as cases finish.
func (q *Enqueuer) RunSuite(ctx context.Context, b *compiler.Bundle, suite string, opts evals.Options) (*evals.Run, error) {
	if ev := b.Evals[suite]; ev != nil && ev.Predictions != nil {
		// Computed from a file, calling nothing: no work to distribute.
		return evals.RunSuite(ctx, b, suite, opts)
	}
	cases, err := evals.PlanWithContext(ctx, b, suite, opts.Catalog, opts.Retriever)
	if err != nil {
		return nil, err
	}
	store := opts.Store
	if store == nil {
		return nil, errors.New("distributed eval: opts.Store must be the PostgreSQL state the workers share")
	}
	if err := Migrate(ctx, q.Pool); err != nil {
		return nil, err
	}
	if !q.SkipWorkerCheck {
		// A worker started at the same moment registers within a moment: give
		// it a few seconds before calling the queue unattended.
		ok, err := WorkersRunning(ctx, q.Pool)
		for wait := time.Now().Add(3 * time.Second); err == nil && !ok && time.Now().Before(wait); {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
			ok, err = WorkersRunning(ctx, q.Pool)
		}
		if err != nil {
			return nil, fmt.Errorf("distributed eval: %w", err)
		} else if !ok {
			return nil, fmt.Errorf("distributed eval of %s: no cairn worker is running against this state: start `cairn worker --state <url>` (or set %s=1 to run evals in this process)", suite, EnvInProcess)
		}
	}
	start := time.Now()
	run := newRunID(suite, bundleHash(b))
	provs := usedProviders(b, cases)
	params := make([]river.InsertManyParams, len(cases))
	for i, c := range cases {
		params[i] = river.InsertManyParams{Args: CaseArgs{Run: run, Index: i, Case: c, Providers: provs, NoCache: opts.NoCache,
			MaxRetries: opts.MaxRetries, BackoffBaseMS: opts.BackoffBase.Milliseconds()}}
	}
	client, err := river.NewClient(riverpgxv5.New(q.Pool), &river.Config{})
	if err != nil {
		return nil, fmt.Errorf("distributed eval: %w", err)
	}
	for lo := 0; lo < len(params); lo += 1000 {
		hi := min(lo+1000, len(params))
		if _, err := client.InsertManyFast(ctx, params[lo:hi]); err != nil {
			return nil, fmt.Errorf("distributed eval: enqueue %s: %w", suite, err)
		}
	}
	if err := q.wait(ctx, run, len(cases), opts.Progress); err != nil {
		return nil, err
	}
	recs, err := store.ListRecords(ctx, KindResult, run+"/")
	if err != nil {
		return nil, fmt.Errorf("distributed eval: results: %w", err)
	}
	results := make([]evals.CaseResult, len(cases))
	for i, c := range cases {
		v, ok := recs[ResultKey(run, i, c.Key)]
		if !ok {
			return nil, fmt.Errorf("distributed eval: case %s#%d of %s finished without a result", c.ID, c.Repeat, run)
		}
		var r Result
		if err := json.Unmarshal(v, &r); err != nil {
			return nil, fmt.Errorf("distributed eval: result of case %s: %w", c.ID, err)
		}
		results[i] = r.Case
	}
	ev := b.Evals[suite]
	r := evals.Summarize(suite, cases, results, ev.MinPasses)
	r.DatasetHash = ev.DatasetHash
	if len(cases) > 0 {
		r.Target = cases[0].Target
	}
	r.DurationMS = float64(time.Since(start).Milliseconds())
	r.BundleHash = bundleHash(b)
	drop := ""
	if !q.KeepResults {
		drop = run + "/"
	}
	if err := saveRun(ctx, store, r, drop); err != nil {
		return nil, fmt.Errorf("eval results: %w", err)
	}
	return r, nil
}

// saveRun writes the records evals.RunSuite writes and deletes the job
// results whose keys start with drop (none when ""), in one transaction
// when the store has them (one commit instead of one per case).
func saveRun(ctx context.Context, store evals.Store, r *evals.Run, drop string) error {
	type recordWriter interface {
		PutRecord(ctx context.Context, kind, key string, value []byte) error
	}
	type recordDeleter interface {
		DeleteRecords(ctx context.Context, kind, prefix string) error
	}
	runID := r.Suite + "@" + r.BundleHash
	write := func(w recordWriter) error {
		for _, c := range r.Cases {
			v, _ := json.Marshal(c)
			if err := w.PutRecord(ctx, evals.KindCase, fmt.Sprintf("%s/%s#%d", runID, c.ID, c.Repeat), v); err != nil {
				return err
			}
		}
		if err := w.PutRecord(ctx, evals.KindRun, runID, evals.RunRecord(r)); err != nil {
			return err
		}
		if d, ok := w.(recordDeleter); ok && drop != "" {
			if err := d.DeleteRecords(ctx, KindResult, drop); err != nil {
				return err
			}
		}
		return nil
	}
	if u, ok := store.(interface {
		Update(context.Context, func(state.Ops) error) error
	}); ok {
		return u.Update(ctx, func(tx state.Ops) error { return write(tx) })
	}
	return write(store)
}

// wait polls the run's job states until every job completed.
func (q *Enqueuer) wait(ctx context.Context, run string, n int, progress func(done, total int)) error {
	poll := q.PollInterval
	if poll <= 0 {
		poll = 25 * time.Millisecond
	}
	stall := q.StallTimeout
	if stall == 0 {
		stall = 10 * time.Minute
	}
	filter, _ := json.Marshal(map[string]string{"run": run})
	last, lastChange := -1, time.Now()
	for {
		counts := map[string]int{}
		rows, err := q.Pool.Query(ctx, `SELECT state::text, count(*) FROM river_job WHERE kind = $1 AND args @> $2::jsonb GROUP BY state`, JobKind, string(filter))
		if err == nil {
			for rows.Next() {
				var st string
				var c int
				if err = rows.Scan(&st, &c); err != nil {
					break
				}
				counts[st] = c
			}
			rows.Close()
			if err == nil {
				err = rows.Err()
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("distributed eval: progress of %s: %w", run, err)
		}
		done := counts["completed"]
		if bad := counts["discarded"] + counts["cancelled"]; bad > 0 {
			// A worker cancels a run's jobs at a provider configuration error
			// (a missing key on the worker, a refused connection, a rejected
			// key): said once, and the rest of the run is not waited for.
			var msg string
			_ = q.Pool.QueryRow(ctx, `SELECT coalesce(errors[array_length(errors, 1)]->>'error', '') FROM river_job
				WHERE kind = $1 AND args @> $2::jsonb AND state IN ('discarded', 'cancelled') ORDER BY id LIMIT 1`, JobKind, string(filter)).Scan(&msg)
			// Jobs a worker already fetched it cancels itself, without a call.
			_, _ = q.Pool.Exec(ctx, `UPDATE river_job SET state = 'cancelled', finalized_at = now()
				WHERE kind = $1 AND args @> $2::jsonb AND state IN ('available', 'scheduled', 'retryable')`, JobKind, string(filter))
			return fmt.Errorf("distributed eval of %s stopped: %s (%d of %d case jobs cancelled or failed for good)", run, strings.TrimPrefix(msg, "JobCancelError: "), bad, n)
		}
		if done != last {
			last, lastChange = done, time.Now()
			if progress != nil {
				progress(done, n)
			}
		}
		if done >= n {
			return nil
		}
		if stall > 0 && time.Since(lastChange) > stall {
			return fmt.Errorf("distributed eval: no case of %s finished in %s (%d of %d done): is a `cairn worker --state <url>` running against this state?", run, stall, done, n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}

// usedProviders are the providers the cases call (targets and judges).
func usedProviders(b *compiler.Bundle, cases []evals.Case) map[string]*compiler.Provider {
	names := map[string]bool{}
	for _, c := range cases {
		if c.Provider != "" {
			names[c.Provider] = true
		}
		for _, m := range c.Metrics {
			if m.Settings.JudgeProvider != "" {
				names[m.Settings.JudgeProvider] = true
			}
		}
	}
	out := map[string]*compiler.Provider{}
	for n := range names {
		if p, ok := b.Providers[n]; ok {
			out[n] = p
		}
	}
	return out
}

func newRunID(suite, bundle string) string {
	var r [8]byte
	_, _ = rand.Read(r[:])
	return suite + "@" + bundle + "~" + hex.EncodeToString(r[:])
}

func bundleHash(b *compiler.Bundle) (h string) {
	defer func() {
		if recover() != nil { // a hand-built bundle may lack what hashing needs
			h = ""
		}
	}()
	return b.Hash()
}

// livenessKey is the advisory lock a worker holds while it lives.
func livenessKey(workerID string) int64 {
	h := sha256.Sum256([]byte("cairn.worker\x00" + workerID))
	return int64(binary.BigEndian.Uint64(h[:8]))
}

// deadWorkers returns which of ids hold no liveness lock on the server.
func deadWorkers(ctx context.Context, tx pgx.Tx, ids []string) (map[string]bool, error) {
	sort.Strings(ids)
	keys := make([]int64, len(ids))
	for i, id := range ids {
		keys[i] = livenessKey(id)
	}
	rows, err := tx.Query(ctx, `SELECT k FROM unnest($1::bigint[]) AS k WHERE NOT EXISTS (
		SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
		  AND l.classid::bigint = ((k >> 32) & 4294967295) AND l.objid::bigint = (k & 4294967295)
		  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))`, keys)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	deadKeys := map[int64]bool{}
	for rows.Next() {
		var k int64
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		deadKeys[k] = true
	}
	out := map[string]bool{}
	for i, id := range ids {
		if deadKeys[keys[i]] {
			out[id] = true
		}
	}
	return out, rows.Err()
}
