package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gliderlabs/ssh"
	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/data/training"
	"github.com/cairn-dev/cairn/evals/distributed"
	ghub "github.com/cairn-dev/cairn/github"
	"github.com/cairn-dev/cairn/gitops"
	"github.com/cairn-dev/cairn/gitops/leader"
	"github.com/cairn-dev/cairn/reconciler"
	"github.com/cairn-dev/cairn/rollout"
	"github.com/cairn-dev/cairn/signing"
	"github.com/cairn-dev/cairn/state"
	"github.com/cairn-dev/cairn/targets"
)

func newReconcileCmd() *cobra.Command {
	var (
		repo, ref, listen, stateLoc, cacheDir, report, reportFormat, format, actor, ghRepo, leaderID, prom, notify string
		reportDir, reportSign, reportSigner                                                                        string
		interval, lockTimeout, leaderCheck, leaderTimeout                                                          time.Duration
		once, selfHeal, failOnDrift                                                                                bool
		approvals                                                                                                  int
	)
	cmd := &cobra.Command{
		Use: "reconcile --repo PATH|URL",
		Example: `  cairn reconcile --once --repo . --approvals 1
  cairn reconcile --repo https://github.com/acme/specs.git --interval 5m --listen :9090`,
		Short: "Reconcile a spec repository continuously: fetch, check, plan, apply, render, report drift and audit",
		Long: `reconcile clones (or fetches) the spec repository with go-git into --cache-dir, checks out
--ref (default: the remote's default branch) and, when the commit, the state or the approvals
changed since the last run, compiles, checks policies, plans and applies (running gating
evals, moving aliases and labels, rendering targets). Every run reports drift (rendered files
edited by hand, aliases/labels moved outside git, stale eval evidence, expiring waivers,
deprecated models) and writes the compliance audit report.

A local path is cloned like a URL: reconcile sees exactly a commit, never uncommitted edits.
Approvals for gates come from the pull request that merged the commit when GITHUB_TOKEN and
GITHUB_REPOSITORY (or --github-repo) are set, else from --approvals.
With --prometheus (or CAIRN_PROMETHEUS_URL), each run first analyses every canary declared
with rollout.steps and rollout.analysis (see 'cairn analyze'), records the decision, and the
run's render serves the share it set; --notify URL receives each rollback decision as JSON.
With --listen it serves /metrics (Prometheus) and /healthz, and, when CAIRN_WEBHOOK_TOKEN (a
bearer token) or CAIRN_WEBHOOK_SECRET (an HMAC-SHA256 key for X-Cairn-Signature) is set,
receives Alertmanager webhooks (payload version 4) at /v1/alertmanager: a firing alert
labelled model=<name> is evidence for training.retrain_when.alert, recorded once however
often Alertmanager resends; the next run fires the training trigger once. SIGTERM or SIGINT lets the current
action finish, then exits 0 (a second signal exits at once).

With a postgres:// state, reconcilers on several machines elect one leader (a PostgreSQL
advisory lock held on its own session): only the leader reconciles, the others report
"standby" and take over within --leader-timeout when the leader dies. /healthz says
"leader" or "standby" and who leads. Gating evals then run on 'cairn worker' processes
(CAIRN_EVAL_INPROCESS=1 runs them here).
Exit codes (--once): 0 reconciled, 1 error, invalid spec, policy denial, a blocked gate, or drift
with --fail-on-drift; 3 usage error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if repo == "" {
				return exitf(exitUsage, "reconcile: --repo PATH or URL is required")
			}
			if format != "text" && format != "json" {
				return exitf(exitUsage, "reconcile: unknown --format %q (text, json)", format)
			}
			if !once && interval <= 0 {
				return exitf(exitUsage, "reconcile: --interval %s must be positive (or pass --once)", interval)
			}
			if cacheDir == "" {
				d, err := os.UserCacheDir()
				if err != nil {
					return exitf(exitUsage, "reconcile: no --cache-dir and no user cache directory: %v", err)
				}
				cacheDir = filepath.Join(d, "cairn")
			}
			if abs, err := filepath.Abs(cacheDir); err == nil {
				cacheDir = abs
			}
			if stateLoc == "" {
				stateLoc = os.Getenv(state.EnvVar)
			}
			if stateLoc == "" {
				stateLoc = filepath.Join(cacheDir, "state.db")
				if err := os.MkdirAll(cacheDir, 0o755); err != nil {
					return exitf(exitDenied, "reconcile: %v", err)
				}
			}
			ctx, stop := signal.NotifyContext(cmdContext(cmd), syscall.SIGTERM, os.Interrupt)
			defer stop()
			// After the first signal the default handling is back: a
			// second one ends the process without waiting for the action.
			go func() { <-ctx.Done(); stop() }()
			var signer ssh.Signer
			if reportSign != "" {
				if reportDir == "" || reportSigner == "" {
					return exitf(exitUsage, "reconcile: --report-sign needs --report-dir and --report-signer (the principal you sign as)")
				}
				s, err := signing.LoadSigner(reportSign, os.Getenv("SSH_AUTH_SOCK"))
				if err != nil {
					return exitf(exitUsage, "reconcile: --report-sign: %v", err)
				}
				signer = s
			}
			st, err := state.Open(ctx, stateLoc)
			if err != nil {
				return exitf(exitDenied, "reconcile: %v", err)
			}
			defer st.Close()

			appr, err := approvalSource(ghRepo, approvals)
			if err != nil {
				return exitf(exitUsage, "reconcile: %v", err)
			}
			// Leader election reports from its own goroutine.
			out, errw := &lockedWriter{w: cmd.OutOrStdout()}, &lockedWriter{w: cmd.ErrOrStderr()}
			cfg := gitops.Config{
				Source: repo, Ref: ref, CacheDir: cacheDir, Store: st, Approvals: appr,
				Actor: actor, LockTimeout: lockTimeout, ReportPath: report, ReportFormat: reportFormat,
				SelfHeal: selfHeal, Metrics: gitops.NewMetrics(), ReportDir: reportDir, ReportSigner: signer, ReportSignerID: reportSigner,
				Plugins: func(co *gitops.Checkout, approvals int) (reconciler.Options, error) {
					return reconciler.Plugins(st, reconciler.PluginOptions{Approvals: approvals, Commit: co.Commit.SHA, Git: argoSource(co, ref), InProcess: evalInProcess(),
						OnRenderHeld: func(why string) { fmt.Fprintf(errw, "render held: %s\n", why) }}), nil
				},
			}
			if format == "text" {
				cfg.OnAction = func(a reconciler.Action) { fmt.Fprintf(out, "applied: %s\n", a.Summary()) }
			}
			if prom == "" {
				prom = os.Getenv("CAIRN_PROMETHEUS_URL")
			}
			if prom != "" {
				if cfg.Analysis, err = rollout.NewPrometheus(prom); err != nil {
					return exitf(exitUsage, "reconcile: %v", err)
				}
			}
			// Alertmanager webhooks, authenticated by a bearer token or an
			// HMAC secret from the environment (never from a spec or a flag).
			if tok, sec := os.Getenv("CAIRN_WEBHOOK_TOKEN"), os.Getenv("CAIRN_WEBHOOK_SECRET"); tok != "" || sec != "" {
				cfg.Alerts = &training.AlertReceiver{Store: st, Token: tok, Secret: sec, Actor: "alertmanager"}
			}
			// A rollback is announced to --notify and, with GitHub configured,
			// as a failed commit status on the commit being reconciled.
			gh, _ := appr.(*ghub.Client)
			if notify != "" || gh != nil {
				cfg.OnRollback = func(commit string, d rollout.Decision) {
					if notify != "" {
						if err := postJSON(ctx, notify, d); err != nil {
							fmt.Fprintf(errw, "reconcile: rollback of %s not announced to %s: %v\n", d.Deployment, notify, err)
						}
					}
					if gh != nil {
						desc := fmt.Sprintf("rolled back canary %s to %s: %s", d.Canary, d.Stable, d.Why)
						if err := gh.SetCommitStatus(ctx, commit, "cairn/rollout/"+d.Deployment, ghub.StatusFailure, desc); err != nil {
							fmt.Fprintf(errw, "reconcile: rollback of %s: commit status: %v\n", d.Deployment, err)
						}
					}
				}
			}
			var elector *leader.Elector
			if ps, ok := st.(distributed.SharedStore); ok { // PostgreSQL: reconcilers elect a leader
				if leaderCheck <= 0 || leaderTimeout <= 0 {
					return exitf(exitUsage, "reconcile: --leader-check %s and --leader-timeout %s must be positive", leaderCheck, leaderTimeout)
				}
				elector = leader.ForStore(ps, "reconcile", leader.Options{ID: leaderID, CheckInterval: leaderCheck, LockTimeout: leaderTimeout})
				defer elector.Close()
				cfg.Leader = elector
				cfg.OnLeaderChange = func(bool) { fmt.Fprintf(errw, "reconcile: %s\n", elector.Status()) }
			}
			r, err := gitops.New(cfg)
			if err != nil {
				return exitf(exitUsage, "reconcile: %v", err)
			}
			if listen != "" {
				ln, err := net.Listen("tcp", listen)
				if err != nil {
					return exitf(exitUsage, "reconcile: --listen %s: %v", listen, err)
				}
				srv := &http.Server{Handler: r.Handler(), ReadHeaderTimeout: 10 * time.Second}
				go func() { _ = srv.Serve(ln) }()
				defer srv.Shutdown(context.WithoutCancel(ctx))
				fmt.Fprintf(errw, "serving /metrics and /healthz on http://%s\n", ln.Addr())
			}
			if once {
				run := r.RunOnce(ctx)
				if err := printRun(out, errw, run, format); err != nil {
					return exitf(exitUsage, "reconcile: %v", err)
				}
				return runExit(run, failOnDrift)
			}
			_ = r.Loop(ctx, interval, func(run *gitops.Run) {
				if err := printRun(out, errw, run, format); err != nil {
					fmt.Fprintf(errw, "cairn: reconcile: %v\n", err)
				}
			})
			fmt.Fprintln(errw, "reconcile: stopped by signal")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&repo, "repo", "", "spec repository: a git URL or a local path")
	f.StringVar(&ref, "ref", "", "branch, tag or commit to reconcile (default: the remote's default branch)")
	f.DurationVar(&interval, "interval", 5*time.Minute, "time between runs")
	f.BoolVar(&once, "once", false, "run once and exit")
	f.StringVar(&listen, "listen", "", "serve /metrics and /healthz on this address (e.g. :9090)")
	f.StringVar(&stateLoc, "state", "", "state store: a path, sqlite://path or postgres://… (default $CAIRN_STATE or <cache-dir>/state.db)")
	f.IntVar(&approvals, "approvals", 0, "approvals to count when GitHub is not configured")
	f.StringVar(&cacheDir, "cache-dir", "", "where clones and reports live (default <user cache dir>/cairn)")
	f.StringVar(&report, "report", "", "write the audit report here (default <cache-dir>/reports/<repo>.<format>)")
	f.StringVar(&reportFormat, "report-format", "markdown", "audit report format: markdown, json or html")
	f.StringVar(&reportDir, "report-dir", "", "keep dated reports here, <UTC date>-<audit head seq>.{md,json,html}, one set whenever the log head or the date changes, never overwritten (not under rendered/)")
	f.StringVar(&reportSign, "report-sign", "", "sign the --report-dir reports (<file>.sig) with this SSH key: a private key file, or a public key whose private half is in ssh-agent")
	f.StringVar(&reportSigner, "report-signer", "", "the principal --report-sign signs as (an identity of your allowed_signers file)")
	f.StringVar(&format, "format", "text", "run output: text or json (one JSON document per run)")
	f.StringVar(&actor, "actor", "", "who reconciles, for the audit log (default cairn-reconcile)")
	f.StringVar(&ghRepo, "github-repo", "", "GitHub repository owner/name for approvals (default $GITHUB_REPOSITORY)")
	f.DurationVar(&lockTimeout, "lock-timeout", time.Minute, "how long to wait for another apply")
	f.BoolVar(&selfHeal, "self-heal", false, "re-render rendered files found edited or missing")
	f.BoolVar(&failOnDrift, "fail-on-drift", false, "with --once, exit 1 when drift is found")
	f.StringVar(&prom, "prometheus", "", "Prometheus base URL for canary analysis of deployments with rollout.steps (default $CAIRN_PROMETHEUS_URL)")
	f.StringVar(&notify, "notify", "", "POST each rollback decision (JSON) to this URL")
	f.StringVar(&leaderID, "leader-id", "", "this reconciler's name in leader election (postgres:// state; default host:pid)")
	f.DurationVar(&leaderCheck, "leader-check", time.Second, "how often a standby tries to lead and the leader checks its lock")
	f.DurationVar(&leaderTimeout, "leader-timeout", 10*time.Second, "how long the server keeps the lock of a leader that vanished without closing its connection")
	return cmd
}

func cmdContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

// approvalSource counts approvals on GitHub when a token and a repository
// are configured, else uses --approvals.
func approvalSource(repoFlag string, static int) (gitops.Approvals, error) {
	token := strings.TrimSpace(os.Getenv("GITHUB_TOKEN"))
	repo := repoFlag
	if repo == "" {
		repo = strings.TrimSpace(os.Getenv("GITHUB_REPOSITORY"))
	}
	if token == "" || repo == "" {
		if repoFlag != "" {
			return nil, errors.New("--github-repo needs GITHUB_TOKEN")
		}
		return gitops.Static(static), nil
	}
	owner, name, err := ghub.SplitRepository(repo)
	if err != nil {
		return nil, err
	}
	return gitops.NewGitHubApprovals(token, strings.TrimSpace(os.Getenv("GITHUB_API_URL")), owner, name, nil)
}

// argoSource points the Argo CD Application at the reconciled repository's
// rendered/ tree; a local path has no URL a cluster could sync, so none.
func argoSource(co *gitops.Checkout, ref string) targets.GitSource {
	if filepath.IsAbs(co.Source) {
		return targets.GitSource{}
	}
	rev := ref
	if rev == "" {
		rev = "HEAD"
	}
	return targets.GitSource{RepoURL: co.Source, Revision: rev, Path: "rendered"}
}

func printRun(out, errw io.Writer, run *gitops.Run, format string) error {
	if format == "json" {
		b, err := json.Marshal(run)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "%s\n", b)
		return err
	}
	head := fmt.Sprintf("reconcile %s", run.Source)
	if run.Commit.SHA != "" {
		head += fmt.Sprintf(" at %.12s by %s", run.Commit.SHA, run.Commit.Author)
	}
	fmt.Fprintf(out, "%s: %s", head, run.Result)
	if run.Reason != "" {
		fmt.Fprintf(out, " (%s)", run.Reason)
	}
	fmt.Fprintln(out)
	for _, d := range run.Diagnostics {
		fmt.Fprintln(errw, d.String())
	}
	for _, a := range run.Blocked {
		fmt.Fprintf(out, "blocked: %s\n    %s\n", a.Summary(), a.Status)
	}
	for _, d := range run.Rollouts {
		fmt.Fprintf(out, "canary: %s %s %d%% → %d%%: %s: %s\n", d.Deployment, d.Canary, d.Weight, d.NextWeight, d.Action, d.Why)
	}
	for _, d := range run.Drift {
		fmt.Fprintf(out, "drift: %s\n", d)
	}
	for _, p := range run.Problems {
		fmt.Fprintf(errw, "warning: %s\n", p)
	}
	if run.Error != "" {
		fmt.Fprintf(errw, "cairn: reconcile: %s\n", run.Error)
	}
	if run.ReportPath != "" {
		fmt.Fprintf(out, "report: %s\n", run.ReportPath)
	}
	for _, p := range run.ScheduledReports {
		fmt.Fprintf(out, "report kept: %s\n", p)
	}
	fmt.Fprintf(out, "%d applied, %d blocked, %d drift item(s), eval cost $%.4f\n", len(run.Applied), len(run.Blocked), len(run.Drift), run.EvalCostUSD)
	return nil
}

// lockedWriter serialises writes from the run loop and the elector.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func runExit(run *gitops.Run, failOnDrift bool) error {
	switch {
	case run.Failed(), run.Result == gitops.ResultDenied, run.Result == gitops.ResultBlocked:
		return &exitError{code: exitDenied}
	case failOnDrift && len(run.Drift) > 0:
		return &exitError{code: exitDenied}
	}
	return nil
}

// postJSON posts v as JSON and wants a 2xx answer within 10 s.
func postJSON(ctx context.Context, url string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}
