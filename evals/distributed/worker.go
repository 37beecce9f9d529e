package distributed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/evals"
	"github.com/cairn-dev/cairn/evals/provider"
)

// workerPrefix starts every worker's River client ID; only jobs attempted by
// such clients are reaped (others hold no liveness lock).
const workerPrefix = "cairn-worker-"

// WorkerOptions tune a worker. Zero values take the defaults.
type WorkerOptions struct {
	// Concurrency is how many cases call their providers at once (default
	// 8): each provider's concurrency limit inside this worker. The worker
	// holds up to twice as many jobs, the rest waiting for a slot.
	Concurrency int
	// ID names the worker (default cairn-worker-<host>-<pid>-<random>).
	ID string
	// JobTimeout bounds one case (default 5 minutes).
	JobTimeout time.Duration
	// RescueAfter is River's stuck-job backstop for jobs whose worker is
	// alive but hung (default JobTimeout + 1 minute).
	RescueAfter time.Duration
	// ReapInterval is how often jobs of dead workers are looked for (default 1s).
	ReapInterval time.Duration
	// FetchPollInterval is how often River looks for jobs without a
	// notification (default River's, 1s).
	FetchPollInterval time.Duration
	// FetchCooldown is the least time between two fetches (default 10ms; River's
	// 100ms leaves slots idle when cases are short).
	FetchCooldown time.Duration
	// Getenv reads provider API keys (default os.Getenv).
	Getenv func(string) string
	// Logger receives River's and the worker's logs (default: warnings to stderr).
	Logger *slog.Logger
}

// Stats count what a worker did.
type Stats struct {
	Executed   int64 `json:"executed"`   // cases run and recorded by this worker
	Skipped    int64 `json:"skipped"`    // jobs whose result was already recorded (retried after a crash)
	Duplicates int64 `json:"duplicates"` // results computed but not recorded because another attempt won
	Reaped     int64 `json:"reaped"`     // jobs of dead workers made available again
}

// Worker executes eval case jobs.
type Worker struct {
	store  SharedStore
	opts   WorkerOptions
	client *river.Client[pgx.Tx]
	driver *riverpgxv5.Driver
	log    *slog.Logger

	mu      sync.Mutex
	engines map[string]*evals.Engine
	// stopped are the runs this worker found a provider configuration error
	// in (a missing key, a refused connection, a rejected key): their other
	// jobs are cancelled without a call, since each would fail the same way.
	stopped map[string]error

	executed, skipped, duplicates, reaped atomic.Int64
}

