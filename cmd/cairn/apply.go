package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/pipeline"
	"github.com/cairn-dev/cairn/reconciler"
)

func newApplyCmd() *cobra.Command {
	var (
		stateFlag, actor, commit, planFile string
		approvals                          int
		lockTimeout                        time.Duration
		pf                                 policyFlags
		hotfix                             bool
	)
	cmd := &cobra.Command{
		Use:   "apply [dir] | apply --plan PLANFILE [dir]",
		Short: "Apply the plan: register prompt versions, run gating evals, move aliases and labels, audit every change",
		Long: `apply checks the spec repo (compile, built-in and team policies, waivers), plans and applies
the plan in dependency order, each action in its own transaction together with its audit entry.
An unwaived policy denial, or a team policy that does not compile, changes nothing. A second
apply finds nothing to do; a killed apply resumes. One apply runs at a time: another waits up
to --lock-timeout.

Given a plan file saved by 'cairn plan --out FILE' (as the argument, or --plan FILE), apply
applies exactly that plan and nothing else, and refuses it when the specs or the state
changed since it was made.

A blocked gate holds back its own object and what depends on it (the rendered files naming
it), not unrelated objects: each held action is listed with why.

Exit codes: 0 applied, 1 error, invalid spec, policy denial or blocked gate with nothing
applied, 3 usage, 4 partial (some applied, some held back), 5 stale plan file.`,
		Example: `  cairn apply examples/fraud-detection
  cairn plan . -out cairn.plan && cairn apply cairn.plan
  cairn apply . --approvals 2 --lock-timeout 2m`,
		Args: cobra.MaximumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if approvals < 0 {
				return exitf(exitUsage, "apply: --approvals %d: must be 0 or more", approvals)
			}
			// `apply FILE`: a regular file argument is a saved plan, as in Terraform.
			if planFile == "" && len(args) > 0 {
				if fi, err := os.Stat(args[0]); err == nil && fi.Mode().IsRegular() {
					planFile, args = args[0], args[1:]
				}
			}
			if len(args) > 1 {
				return exitf(exitUsage, "apply: too many arguments %q (apply [dir], or apply PLANFILE [dir])", args)
			}
			var saved *reconciler.Plan
			if planFile != "" {
				p, err := reconciler.ReadPlanFile(planFile)
				if err != nil {
					return exitf(exitUsage, "apply: %v", err)
				}
				saved = p
			}
			dir := repoDir(args)
			c, err := pf.check(cmd, dir)
			if err != nil {
				return err
			}
			// Ctrl-C or SIGTERM lets the running action finish and record itself;
			// a second signal kills the process as usual.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			go func() { <-ctx.Done(); stop() }()
			st, err := openState(ctx, stateFlag, dir)
			if err != nil {
				return err
			}
			defer st.Close()
			if commit == "" {
				commit = gitCommit(dir)
			}
			w := cmd.OutOrStdout()
			opts := reconciler.ApplyOptions{Options: planOptions(cmd, dir, st, approvals, commit), Actor: actorName(actor), Commit: commit, RepoURL: gitRemote(dir), Now: now, LockTimeout: lockTimeout,
				Hotfix:   hotfix || gitHotfix(dir),
				OnAction: func(a reconciler.Action) { fmt.Fprintf(w, "applied: %s\n", a.Summary()) }}
			var res *reconciler.Result
			if saved != nil {
				res, err = pipeline.ApplySaved(ctx, c, saved, st, opts)
			} else {
				res, err = pipeline.Apply(ctx, c, st, opts)
			}
			if err != nil {
				if res == nil || errors.As(err, new(*reconciler.DeniedError)) || errors.As(err, new(*reconciler.StalePlanError)) {
					return pipelineError(cmd.ErrOrStderr(), "apply", err)
				}
				if errors.Is(err, reconciler.ErrInterrupted) {
					return exitf(exitDenied, "%v", err)
				}
				return exitf(exitDenied, "apply stopped: %v (%d action(s) applied before; run apply again to resume)", err, len(res.Applied))
			}
			for _, a := range res.Blocked {
				fmt.Fprintf(w, "held back: %s\n    %s\n", a.Summary(), a.Status)
			}
			for _, a := range res.Failed {
				fmt.Fprintf(w, "failed (recorded; retried by a later apply): %s\n    %s\n", a.Summary(), a.Status)
			}
			for _, e := range res.Served {
				what := "nothing (removed)"
				if !e.Removed {
					what = describe(e.Stable, "stable")
					if e.Canary != nil {
						what += " and " + describe(e.Canary, "canary")
					}
				}
				fmt.Fprintf(w, "serving: deployments/%s now serves %s (recorded for lineage; the cluster applies it when it syncs)\n", e.Deployment, what)
			}
			fmt.Fprintf(w, "Apply complete: %d applied, %d blocked.\n", len(res.Applied), len(res.Blocked)+len(res.Failed))
			switch {
			case res.Partial():
				return exitf(exitPartial, "apply: partial: %d action(s) applied, %d held back (listed above with why)", len(res.Applied), len(res.Blocked)+len(res.Failed))
			case len(res.Blocked) > 0 || len(res.Failed) > 0:
				return &exitError{code: exitDenied}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&stateFlag, "state", "", "state store: a path, sqlite://path or postgres://… (default $CAIRN_STATE or <dir>/.cairn/state.db)")
	cmd.Flags().StringVar(&planFile, "plan", "", "apply exactly this saved plan (from 'cairn plan --out FILE')")
	cmd.Flags().IntVar(&approvals, "approvals", 0, "number of approvals the change has")
	cmd.Flags().DurationVar(&lockTimeout, "lock-timeout", 0, "how long to wait for another apply to finish")
	cmd.Flags().StringVar(&actor, "actor", "", "who applies, for the audit log (default $CAIRN_ACTOR or the OS user)")
	cmd.Flags().StringVar(&commit, "commit", "", "spec repo commit for the audit log (default: git HEAD of dir)")
	cmd.Flags().BoolVar(&hotfix, "hotfix", false, "record this apply as a hotfix (cairn metrics: rework, and a failure of the deployment it replaces); also set by a Cairn-Hotfix: trailer in HEAD's message")
	pf.add(cmd)
	return cmd
}
