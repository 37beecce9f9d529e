package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/reconciler"
	"github.com/cairn-dev/cairn/rollout"
	"github.com/cairn-dev/cairn/state"
)

func newAnalyzeCmd() *cobra.Command {
	var prom, format, stateFlag, actor string
	var record bool
	cmd := &cobra.Command{
		Use:   "analyze DEPLOYMENT [dir] --prometheus URL",
		Short: "Analyse a canary from live metrics: its step, each metric against its condition, and the decision",
		Long: `analyze runs one canary analysis of a deployment with rollout.steps and rollout.analysis:
the version at the rollout's candidate alias (the canary) against the version at the
deployment's alias (stable), each analysis metric's PromQL template filled in for both and
queried on Prometheus (--prometheus or $CAIRN_PROMETHEUS_URL), judged against its condition,
and the decision: advance to the next step, hold (a metric inconclusive — no data, too few
samples —, failed within its failure limit, or the step's pause not over), roll back (a
metric failed past its failure limit) or promote (every metric passes at the last step).
It only says what it would do; --record keeps the decision (queries, values, window) and
the rollout's progress in the state, with an audit entry, as a reconcile does.
Exit codes: 0 advance, promote or hold; 1 roll back; 2 invalid spec; 3 usage error, or
Prometheus unreachable or refusing a query.`,
		Example: `  cairn analyze fraud-api examples/fraud-detection --prometheus http://127.0.0.1:9090
  cairn analyze fraud-api . --format json`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(cmd, format, "text", "json"); err != nil {
				return err
			}
			if prom == "" {
				prom = os.Getenv("CAIRN_PROMETHEUS_URL")
			}
			if prom == "" {
				return exitf(exitUsage, "analyze: --prometheus URL (or CAIRN_PROMETHEUS_URL) is required")
			}
			dir := repoDir(args[1:])
			if err := requireDir(dir); err != nil {
				return err
			}
			b, err := dataCompile(cmd, dir)
			if err != nil {
				return err
			}
			if b.Deployments[args[0]] == nil {
				return exitf(exitUsage, "analyze: no deployment %q in %s (deployments: %s)", args[0], dir, strings.Join(slices.Sorted(maps.Keys(b.Deployments)), ", "))
			}
			q, err := rollout.NewPrometheus(prom)
			if err != nil {
				return exitf(exitUsage, "analyze: %v", err)
			}
			var dec rollout.Decision
			err = withStateRead(cmd, stateFlag, dir, func() error {
				return exitf(exitUsage, "analyze: no state at %s: nothing is served yet", state.Location(stateFlag, dir))
			}, func(ctx context.Context, st state.Store) error {
				var err error
				at := now()
				dec, err = rollout.Run(ctx, st, q, b, args[0], rollout.Options{Now: at, Actor: actorName(actor), Record: record})
				if err == nil && record { // a recorded step or rollback changes what is served
					_, err = reconciler.RecordServing(ctx, st, b, at, actorName(actor), "", nil)
				}
				return err
			})
			if err != nil {
				if _, ok := err.(*exitError); ok {
					return err
				}
				return exitf(exitUsage, "analyze: %v", err)
			}
			if format == "json" {
				err = writeJSON(cmd.OutOrStdout(), dec)
			} else {
				err = writeDecision(cmd.OutOrStdout(), dec)
			}
			if err != nil {
				return exitf(exitUsage, "analyze: %v", err)
			}
			if dec.Action == rollout.Rollback {
				return &exitError{code: exitDenied}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&prom, "prometheus", "", "Prometheus base URL (default $CAIRN_PROMETHEUS_URL)")
	f.StringVar(&format, "format", "text", "text or json")
	f.StringVar(&stateFlag, "state", "", "state store (default $CAIRN_STATE or <dir>/.cairn/state.db)")
	f.BoolVar(&record, "record", false, "keep the decision and the rollout's progress in the state (as reconcile does)")
	f.StringVar(&actor, "actor", "", "who records, for the audit log (default $CAIRN_ACTOR or the OS user)")
	return cmd
}

func writeDecision(w io.Writer, d rollout.Decision) error {
	var b strings.Builder
	fmt.Fprintf(&b, "deployment %s (%s): canary %s against stable %s, step %d of %d at %d%%\n", d.Deployment, d.Namespace, d.Canary, d.Stable, d.Step, d.Steps, d.Weight)
	fmt.Fprintf(&b, "decision: %s (%d%% next): %s\n", d.Action, d.NextWeight, d.Why)
	fmt.Fprintf(&b, "window %s, at %s\n", d.Window, d.At.Format(time.RFC3339))
	for _, m := range d.Measurements {
		fmt.Fprintf(&b, "\n  %s: %s  [%s]\n", m.Metric, m.Verdict, m.Condition)
		fmt.Fprintf(&b, "    canary %s  = %s\n", m.CanaryQuery, val(m.Canary))
		if m.StableQuery != "" {
			fmt.Fprintf(&b, "    stable %s  = %s\n", m.StableQuery, val(m.Stable))
		}
		if m.SamplesQuery != "" {
			fmt.Fprintf(&b, "    samples %s  = %s\n", m.SamplesQuery, val(m.Samples))
		}
		if m.Why != "" {
			fmt.Fprintf(&b, "    why: %s\n", m.Why)
		}
		fmt.Fprintf(&b, "    failures %d of %d allowed\n", m.Failures, m.FailureLimit)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func val(f *float64) string {
	if f == nil {
		return "no value"
	}
	return fmt.Sprintf("%.6g", *f)
}
