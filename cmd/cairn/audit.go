package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/gliderlabs/ssh"
	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/audit"
	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/compliance"
	"github.com/cairn-dev/cairn/gitops"
	"github.com/cairn-dev/cairn/internal/diag"
	"github.com/cairn-dev/cairn/pipeline"
	"github.com/cairn-dev/cairn/signing"
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

	var format, now, metricsWindow, failOn, signKey, signer, output string
	var frameworks []string
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

When the specs declare AI systems (compliance: {frameworks, systems}), the report adds one
section per system and framework (--framework, repeatable; default: the spec's list):
every row of the EU AI Act (Annex IV, Art 9-15, 17, 19, 26, 27, 50, 72, 73 by role), NIST AI
RMF or ISO/IEC 42001 with its status (evidenced, partial, missing, manual, not applicable),
its evidence and each gap with its fix. It is evidence for a reviewer, not legal advice.
--sign KEY writes <output>.sig, an SSH signature (namespace cairn-audit-report) that
'cairn audit verify-report' and 'ssh-keygen -Y verify' check.
Exit codes: 0 written, 1 error, a broken audit chain, drift with --fail-on-drift, or rows
at or below --fail-on; 3 usage error.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(cmd, format, "markdown", "json", "html"); err != nil {
				return err
			}
			if failOn != "" && failOn != "missing" && failOn != "partial" {
				return exitf(exitUsage, "audit report: --fail-on %q: missing or partial", failOn)
			}
			if signKey != "" && (output == "" || signer == "") {
				return exitf(exitUsage, "audit report: --sign needs --output FILE (the signature is FILE.sig) and --signer (the principal you sign as)")
			}
			var sshSigner ssh.Signer
			if signKey != "" {
				s, err := signing.LoadSigner(signKey, os.Getenv("SSH_AUTH_SOCK"))
				if err != nil {
					return exitf(exitUsage, "audit report: --sign: %v", err)
				}
				sshSigner = s
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
			if b.Root != "" {
				co := compliance.Options{Frameworks: frameworks}
				if sshSigner != nil {
					co.Signer, co.SignerKey = signer, signing.Fingerprint(sshSigner.PublicKey())
				}
				if ar.Compliance, err = gitops.ComplianceReport(ctx, b, st, dir, at, diags, co); err != nil {
					var usage *compliance.UsageError
					if errors.As(err, &usage) {
						return exitf(exitUsage, "audit report: %v", err)
					}
					return exitf(exitDenied, "audit report: %v", err)
				}
			} else if len(frameworks) > 0 {
				return exitf(exitUsage, "audit report: --framework needs the spec directory")
			}
			var buf bytes.Buffer
			if err := ar.Write(&buf, strings.Replace(format, "markdown", "md", 1)); err != nil {
				return exitf(exitDenied, "%v", err)
			}
			if output == "" {
				if _, err := cmd.OutOrStdout().Write(buf.Bytes()); err != nil {
					return err
				}
			} else {
				if err := gitops.WriteSigned(output, buf.Bytes(), sshSigner, false); err != nil {
					return exitf(exitDenied, "audit report: %v", err)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s", output)
				if sshSigner != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), " and its signature %s.sig", output)
				}
				fmt.Fprintln(cmd.ErrOrStderr())
			}
			if !r.Audit.Verified {
				return exitf(exitDenied, "audit log tampered: %s", r.Audit.Problem)
			}
			if failOnDrift && len(drift) > 0 {
				return exitf(exitDenied, "audit report: %d drift item(s)", len(drift))
			}
			if c := ar.Compliance; c != nil && failOn != "" {
				if n := c.Worst(failOn); n > 0 {
					return exitf(exitDenied, "audit report: %d row(s) %s (--fail-on %s)", n, map[string]string{"missing": "missing", "partial": "partial or missing"}[failOn], failOn)
				}
			}
			return nil
		},
	}
	report.Flags().StringVar(&format, "format", "markdown", "markdown, json or html")
	report.Flags().StringVar(&now, "now", "", "report time, RFC 3339 or YYYY-MM-DD, UTC (default: the current time)")
	report.Flags().BoolVar(&failOnDrift, "fail-on-drift", false, "exit 1 when drift is found")
	report.Flags().StringVar(&metricsWindow, "metrics-window", "90d", "the window of the operating metrics section, ending at the report time")
	report.Flags().StringArrayVar(&frameworks, "framework", nil, "a framework of the compliance section: eu-ai-act, nist-ai-rmf or iso-42001 (repeatable; default: the spec's compliance.frameworks)")
	report.Flags().StringVar(&failOn, "fail-on", "", "exit 1 when a compliance row is missing, or partial or missing")
	report.Flags().StringVar(&output, "output", "", "write the report to this file (default: standard output)")
	report.Flags().StringVar(&signKey, "sign", "", "sign the written file with this SSH key: a private key file, or a public key whose private half is in ssh-agent")
	report.Flags().StringVar(&signer, "signer", "", "the principal you sign as (an identity of the allowed signers file; Annex IV 2(g) wants one of the system's responsible people)")
	auditCmd.AddCommand(verify, report, newVerifyReportCmd(&stateFlag))
	return auditCmd
}