// NewWorker prepares a worker on the PostgreSQL state (running River's
// migrations); Run starts it.
func NewWorker(ctx context.Context, store SharedStore, opts WorkerOptions) (*Worker, error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 8
	}
	if opts.Concurrency > 10_000 {
		return nil, fmt.Errorf("worker: concurrency %d: at most 10000", opts.Concurrency)
	}
	if opts.ID == "" {
		host, _ := os.Hostname()
		var r [4]byte
		_, _ = rand.Read(r[:])
		opts.ID = workerPrefix + host + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(r[:])
	} else if !strings.HasPrefix(opts.ID, workerPrefix) {
		opts.ID = workerPrefix + opts.ID
	}
	if opts.JobTimeout <= 0 {
		opts.JobTimeout = 5 * time.Minute
	}
	if opts.RescueAfter <= opts.JobTimeout {
		opts.RescueAfter = opts.JobTimeout + time.Minute
	}
	if opts.FetchCooldown <= 0 {
		opts.FetchCooldown = 10 * time.Millisecond
	}
	if opts.ReapInterval <= 0 {
		opts.ReapInterval = time.Second
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler) // only the CLI prints: it passes its own
	}
	if err := Migrate(ctx, store.Pool()); err != nil {
		return nil, err
	}
	w := &Worker{store: store, opts: opts, driver: riverpgxv5.New(store.Pool()), log: opts.Logger, engines: map[string]*evals.Engine{}}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &caseWorker{w: w}); err != nil {
		return nil, err
	}
	client, err := river.NewClient(w.driver, &river.Config{
		ID: opts.ID,
		// Twice the concurrency of jobs run: the second half waits for a
		// provider slot (the engine's flow admits Concurrency calls), so a
		// freed slot never waits for River's next fetch — the fetch after a
		// completion comes only when the last one filled every slot, else
		// at the poll interval (4 workers: 3.4 → 3.6 × one).
		Queues:               map[string]river.QueueConfig{Queue: {MaxWorkers: min(2*opts.Concurrency, river.QueueNumWorkersMax)}},
		Workers:              workers,
		JobTimeout:           opts.JobTimeout,
		RescueStuckJobsAfter: opts.RescueAfter,
		FetchPollInterval:    opts.FetchPollInterval,
		FetchCooldown:        opts.FetchCooldown,
		Logger:               opts.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	w.client = client
	return w, nil
}

// ID is the worker's River client ID.
func (w *Worker) ID() string { return w.opts.ID }

// Stats returns the worker's counters.
func (w *Worker) Stats() Stats {
	return Stats{Executed: w.executed.Load(), Skipped: w.skipped.Load(), Duplicates: w.duplicates.Load(), Reaped: w.reaped.Load()}
}

// Run holds the liveness lock, works jobs and reaps dead workers' jobs until
// ctx is done, then stops gracefully (running cases finish).
func (w *Worker) Run(ctx context.Context) error {
	live, err := w.store.Pool().Acquire(ctx)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	// Hijack: the liveness session must never return to the pool, where
	// another query could reuse it; it closes when this process dies.
	conn := live.Hijack()
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, livenessKey(w.opts.ID)); err != nil {
		return fmt.Errorf("worker: liveness lock: %w", err)
	}
	if err := w.client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	t := time.NewTicker(w.opts.ReapInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			stopCtx, cancel := context.WithTimeout(context.Background(), w.opts.JobTimeout)
			defer cancel()
			return w.client.Stop(stopCtx)
		case <-t.C:
			if err := conn.Ping(ctx); err != nil && ctx.Err() == nil {
				// Our own liveness session is gone: others will reap our
				// running jobs; stop taking new ones until it is back.
				return fmt.Errorf("worker: liveness session lost: %w", err)
			}
			if n, err := w.Reap(ctx); err != nil && ctx.Err() == nil {
				w.log.Warn("cairn worker: reaping dead workers' jobs", "error", err)
			} else if n > 0 {
				w.log.Info("cairn worker: made jobs of dead workers available", "jobs", n)
			}
		}
	}
}

// Reap makes the running jobs of dead workers available again (or discards
// them when out of attempts) and returns how many it touched. Reapers are
// serialised with a transaction advisory lock so two never rescue one job twice.
func (w *Worker) Reap(ctx context.Context) (int, error) {
	tx, err := w.store.Pool().Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var got bool
	if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, livenessKey("\x00reaper")).Scan(&got); err != nil || !got {
		return 0, err
	}
	exec := w.driver.UnwrapExecutor(tx)
	now := time.Now().UTC()
	running, err := exec.JobGetStuck(ctx, &riverdriver.JobGetStuckParams{Max: 10_000, StuckHorizon: now})
	if err != nil {
		return 0, err
	}
	var mine []*rivertype.JobRow
	owners := map[string]bool{}
	for _, j := range running {
		if j.Kind != JobKind || len(j.AttemptedBy) == 0 {
			continue
		}
		owner := j.AttemptedBy[len(j.AttemptedBy)-1]
		if strings.HasPrefix(owner, workerPrefix) {
			mine = append(mine, j)
			owners[owner] = true
		}
	}
	if len(mine) == 0 {
		return 0, nil
	}
	ids := make([]string, 0, len(owners))
	for o := range owners {
		ids = append(ids, o)
	}
	dead, err := deadWorkers(ctx, tx, ids)
	if err != nil || len(dead) == 0 {
		return 0, err
	}
	p := &riverdriver.JobRescueManyParams{StuckHorizon: now}
	for _, j := range mine {
		owner := j.AttemptedBy[len(j.AttemptedBy)-1]
		if !dead[owner] {
			continue
		}
		e, _ := json.Marshal(rivertype.AttemptError{At: now, Attempt: max(j.Attempt, 0),
			Error: fmt.Sprintf("worker %s died (its liveness lock is gone); job made available by %s", owner, w.opts.ID)})
		p.ID = append(p.ID, j.ID)
		p.Error = append(p.Error, e)
		if j.Attempt >= j.MaxAttempts {
			p.State = append(p.State, string(rivertype.JobStateDiscarded))
			p.FinalizedAt = append(p.FinalizedAt, &now)
		} else {
			p.State = append(p.State, string(rivertype.JobStateAvailable))
			p.FinalizedAt = append(p.FinalizedAt, nil)
		}
		p.ScheduledAt = append(p.ScheduledAt, now)
	}
	if len(p.ID) == 0 {
		return 0, nil
	}
	if _, err := exec.JobRescueMany(ctx, p); err != nil {
		return 0, err
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, err
	}
	w.reaped.Add(int64(len(p.ID)))
	return len(p.ID), nil
}

