package main

import (
	"context"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"

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
		noState   bool
		version   string
	)
	cmd := &cobra.Command{
		Use:   "eval [dir] [suite ...]",
		Short: "Run eval suites (all by default) and report per-case and per-metric results",
		Long: `eval compiles the spec repo and runs the named eval suites (all when none are named)
against their providers, with results cached by everything that can change them, in the
state (<dir>/.cairn/state.db, --state or CAIRN_STATE; --no-state keeps them in memory), so a
rerun calls no provider. An unknown suite is a usage error.
With a PostgreSQL --state the cases run on 'cairn worker' processes (CAIRN_EVAL_INPROCESS=1
runs them here instead).
A classic eval whose predictions file holds several model versions (predictions.version)
evaluates --version, or else every version the spec's aliases name, one run each.
Exit codes: 0 every suite passed, 1 a suite failed or had errors, 2 invalid spec, 3 usage or internal error.`,
		Example: `  cairn eval examples/support-assistant
  cairn eval . support-safety --format json
  cairn eval . --no-state --format junit > evals.xml`,
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
			if err := requireDir(dir); err != nil {
				return err
			}
			// The token counts are not needed until a run is recorded under
			// the bundle's hash: the cases start while they are counted.
			copts := compileOptions(dir) // the check cache: a rerun counts nothing and loads no BPE tables
			copts.SkipProjection, copts.DeferCounts = true, true
			b, ds := compiler.Compile(dir, copts)
			if len(ds) > 0 {
				for _, d := range ds {
					cmd.PrintErrln(d.String())
				}
				return &exitError{code: exitInvalid}
			}
			suites := []string{}
			if len(args) > 1 {
				suites = args[1:]
				for _, s := range suites {
					if b.Evals[s] == nil {
						return exitf(exitUsage, "eval: no eval suite %q in %s (suites: %s)", s, dir, strings.Join(slices.Sorted(maps.Keys(b.Evals)), ", "))
					}
				}
			} else {
				for n := range b.Evals {
					suites = append(suites, n)
				}
				sort.Strings(suites)
			}
			if version != "" && !slices.ContainsFunc(suites, func(s string) bool { return evals.PerVersion(b.Evals[s]) }) {
				return exitf(exitUsage, "eval: --version %s: none of %s evaluates one model version at a time (predictions.version, or a model server with versioned: true)", version, strings.Join(suites, ", "))
			}
			// A dataset row, document or template holding a credential is
			// never sent to a provider.
			var objs []string
			for _, s := range suites {
				objs = append(objs, "evals/"+s)
				if p := b.Prompts[b.Evals[s].Target.Prompt]; p != nil {
					objs = append(objs, "prompts/"+p.Name)
					if p.RAG != "" {
						objs = append(objs, "rag/"+p.RAG)
					}
				}
			}
			if err := refuseSecrets(cmd, b, objs...); err != nil {
				return err
			}
			opts := evals.Options{Parallel: parallel, NoCache: noCache, InProcess: evalInProcess()}
			// The one state rule: the cache and per-case results persist in
			// <dir>/.cairn/state.db (or --state), so a rerun calls no provider
			// and apply's gates reuse the scores; --no-state keeps them in memory.
			var st state.Store
			if !noState {
				var err error
				if st, err = openState(cmd.Context(), stateFlag, dir); err != nil {
					return err
				}
				defer st.Close()
				opts.Store = st
			}
			// {{ context }} from the snapshots apply or `cairn rag build` made;
			// sources not snapshotted yet are snapshotted in memory for this run.
			r, err := evalRetriever(cmd.Context(), b, suites, st)
			if err != nil {
				return exitf(exitDenied, "eval: %v", err)
			}
			opts.Retriever = r
			var runs []*evals.Run
			failed := false
			for _, s := range suites {
				o := opts
				var finish func()
				o.Progress, finish = progress(cmd.ErrOrStderr(), "eval "+s)
				defer finish()
				versions := evals.SpecVersions(b, s)
				if version != "" {
					versions = []string{version}
				}
				for _, v := range versions {
					o.Version = v
					// PostgreSQL state: cases go to `cairn worker`s; else in this process.
					r, err := distributed.RunSuiteAuto(context.Background(), b, s, o)
					if err != nil {
						return exitf(exitDenied, "eval: %v", err)
					}
					runs = append(runs, r)
					failed = failed || !r.Passed
				}
			}
			if ds := b.Settle(); len(ds) > 0 {
				for _, d := range ds {
					cmd.PrintErrln(d.String())
				}
				return exitf(exitUsage, "eval: counting the templates' tokens failed")
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
	cmd.Flags().StringVar(&stateFlag, "state", "", "state store for the result cache and per-case results (default $CAIRN_STATE or <dir>/.cairn/state.db)")
	cmd.Flags().BoolVar(&noState, "no-state", false, "keep the cache and results in memory for this run only")
	cmd.Flags().StringVar(&version, "version", "", "the model version a classic eval with per-version predictions evaluates (default: every version the spec's aliases name)")
	return cmd
}

// evalRetriever fills {{ context }} the way apply does: from the state's
// snapshots when every source the suites retrieve from has one, else from
// snapshots built in memory for this run.
func evalRetriever(ctx context.Context, b *compiler.Bundle, suites []string, st state.Store) (*rag.Retriever, error) {
	if st != nil {
		have := true
		for _, src := range evalSources(b, suites) {
			if snap, err := rag.Current(ctx, st, src); err != nil || snap == nil {
				have = false
			}
		}
		if have {
			return rag.NewRetriever(st, b), nil
		}
	}
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

// evalSources are the RAG sources the suites' prompts retrieve from.
func evalSources(b *compiler.Bundle, suites []string) []string {
	var out []string
	for _, s := range suites {
		if ev := b.Evals[s]; ev != nil && ev.Target.Prompt != "" && b.Prompts[ev.Target.Prompt] != nil {
			if src := b.Prompts[ev.Target.Prompt].RAG; src != "" && !slices.Contains(out, src) {
				out = append(out, src)
			}
		}
	}
	return out
}