// newVerifyReportCmd is `cairn audit verify-report`.
func newVerifyReportCmd(stateFlag *string) *cobra.Command {
	var allowed, identity, sigFile, dir string
	cmd := &cobra.Command{
		Use:     "verify-report FILE --allowed-signers F",
		Example: `  cairn audit verify-report report.md --allowed-signers .github/allowed_signers --identity risk-lead@acme.example`,
		Short:   "Check a signed report: its SSH signature against an allowed_signers file, and its audit head against the state",
		Long: `verify-report checks FILE.sig (or --signature) over FILE's bytes in namespace
cairn-audit-report against an OpenSSH allowed_signers file (principals, namespaces=,
valid-after, valid-before), as 'ssh-keygen -Y verify' does. With a state (--state, or the
spec directory --dir's), it also checks that the audit-log head the report embeds is still
an entry of a chain that verifies.
Exit codes: 0 verified, 1 not verified, 3 usage error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if allowed == "" {
				return exitf(exitUsage, "audit verify-report: --allowed-signers is required")
			}
			data, err := os.ReadFile(args[0])
			if err != nil {
				return exitf(exitUsage, "audit verify-report: %v", err)
			}
			if sigFile == "" {
				sigFile = args[0] + ".sig"
			}
			sig, err := os.ReadFile(sigFile)
			if err != nil {
				return exitf(exitUsage, "audit verify-report: the signature: %v", err)
			}
			as, err := os.ReadFile(allowed)
			if err != nil {
				return exitf(exitUsage, "audit verify-report: %v", err)
			}
			signers, err := signing.ParseAllowedSigners(allowed, as)
			if err != nil {
				return exitf(exitUsage, "audit verify-report: %v", err)
			}
			v, err := signing.Verify(data, sig, signers, identity, now())
			if err != nil {
				return exitf(exitDenied, "audit verify-report: %s (signature %s): %v", args[0], sigFile, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "good signature by %s (%s) on %s\n", v.Principal, v.Fingerprint, args[0])
			if *stateFlag == "" && dir == "" && os.Getenv(state.EnvVar) == "" {
				return nil
			}
			seq, head, ok := compliance.EmbeddedHead(data)
			if !ok {
				return exitf(exitDenied, "audit verify-report: %s embeds no audit-log head", args[0])
			}
			if dir == "" {
				dir = "."
			}
			return withStateRead(cmd, *stateFlag, dir, nil, func(ctx context.Context, st state.Store) error {
				if err := compliance.HeadInChain(ctx, st, seq, head); err != nil {
					return exitf(exitDenied, "audit verify-report: %v", err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "audit head #%d %s is in the verified chain\n", seq, head)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&allowed, "allowed-signers", "", "an OpenSSH allowed_signers file")
	cmd.Flags().StringVar(&identity, "identity", "", "the principal the signer must be (default: any the file lists for the key)")
	cmd.Flags().StringVar(&sigFile, "signature", "", "the signature file (default: FILE.sig)")
	cmd.Flags().StringVar(&dir, "dir", "", "the spec directory whose state holds the audit log (default: --state or $CAIRN_STATE)")
	return cmd
}
