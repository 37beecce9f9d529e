package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/internal/diag"
	"github.com/cairn-dev/cairn/reconciler"
	"github.com/cairn-dev/cairn/reconciler/state"
)

// compileForPlan compiles the repo; for plan/apply an invalid spec is an error (exit 1).
func compileForPlan(w io.Writer, dir string) (*compiler.Bundle, error) {
	b, ds := compiler.Compile(dir, compiler.Options{})
	if len(ds) > 0 {
		for _, d := range ds {
			fmt.Fprintln(w, d.String())
		}
		return nil, exitf(exitDenied, "the spec is invalid: %d error(s)", len(ds))
	}
	return b, nil
}

// planError prints a plan's diagnostics (e.g. a prompt changed without a version bump).
func planError(w io.Writer, err error) error {
	var ds diag.List
	if errors.As(err, &ds) {
		for _, d := range ds {
			fmt.Fprintln(w, d.String())
		}
		return exitf(exitDenied, "cannot plan: %d error(s)", len(ds))
	}
	return exitf(exitDenied, "%v", err)
}

func init() {
	commands = append(commands, func() *cobra.Command {
		var stateFlag, format string
		var detailed bool
		var approvals int
		cmd := &cobra.Command{
			Use:   "plan [dir]",
			Short: "Show what apply would change in the registry state, and which gates block it",
			Long: `plan compares the compiled specs with the registry state and lists typed actions
(register_prompt_version, move_prompt_label, move_model_alias, run_eval, snapshot_rag,
render_target), each with its reason, before/after and gate status.
Exit codes: 0 success (with --detailed-exitcode: no changes), 1 error, 2 changes present
(with --detailed-exitcode).`,
			Args: cobra.MaximumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				switch format {
				case "text", "json", "markdown", "md":
				default:
					return exitf(exitUsage, "plan: unknown --format %q (text, json, markdown)", format)
				}
				dir := repoDir(args)
				b, err := compileForPlan(cmd.ErrOrStderr(), dir)
				if err != nil {
					return err
				}
				ctx := cmd.Context()
				st, err := openState(ctx, stateFlag, dir)
				if err != nil {
					return err
				}
				defer st.Close()
				p, err := reconciler.BuildPlan(ctx, b, st, planOptions(cmd, dir, st, approvals, ""))
				if err != nil {
					return planError(cmd.ErrOrStderr(), err)
				}
				if err := reconciler.WritePlan(cmd.OutOrStdout(), p, format); err != nil {
					return exitf(exitDenied, "%v", err)
				}
				if detailed && p.Changes() {
					return &exitError{code: exitInvalid}
				}
				return nil
			},
		}
		cmd.Flags().StringVar(&stateFlag, "state", "", "state store: a path, sqlite://path or postgres://… (default $CAIRN_STATE or <dir>/.cairn/state.db)")
		cmd.Flags().StringVar(&format, "format", "text", "text, json or markdown")
		cmd.Flags().BoolVar(&detailed, "detailed-exitcode", false, "exit 2 when there are changes, 0 when none")
		cmd.Flags().IntVar(&approvals, "approvals", 0, "number of approvals the change has (from the pull request)")
		return cmd
	})
}

// planOptions wires the real eval runner, renderer and RAG snapshotter on the
// state store (shared with the reconcile loop through reconciler.Plugins).
func planOptions(cmd *cobra.Command, dir string, st state.Store, approvals int, commit string) reconciler.Options {
	w := cmd.ErrOrStderr()
	return reconciler.Plugins(st, reconciler.PluginOptions{
		Approvals: approvals,
		Commit:    commit,
		Git:       renderGitSource(dir, filepath.Join(dir, reconciler.RenderedDir), "", ""),
		OnRenderHeld: func(reason string) {
			fmt.Fprintf(w, "note: %s\n", reason)
		},
	})
}