// engine returns the (shared, per provider set) engine for a job, so a
// provider's concurrency and rate limits apply across the worker's jobs.
func (w *Worker) engine(a *CaseArgs) (*evals.Engine, error) {
	k, _ := json.Marshal(struct {
		P       map[string]*compiler.Provider
		NoCache bool
		R       int
		B       int64
	}{a.Providers, a.NoCache, a.MaxRetries, a.BackoffBaseMS})
	key := string(k)
	w.mu.Lock()
	defer w.mu.Unlock()
	if e, ok := w.engines[key]; ok {
		return e, nil
	}
	e, err := evals.NewEngine(&compiler.Bundle{Providers: a.Providers}, evals.Options{
		Parallel: w.opts.Concurrency, NoCache: a.NoCache, Store: w.store, Getenv: w.opts.Getenv,
		MaxRetries: a.MaxRetries, BackoffBase: time.Duration(a.BackoffBaseMS) * time.Millisecond})
	if err != nil {
		return nil, err
	}
	w.engines[key] = e
	return e, nil
}

// stopRun records that a run cannot go on on this worker and says why, in
// the words the enqueuing command prints.
func (w *Worker) stopRun(run string, err error) error {
	err = fmt.Errorf("worker %s: %w", w.opts.ID, err)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped == nil {
		w.stopped = map[string]error{}
	}
	if _, ok := w.stopped[run]; !ok {
		w.stopped[run] = err
	}
	return err
}

func (w *Worker) stoppedRun(run string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stopped[run]
}

type caseWorker struct {
	river.WorkerDefaults[CaseArgs]
	w *Worker
}

func (cw *caseWorker) Work(ctx context.Context, job *river.Job[CaseArgs]) error {
	w, a := cw.w, &job.Args
	key := ResultKey(a.Run, a.Index, a.Case.Key)
	// Recorded by an earlier attempt that died before River saw it complete.
	// A first attempt has no earlier one (River counts an attempt when it
	// fetches the job), so it saves the round trip; PutRecordOnce below
	// still keeps a result from being written twice.
	if job.Attempt > 1 {
		if _, ok, err := w.store.GetRecord(ctx, KindResult, key); err != nil {
			return err
		} else if ok {
			w.skipped.Add(1)
			return nil
		}
	}
	if err := w.stoppedRun(a.Run); err != nil {
		return river.JobCancel(err)
	}
	eng, err := w.engine(a)
	if err != nil {
		// A provider that cannot be built will not build on retry either.
		return river.JobCancel(fmt.Errorf("case %s: %w", a.Case.ID, err))
	}
	names := make([]string, 0, len(a.Providers))
	for n := range a.Providers {
		names = append(names, n)
	}
	sort.Strings(names)
	if err := eng.Unavailable(names...); err != nil {
		return river.JobCancel(w.stopRun(a.Run, err))
	}
	res, err := eng.ExecuteCase(ctx, a.Case)
	if ce := (*provider.ConfigError)(nil); errors.As(err, &ce) {
		return river.JobCancel(w.stopRun(a.Run, err))
	}
	if err != nil {
		return err // the store failed: retry the job
	}
	v, _ := json.Marshal(Result{Worker: w.opts.ID, Case: res})
	inserted, err := w.store.PutRecordOnce(ctx, KindResult, key, v)
	if err != nil {
		return err
	}
	if inserted {
		w.executed.Add(1)
	} else {
		w.duplicates.Add(1)
	}
	return nil
}

// DiscardLogger is a logger that drops everything (tests, quiet workers).
func DiscardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
