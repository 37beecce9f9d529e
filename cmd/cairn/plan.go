package main

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/pipeline"
	"github.com/cairn-dev/cairn/reconciler"
	"github.com/cairn-dev/cairn/state"
)

func newPlanCmd() *cobra.Command {
	var (
		stateFlag, format, out string
		detailed               bool
		approvals              int
		pf                     policyFlags
	)
	cmd := &cobra.Command{
		Use:   "plan [dir]",
		Short: "Show what apply would change in the registry state, and which gates block it",
		Long: `plan checks the spec repo (compile, built-in and team policies, waivers), compares the
bundle with the registry state and lists typed actions (register_prompt_version,
move_prompt_label, move_model_alias, delete_prompt_label, delete_model_alias,
delete_deployment, run_eval, snapshot_rag, render_target, trigger_training), each with its
reason, before/after and gate status. An unwaived policy denial, or a team policy that does
not compile, blocks every action and is shown with its file:line.

--out FILE (also -out FILE) saves the plan: the bundle hash, the state it was made against,
the actions, gates and policy results. 'cairn apply FILE' applies exactly that plan, and
refuses it when the specs or the state changed since.

Exit codes: 0 success (with --detailed-exitcode: no changes), 1 error, invalid spec or policy
denial, 2 changes present (with --detailed-exitcode), 3 usage.`,
		Example: `  cairn plan examples/support-assistant
  cairn plan . --approvals 2 --format markdown
  cairn plan . -out cairn.plan && cairn apply cairn.plan`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch format {
			case "text", "json", "markdown":
			default:
				return exitf(exitUsage, "plan: unknown --format %q (text, json, markdown)", format)
			}
			if approvals < 0 {
				return exitf(exitUsage, "plan: --approvals %d: must be 0 or more", approvals)
			}
			dir := repoDir(args)
			c, err := pf.check(cmd, dir)
			if err != nil {
				return err
			}
			if !c.Compiled() {
				return pipelineError(cmd.ErrOrStderr(), "plan", &pipeline.InvalidError{Diagnostics: c.Diagnostics})
			}
			run := func(ctx context.Context, st state.Store) error {
				p, err := pipeline.Plan(ctx, c, st, planOptions(cmd, dir, st, approvals, ""))
				if err != nil {
					return pipelineError(cmd.ErrOrStderr(), "plan", err)
				}
				if err := reconciler.WritePlan(cmd.OutOrStdout(), p, format); err != nil {
					return exitf(exitDenied, "%v", err)
				}
				if out != "" {
					if err := reconciler.WritePlanFile(out, p); err != nil {
						return exitf(exitDenied, "plan: %v", err)
					}
					fmt.Fprintf(cmd.ErrOrStderr(), "Saved the plan to %s; apply exactly it with: cairn apply %s\n", out, out)
				}
				if p.Denied {
					return exitf(exitDenied, "plan: blocked by the policy check: %d denial(s) or error(s); nothing can be applied", len(p.Denials()))
				}
				if detailed && p.Changes() {
					return &exitError{code: exitInvalid}
				}
				return nil
			}
			// plan only reads the state: with none yet it plans against an
			// empty one (everything to do), and creates nothing.
			empty := func() error {
				st, err := emptyState(cmd.Context())
				if err != nil {
					return exitf(exitUsage, "plan: %v", err)
				}
				defer st.Close()
				fmt.Fprintf(cmd.ErrOrStderr(), "note: no state at %s yet: planned against an empty state\n", state.Location(stateFlag, dir))
				return run(cmd.Context(), st)
			}
			return withStateRead(cmd, stateFlag, dir, empty, run)
		},
	}
	cmd.Flags().StringVar(&stateFlag, "state", "", "state store: a path, sqlite://path or postgres://… (default $CAIRN_STATE or <dir>/.cairn/state.db)")
	cmd.Flags().StringVar(&format, "format", "text", "text, json or markdown")
	cmd.Flags().BoolVar(&detailed, "detailed-exitcode", false, "exit 2 when there are changes, 0 when none")
	cmd.Flags().IntVar(&approvals, "approvals", 0, "number of approvals the change has (from the pull request)")
	cmd.Flags().StringVarP(&out, "out", "o", "", "save the plan to this file for 'cairn apply FILE'")
	pf.add(cmd)
	return cmd
}

// planOptions wires the real eval runner, renderer and RAG snapshotter on the
// state store (shared with the reconcile loop through reconciler.Plugins).
func planOptions(cmd *cobra.Command, dir string, st state.Store, approvals int, commit string) reconciler.Options {
	w := cmd.ErrOrStderr()
	bars := map[string]func(int, int){}
	var mu sync.Mutex
	return reconciler.Plugins(st, reconciler.PluginOptions{
		InProcess: evalInProcess(),
		CairnRef:  releaseRef(),
		Progress: func(suite string, done, total int) {
			mu.Lock()
			update, ok := bars[suite]
			if !ok {
				update, _ = progress(w, "eval "+suite)
				bars[suite] = update
			}
			mu.Unlock()
			update(done, total)
		},
		Approvals: approvals,
		Commit:    commit,
		Git:       renderGitSource(dir, filepath.Join(dir, reconciler.RenderedDir), "", ""),
		OnRenderHeld: func(note string) {
			fmt.Fprintf(w, "note: %s\n", note)
		},
	})
}
