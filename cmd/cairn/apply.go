package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/reconciler"
)

func init() {
	commands = append(commands, func() *cobra.Command {
		var stateFlag, actor, commit string
		var approvals int
		var lockTimeout time.Duration
		cmd := &cobra.Command{
			Use:   "apply [dir]",
			Short: "Apply the plan: register prompt versions, run gating evals, move aliases and labels, audit every change",
			Long: `apply runs the plan in dependency order, each action in its own transaction together
with its audit entry. A second apply finds nothing to do; a killed apply resumes.
One apply runs at a time: another waits up to --lock-timeout.
Exit codes: 0 applied, 1 error or a blocked gate.`,
			Args: cobra.MaximumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				dir := repoDir(args)
				b, err := compileForPlan(cmd.ErrOrStderr(), dir)
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
				opts := reconciler.ApplyOptions{Options: planOptions(cmd, dir, st, approvals, commit), Actor: actorName(actor), Commit: commit, LockTimeout: lockTimeout,
					OnAction: func(a reconciler.Action) { fmt.Fprintf(w, "applied: %s\n", a.Summary()) }}
				res, err := reconciler.Apply(ctx, b, st, opts)
				if err != nil {
					if res == nil || res.Plan == nil {
						return planError(cmd.ErrOrStderr(), err)
					}
					if errors.Is(err, reconciler.ErrInterrupted) {
						return exitf(exitDenied, "%v", err)
					}
					return exitf(exitDenied, "apply stopped: %v (%d action(s) applied before; run apply again to resume)", err, len(res.Applied))
				}
				for _, a := range res.Blocked {
					fmt.Fprintf(w, "blocked: %s\n    %s\n", a.Summary(), a.Status)
				}
				fmt.Fprintf(w, "Apply complete: %d applied, %d blocked.\n", len(res.Applied), len(res.Blocked))
				if len(res.Blocked) > 0 {
					return &exitError{code: exitDenied}
				}
				return nil
			},
		}
		cmd.Flags().StringVar(&stateFlag, "state", "", "state store: a path, sqlite://path or postgres://… (default $CAIRN_STATE or <dir>/.cairn/state.db)")
		cmd.Flags().IntVar(&approvals, "approvals", 0, "number of approvals the change has")
		cmd.Flags().DurationVar(&lockTimeout, "lock-timeout", 0, "how long to wait for another apply to finish")
		cmd.Flags().StringVar(&actor, "actor", "", "who applies, for the audit log (default $CAIRN_ACTOR or the OS user)")
		cmd.Flags().StringVar(&commit, "commit", "", "spec repo commit for the audit log (default: git HEAD of dir)")
		return cmd
	})
}
