package main

import (
	"context"
	"fmt"
	"log/slog"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/evals/distributed"
	"github.com/cairn-dev/cairn/state"
)

func newWorkerCmd() *cobra.Command {
	var (
		stateFlag   string
		concurrency int
		jobTimeout  time.Duration
		id          string
	)
	cmd := &cobra.Command{
		Use:     "worker",
		Example: `  cairn worker --state postgres://cairn@db/cairn --concurrency 16`,
		Short:   "Work distributed eval jobs (PostgreSQL state) until interrupted",
		Long: `worker takes eval cases that 'cairn eval' and 'cairn apply' enqueue when the state is
PostgreSQL (River jobs), runs them (provider calls, scoring, result cache in the shared
state) and records each result exactly once. Run any number of workers; a worker that dies
has its running cases taken over by the others within seconds. API keys come from this
process's environment (each provider's api_key_env). SIGINT/SIGTERM stop it gracefully.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if concurrency < 1 || concurrency > 10_000 {
				return exitf(exitUsage, "worker: --concurrency %d: must be 1..10000", concurrency)
			}
			loc := state.Location(stateFlag, ".")
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			st, err := state.Open(ctx, loc)
			if err != nil {
				return exitf(exitDenied, "worker: %v", err)
			}
			defer st.Close()
			ps, ok := st.(distributed.SharedStore)
			if !ok {
				return exitf(exitUsage, "worker: --state %s is not PostgreSQL: workers share a postgres:// state (with SQLite, 'cairn eval' runs cases in its own process)", state.RedactURL(loc))
			}
			w, err := distributed.NewWorker(ctx, ps, distributed.WorkerOptions{Concurrency: concurrency, JobTimeout: jobTimeout, ID: id,
				Logger: slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))})
			if err != nil {
				return exitf(exitDenied, "worker: %v", err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "cairn worker %s: working eval jobs on %s (concurrency %d)\n", w.ID(), state.RedactURL(loc), concurrency)
			err = w.Run(ctx)
			s := w.Stats()
			fmt.Fprintf(cmd.ErrOrStderr(), "cairn worker %s: stopped: %d cases executed, %d already recorded, %d duplicates dropped, %d jobs of dead workers retried\n",
				w.ID(), s.Executed, s.Skipped, s.Duplicates, s.Reaped)
			if err != nil {
				return exitf(exitDenied, "worker: %v", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&stateFlag, "state", "", "PostgreSQL state URL postgres://… (default $CAIRN_STATE)")
	cmd.Flags().IntVar(&concurrency, "concurrency", 8, "eval cases calling their providers at once (each provider's limit in this worker; twice as many jobs are held, the rest waiting for a slot)")
	cmd.Flags().DurationVar(&jobTimeout, "job-timeout", 5*time.Minute, "longest one case may run")
	cmd.Flags().StringVar(&id, "id", "", "worker name (default cairn-worker-<host>-<pid>-<random>)")
	return cmd
}
