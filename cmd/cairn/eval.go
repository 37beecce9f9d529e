package main

import (
	"context"
	"io"
	"os"
	"sort"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/evals"
	"github.com/cairn-dev/cairn/evals/distributed"
	"github.com/cairn-dev/cairn/rag"
	"github.com/cairn-dev/cairn/state"
)

func newEvalCmd() *cobra.Command {
	var (
		format    string
		parallel  int
		noCache   bool
		stateFlag string
	)
	cmd := &cobra.Command{
		Use:   "eval [dir] [suite ...]",
		Short: "Run eval suites (all by default) and report per-case and per-metric results",
		Long: `eval compiles the spec repo and runs the named eval suites (all when none are named)
against their providers, with results cached by everything that can change them.
With a PostgreSQL --state the cases run on 'cairn worker' processes (CAIRN_EVAL_INPROCESS=1
runs them here instead).
Exit codes: 0 every suite passed, 1 a suite failed or had errors, 2 invalid spec, 3 usage or internal error.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			writers := map[string]func(io.Writer, []*evals.Run) error{
				"table": evals.WriteTable, "json": evals.WriteJSON, "junit": evals.WriteJUnit, "html": evals.WriteHTML}
			write, ok := writers[format]
			if !ok {
				return exitf(exitUsage, "eval: unknown --format %q (table, json, junit or html)", format)
			}
			if parallel < 1 || parallel > 256 {
				return exitf(exitUsage, "eval: --parallel %d: must be 1..256", parallel)
			}
			dir := repoDir(args)
			b, ds := compiler.Compile(dir, compiler.Options{SkipProjection: true})
			if len(ds) > 0 {
				for _, d := range ds {
					cmd.PrintErrln(d.String())
				}
				return &exitError{code: exitInvalid}
			}
			suites := []string{}
			if len(args) > 1 {
				suites = args[1:]
			} else {
				for n := range b.Evals {
					suites = append(suites, n)
				}
				sort.Strings(suites)
			}
			// Without a state store nothing is recorded: the run keeps only its results.
			opts := evals.Options{Parallel: parallel, NoCache: noCache, InProcess: evalInProcess()}
			// With a state store the cache and per-case results persist
			// (and apply's gates reuse the cached scores).
			if stateFlag != "" || os.Getenv(state.EnvVar) != "" {
				st, err := openState(cmd.Context(), stateFlag, dir)
				if err != nil {
					return err
				}
				defer st.Close()
				opts.Store = st
				// {{ context }} from the snapshots apply or `cairn rag build` made.
				opts.Retriever = rag.NewRetriever(st, b)
			} else if r, err := evalMemRetriever(cmd.Context(), b, suites); err != nil {
				return exitf(exitDenied, "eval: %v", err)
			} else {
				opts.Retriever = r
			}
			var runs []*evals.Run
			failed := false
			for _, s := range suites {
				o := opts
				if f, ok := cmd.ErrOrStderr().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
					bar := progressbar.NewOptions(-1, progressbar.OptionSetWriter(f), progressbar.OptionSetDescription("eval "+s), progressbar.OptionClearOnFinish())
					o.Progress = func(done, total int) { bar.ChangeMax(total); _ = bar.Set(done) }
					defer bar.Finish()
				}
				// PostgreSQL state: cases go to `cairn worker`s; else in this process.
				r, err := distributed.RunSuiteAuto(context.Background(), b, s, o)
				if err != nil {
					return exitf(exitDenied, "eval: %v", err)
				}
				runs = append(runs, r)
				failed = failed || !r.Passed
			}
			if err := write(cmd.OutOrStdout(), runs); err != nil {
				return exitf(exitUsage, "eval: %v", err)
			}
			if failed {
				return &exitError{code: exitDenied}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table, json, junit or html")
	cmd.Flags().IntVar(&parallel, "parallel", 4, "cases in flight per provider")
	cmd.Flags().BoolVar(&noCache, "no-cache", false, "ignore cached results")
	cmd.Flags().StringVar(&stateFlag, "state", "", "state store for the result cache and per-case results (default $CAIRN_STATE; none: in memory)")
	return cmd
}

// evalMemRetriever snapshots, in memory, the RAG sources the suites' prompts
// retrieve from, so that `cairn eval` without a state store still fills
// {{ context }} the way apply does.
func evalMemRetriever(ctx context.Context, b *compiler.Bundle, suites []string) (*rag.Retriever, error) {
	store := rag.NewMemStore()
	built := map[string]bool{}
	for _, s := range suites {
		ev := b.Evals[s]
		if ev == nil || ev.Target.Prompt == "" || b.Prompts[ev.Target.Prompt] == nil {
			continue // RunSuite reports unknown suites and targets
		}
		src := b.Prompts[ev.Target.Prompt].RAG
		if src == "" || built[src] {
			continue
		}
		built[src] = true
		if _, _, err := (rag.Snapshotter{Store: store}).BuildSource(ctx, b, src); err != nil {
			return nil, err
		}
	}
	return rag.NewRetriever(store, b), nil
}
