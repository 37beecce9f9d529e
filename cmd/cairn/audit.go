package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/audit"
	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/gitops"
	"github.com/cairn-dev/cairn/internal/diag"
	"github.com/cairn-dev/cairn/pipeline"
	"github.com/cairn-dev/cairn/state"
)

func newAuditCmd() *cobra.Command {
	auditCmd := &cobra.Command{Use: "audit", Short: "Verify the hash-chained audit log and write compliance reports"}
	var stateFlag string
	auditCmd.PersistentFlags().StringVar(&stateFlag, "state", "", "state store: a path, sqlite://path or postgres://… (default $CAIRN_STATE or <dir>/.cairn/state.db)")

	var head, verifyFormat string
	verify := &cobra.Command{
		Use: "verify [dir]",
		Example: `  cairn audit verify .
  cairn audit verify --state postgres://cairn@db/cairn --head sha256:…`,
		Short: "Recompute the audit chain and name the first entry that does not match",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(cmd, verifyFormat, "text", "json"); err != nil {
				return err
			}
			return withStateRead(cmd, stateFlag, repoDir(args), nil, func(ctx context.Context, st state.Store) error {
				// Streamed: memory stays flat in the log's length.
				last, p, err := state.VerifyScan(ctx, st, head)
				if err != nil {
					return exitf(exitDenied, "%v", err)
				}
				if p != nil {
					return exitf(exitDenied, "audit log tampered: %v", p)
				}
				h, recorded := state.GenesisHash, false
				if last.Seq > 0 {
					h = last.Hash
					// The verified head: readers (lineage) check their entries
					// against it instead of the whole chain. An auditor with
					// read-only access still gets the verification.
					cp, _ := json.Marshal(state.Checkpoint{Seq: last.Seq, Hash: last.Hash, At: now()})
					if err := st.PutRecord(ctx, state.CheckpointKind, "head", cp); err != nil {
						fmt.Fprintf(cmd.ErrOrStderr(), "note: the verified checkpoint was not recorded: %v\n", err)
					} else {
						recorded = true
					}
				}
				if verifyFormat == "json" {
					return writeJSON(cmd.OutOrStdout(), map[string]any{"ok": true, "entries": last.Seq, "head": h, "checkpoint_recorded": recorded})
				}
				note := ""
				if recorded {
					note = " (checkpoint recorded)"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "audit log ok: %d entries, head %s%s\n", last.Seq, h, note)
				return nil
			})
		},
	}
	verify.Flags().StringVar(&verifyFormat, "format", "text", "output format: text or json")
	verify.Flags().StringVar(&head, "head", "", "the head hash recorded earlier (detects entries removed from the end)")

	var format, now, metricsWindow string
	var failOnDrift bool
	report := &cobra.Command{
		Use: "report [dir]",
		Example: `  cairn audit report . --format html > audit.html
  cairn audit report --state .cairn/state.db --fail-on-drift`,
		Short: "Write the compliance report: served versions with gate evidence, waivers, spec-vs-state differences, drift",
		Long: `report writes the compliance report of the spec directory against its state: served
versions with their gate evidence, waivers, differences between specs and state, the audit
chain, and the drift found locally without fetching or applying (rendered files edited by
hand or missing, aliases and labels changed outside cairn or moved since the last reconcile,
stale eval evidence, waivers expiring within 14 days, models near their deprecation date),
and the operating metrics over --metrics-window (cairn metrics).
Exit codes: 0 written, 1 error, a broken audit chain, or drift with --fail-on-drift; 3 usage error.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(cmd, format, "markdown", "json", "html"); err != nil {
				return err
			}
			at, err := parseNow(now) // the one --now parser (RFC 3339 or a date)
			if err != nil {
				return exitf(exitUsage, "audit report: %v", err)
			}
			window, err := parseWindow(metricsWindow)
			if err != nil {
				return exitf(exitUsage, "audit report: --metrics-window %q: %v", metricsWindow, err)
			}
			dir := repoDir(args)
			if err := requireDir(dir); err != nil {
				return err
			}
			// Given --state, the report works from any directory: without
			// specs it reports the state alone (served versions, the chain).
			b, diags := &compiler.Bundle{}, diag.List(nil)
			if specRepo(dir) || stateFlag == "" && os.Getenv(state.EnvVar) == "" {
				c, err := (&policyFlags{now: at.Format(time.RFC3339)}).check(cmd, dir)
				if err != nil {
					return err
				}
				if !c.Compiled() {
					return pipelineError(cmd.ErrOrStderr(), "audit report", &pipeline.InvalidError{Diagnostics: c.Diagnostics})
				}
				b, diags = c.Bundle, c.Diagnostics
			}
			ctx := cmd.Context()
			st, err := state.OpenExisting(ctx, state.Location(stateFlag, dir))
			if err != nil {
				return exitf(exitDenied, "audit report: %v", err)
			}
			defer st.Close()
			r, err := audit.BuildReport(ctx, b, st, at)
			if err != nil {
				return exitf(exitDenied, "%v", err)
			}
			if b.Root != "" {
				r.SetCheck(diags)
			}
			drift, err := gitops.LocalDrift(ctx, b, st, dir, r, nil, at)
			if err != nil {
				return exitf(exitDenied, "%v", err)
			}
			ar := gitops.AuditReport{Report: r, Source: dir, Commit: gitops.Commit{SHA: gitCommit(dir)}, Drift: drift}
			if b.Root != "" {
				if ar.Operating, err = gitops.OperatingMetrics(ctx, b, st, dir, at, window, ""); err != nil {
					return exitf(exitDenied, "audit report: %v", err)
				}
			}
			if err := ar.Write(cmd.OutOrStdout(), strings.Replace(format, "markdown", "md", 1)); err != nil {
				return exitf(exitDenied, "%v", err)
			}
			if !r.Audit.Verified {
				return exitf(exitDenied, "audit log tampered: %s", r.Audit.Problem)
			}
			if failOnDrift && len(drift) > 0 {
				return exitf(exitDenied, "audit report: %d drift item(s)", len(drift))
			}
			return nil
		},
	}
	report.Flags().StringVar(&format, "format", "markdown", "markdown, json or html")
	report.Flags().StringVar(&now, "now", "", "report time, RFC 3339 or YYYY-MM-DD, UTC (default: the current time)")
	report.Flags().BoolVar(&failOnDrift, "fail-on-drift", false, "exit 1 when drift is found")
	report.Flags().StringVar(&metricsWindow, "metrics-window", "90d", "the window of the operating metrics section, ending at the report time")
	auditCmd.AddCommand(verify, report)
	return auditCmd
}
