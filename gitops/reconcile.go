package gitops

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	htemplate "html/template"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cairn-dev/cairn/audit"
	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/compliance"
	"github.com/cairn-dev/cairn/internal/diag"
	"github.com/cairn-dev/cairn/operating"
	"github.com/cairn-dev/cairn/pipeline"
	"github.com/cairn-dev/cairn/prices"
	"github.com/cairn-dev/cairn/reconciler"
	"github.com/cairn-dev/cairn/rollout"
	"github.com/cairn-dev/cairn/signing"
	"github.com/cairn-dev/cairn/state"
	"github.com/gliderlabs/ssh"
	"github.com/prometheus/client_golang/prometheus"
)

// Results of a run.
const (
	ResultApplied     = "applied"     // actions applied, none blocked
	ResultBlocked     = "blocked"     // some actions wait for a gate
	ResultNoop        = "noop"        // something changed but there was nothing to do
	ResultSkipped     = "skipped"     // same commit, same state: no work done
	ResultDenied      = "denied"      // a policy denies the spec: nothing applied
	ResultInvalid     = "invalid"     // the spec does not compile
	ResultError       = "error"       // fetch, state or apply failed
	ResultInterrupted = "interrupted" // stopped by a signal between actions
	ResultStandby     = "standby"     // another reconciler is the leader
)

// RecordLast is the record kind where reconcile remembers, per repository
// and ref, the last commit it reconciled and the state fingerprint after it.
const RecordLast = "gitops.last"

// Leader is leader election: only the leader reconciles. gitops/leader
// (a PostgreSQL advisory lock) implements it; nil means always the leader.
type Leader interface {
	Leading(ctx context.Context) (bool, error)
}

// campaigner is a Leader that campaigns continuously (gitops/leader's
// Elector): Loop runs it, so a standby takes over as soon as the lock is free.
type campaigner interface {
	Run(ctx context.Context, onChange func(leading bool)) error
}

// LeaderInfo is what /healthz shows of the election when the Leader also
// implements it (gitops/leader's Elector does): this candidate's ID,
// whether it leads now and who leads.
type LeaderInfo interface {
	IsLeader() bool
	ID() string
	Leader(ctx context.Context) (string, error)
}

// Config configures a Reconciler.
type Config struct {
	Source   string // a git URL or a local path (cloned like a URL)
	Ref      string // branch, tag or commit; "" = the remote's default branch
	CacheDir string // clones and reports live here
	Store    state.Store
	// Plugins returns the eval runner, renderer and RAG snapshotter for a
	// checkout, normally reconciler.Plugins (nil: none, so eval gates without
	// evidence stay blocked and nothing is rendered). Approvals in what it
	// returns are replaced by the run's (which it is passed, for plug-ins that
	// look at gates themselves).
	Plugins   func(co *Checkout, approvals int) (reconciler.Options, error)
	Approvals Approvals // nil = Static(0)
	Leader    Leader    // nil = always the leader
	// Catalog is the price catalog evals use (nil = the embedded one); it is
	// compared with what recorded runs used.
	Catalog      *prices.Catalog
	Now          func() time.Time
	Actor        string        // recorded in the audit log, with the commit's author; default "cairn-reconcile"
	LockTimeout  time.Duration // how long to wait for another apply
	ReportPath   string        // default <CacheDir>/reports/<repo>.<format>
	ReportFormat string        // md (default), json or html
	// ReportDir keeps dated reports D/<UTC date>-<head seq>.{md,json,html},
	// one set whenever the audit log's head or the date changes, never
	// overwritten; empty: none.
	ReportDir string
	// ReportSigner signs the written reports (<file>.sig, SSHSIG) as the
	// principal ReportSignerID; nil: unsigned.
	ReportSigner   ssh.Signer
	ReportSignerID string
	// SelfHeal re-renders rendered files found edited or missing (audited
	// render_target actions) instead of only reporting them.
	SelfHeal bool
	Metrics  *Metrics
	// OnAction is called after each applied action (progress output).
	OnAction func(reconciler.Action)
	// OnLeaderChange, if set, is told when Loop's campaign wins or loses
	// leadership (only with a Leader that campaigns, such as leader.Elector).
	OnLeaderChange func(leading bool)
	// Analysis queries live metrics for canary analysis (rollout.steps):
	// each run decides every canary's step and records it before planning,
	// so the render serves the new share. Nil: no analysis.
	Analysis rollout.Querier
	// OnRollback is told of each rollback decision and the commit being
	// reconciled (the CLI posts it to a webhook and sets a commit status).
	OnRollback func(commit string, d rollout.Decision)
	// Alerts receives Alertmanager webhooks at AlertsPath on Handler (nil:
	// not served): alerts become evidence for training.retrain_when.alert.
	Alerts http.Handler
}

// Run is what one reconcile run did and found. Plain data.
type Run struct {
	Source      string              `json:"source"`
	Ref         string              `json:"ref,omitempty"`
	Commit      Commit              `json:"commit"`
	BundleHash  string              `json:"bundle_hash,omitempty"`
	Started     time.Time           `json:"started"`
	Finished    time.Time           `json:"finished"`
	Result      string              `json:"result"`
	Reason      string              `json:"reason,omitempty"` // why work was done or skipped
	Error       string              `json:"error,omitempty"`
	Approvals   Approval            `json:"approvals"`
	Diagnostics diag.List           `json:"diagnostics,omitempty"` // compile errors and policy results
	Applied     []reconciler.Action `json:"applied"`
	Blocked     []reconciler.Action `json:"blocked"`
	Undelivered []reconciler.Action `json:"undelivered,omitempty"` // training triggers not delivered (retried later)
	Drift       []DriftItem         `json:"drift"`
	Problems    []string            `json:"problems,omitempty"`
	Rollouts    []rollout.Decision  `json:"rollouts,omitempty"` // canary analyses of this run
	EvalCostUSD float64             `json:"eval_cost_usd"`
	ReportPath  string              `json:"report_path,omitempty"`
	// ScheduledReports are the dated reports this run wrote (Config.ReportDir).
	ScheduledReports []string      `json:"scheduled_reports,omitempty"`
	Report           *audit.Report `json:"-"`
	// Operating are the operating metrics over the OperatingWindow ending
	// at the run (the report's section, /metrics).
	Operating *operating.Report `json:"-"`
	// Compliance is the framework report of the declared AI systems.
	Compliance *compliance.Report `json:"-"`
}

// OperatingWindow is the window of the operating metrics a reconcile run
// reports and exports.
const OperatingWindow = 90 * 24 * time.Hour

// OperatingMetrics computes the operating metrics over window ending at
// now, with the spec repo's git history at dir when it has one.
// object, when set, keeps only the deployments of its versions.
func OperatingMetrics(ctx context.Context, b *compiler.Bundle, st state.Ops, dir string, now time.Time, window time.Duration, object string) (*operating.Report, error) {
	o := operating.Options{Now: now, Window: window, Object: object}
	if om := b.Governance.OperatingMetrics; om != nil {
		fw, err := time.ParseDuration(om.FailureWindow)
		if err != nil {
			return nil, fmt.Errorf("governance.operating_metrics.failure_window %q: %w", om.FailureWindow, err)
		}
		o.FailureWindow = fw
	}
	if h, ok := OpenHistory(dir); ok {
		o.History = h
	}
	return operating.Compute(ctx, b, st, o)
}

// Failed reports whether the run ended in an error or an invalid spec.
func (r *Run) Failed() bool { return r.Result == ResultError || r.Result == ResultInvalid }

type lastRecord struct {
	Commit      string            `json:"commit"`
	Fingerprint string            `json:"fingerprint"`
	Approvals   int               `json:"approvals"`
	Result      string            `json:"result"`
	BundleHash  string            `json:"bundle_hash"`
	Pointers    map[string]string `json:"pointers"`
	Time        time.Time         `json:"time"`
}

// Reconciler runs reconcile passes over one repository and ref.
type Reconciler struct {
	cfg     Config
	health  healthState
	wake    chan struct{}
	standby atomic.Bool // the last run stood by
}

// New checks cfg and returns a Reconciler.
func New(cfg Config) (*Reconciler, error) {
	if cfg.Store == nil {
		return nil, errors.New("gitops: no state store")
	}
	if cfg.CacheDir == "" {
		return nil, errors.New("gitops: no cache directory")
	}
	if cfg.Source == "" {
		return nil, errors.New("no repository: pass --repo PATH or URL")
	}
	switch cfg.ReportFormat {
	case "", "markdown", "md":
		cfg.ReportFormat = "md" // the file extension
	case "json", "html":
	default:
		return nil, fmt.Errorf("unknown report format %q (md, json, html)", cfg.ReportFormat)
	}
	if cfg.ReportDir != "" && slices.Contains(strings.Split(filepath.ToSlash(filepath.Clean(cfg.ReportDir)), "/"), "rendered") {
		return nil, fmt.Errorf("report directory %s is under rendered/: reports are evidence, kept apart from the files cairn renders and rewrites", cfg.ReportDir)
	}
	if cfg.ReportSigner != nil && cfg.ReportSignerID == "" {
		return nil, errors.New("a report signer needs the principal it signs as")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Actor == "" {
		cfg.Actor = "cairn-reconcile"
	}
	if cfg.Approvals == nil {
		cfg.Approvals = Static(0)
	}
	if cfg.Metrics != nil {
		// A second Reconciler on the same Metrics finds it registered.
		if err := cfg.Metrics.Registry.Register(driftCollector{st: cfg.Store}); err != nil && !errors.As(err, new(prometheus.AlreadyRegisteredError)) {
			return nil, fmt.Errorf("gitops: metrics: %w", err)
		}
	}
	return &Reconciler{cfg: cfg, wake: make(chan struct{}, 1)}, nil
}

// Wake makes a running Loop reconcile now instead of at its next tick (a
// standby that just became the leader should not wait an interval). Never blocks.
func (r *Reconciler) Wake() {
	select {
	case r.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// Health is the /healthz document now.
func (r *Reconciler) Health() Health { return r.health.get() }

// Loop reconciles now and then every interval until ctx is cancelled (a
// signal): the current action finishes, then Loop returns nil. onRun (may be
// nil) sees every run.
func (r *Reconciler) Loop(ctx context.Context, interval time.Duration, onRun func(*Run)) error {
	if interval <= 0 {
		return fmt.Errorf("interval %s: must be positive", interval)
	}
	if c, ok := r.cfg.Leader.(campaigner); ok {
		done := make(chan struct{})
		defer func() { <-done }() // the campaign has resigned when Loop returns
		go func() {
			defer close(done)
			_ = c.Run(ctx, func(leading bool) { // errors only when ctx ends
				if r.cfg.OnLeaderChange != nil {
					r.cfg.OnLeaderChange(leading)
				}
				// A standby that just won runs now, not an interval later.
				if leading && r.standby.Load() {
					r.Wake()
				}
			})
		}()
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		run := r.RunOnce(ctx)
		if onRun != nil {
			onRun(run)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-r.wake:
		}
	}
}

// RunOnce fetches, and when the commit, the state or the approvals changed
// since the last run compiles, checks, plans, applies and renders; every run
// (also one that skips the apply) reports drift and writes the audit report.
func (r *Reconciler) RunOnce(ctx context.Context) *Run {
	run := &Run{Source: RedactURL(r.cfg.Source), Ref: r.cfg.Ref, Started: r.cfg.Now().UTC(),
		Applied: []reconciler.Action{}, Blocked: []reconciler.Action{}, Drift: []DriftItem{}}
	r.run(ctx, run)
	run.Finished = r.cfg.Now().UTC()
	if run.Finished.Before(run.Started) {
		run.Finished = run.Started
	}
	sortDrift(run.Drift)
	r.standby.Store(run.Result == ResultStandby)
	r.cfg.Metrics.observe(run)
	r.health.set(run)
	return run
}

func (r *Reconciler) fail(run *Run, format string, args ...any) {
	run.Result, run.Error = ResultError, fmt.Sprintf(format, args...)
}

func (r *Reconciler) run(ctx context.Context, run *Run) {
	if ctx.Err() != nil {
		run.Result = ResultInterrupted
		return
	}
	if r.cfg.Leader != nil {
		ok, err := r.cfg.Leader.Leading(ctx)
		if err != nil {
			r.fail(run, "leader election: %v", err)
			return
		}
		if !ok {
			run.Result, run.Reason = ResultStandby, "another reconciler is the leader"
			return
		}
	}
	co, err := Fetch(ctx, r.cfg.Source, r.cfg.Ref, r.cfg.CacheDir)
	if err != nil {
		if ctx.Err() != nil {
			run.Result = ResultInterrupted
			return
		}
		r.fail(run, "%v", err)
		return
	}
	run.Source, run.Ref, run.Commit = co.Source, co.Ref, co.Commit
	st := r.cfg.Store
	now := r.cfg.Now().UTC()

	// Hand edits are looked for before apply, which may overwrite them.
	rendered, err := RenderedDrift(ctx, st, co.Dir)
	if err != nil {
		r.fail(run, "drift: %v", err)
		return
	}
	run.Drift = append(run.Drift, rendered...)

	// The one pipeline every command calls: compile, then check against the
	// built-in and team policies with waivers.
	chk, err := pipeline.Check(ctx, co.Dir, pipeline.CheckOptions{Now: now, State: st,
		Context: map[string]any{"reconcile": map[string]any{"commit": co.Commit.SHA, "ref": co.Ref}}})
	if err != nil {
		r.fail(run, "policy evaluation: %v", err)
		return
	}
	if !chk.Compiled() {
		run.Result, run.Diagnostics = ResultInvalid, chk.Diagnostics
		run.Error = fmt.Sprintf("the spec at %s does not compile: %d error(s)", shortSHA(co.Commit.SHA), chk.Diagnostics.Count(diag.Error))
		return
	}
	b := chk.Bundle
	run.BundleHash = b.Hash()
	pd := chk.Diagnostics
	run.Diagnostics = pd
	if pd.Count(diag.Error) > 0 {
		run.Result, run.Error = ResultInvalid, fmt.Sprintf("policies do not compile: %v", pd)
		return
	}

	approval, err := r.cfg.Approvals.Approvals(ctx, co.Commit.SHA)
	if err != nil {
		// Safe default: gates that need approvals stay blocked, the rest proceeds.
		run.Problems = append(run.Problems, fmt.Sprintf("approvals: %v; counting 0", err))
		approval = Approval{Source: "unavailable"}
	}
	run.Approvals = approval
	if r.cfg.Analysis != nil && pd.Count(diag.Deny) == 0 {
		r.analyze(ctx, run, b, co.Commit.SHA, now)
	}

	// Before the fingerprint: the day's heartbeat is part of what this run saw.
	if err := heartbeat(ctx, st, now, r.cfg.Actor); err != nil {
		run.Problems = append(run.Problems, "heartbeat: "+err.Error())
	}
	key := co.Source + " " + r.cfg.Ref
	last, err := readLast(ctx, st, key)
	if err != nil {
		r.fail(run, "%v", err)
		return
	}
	fp, err := Fingerprint(ctx, st)
	if err != nil {
		r.fail(run, "state fingerprint: %v", err)
		return
	}
	ptrs, err := PointerMap(ctx, st)
	if err != nil {
		r.fail(run, "%v", err)
		return
	}
	reason := changeReason(last, co.Commit.SHA, fp, approval.Count)
	if last != nil && last.Fingerprint != fp {
		audit, err := st.ListAudit(ctx)
		if err != nil {
			r.fail(run, "%v", err)
			return
		}
		run.Drift = append(run.Drift, MovedPointers(last.Pointers, ptrs, audit)...)
	}

	var plugins reconciler.Options
	if r.cfg.Plugins != nil {
		if plugins, err = r.cfg.Plugins(co, approval.Count); err != nil {
			r.fail(run, "plugins: %v", err)
			return
		}
	}
	// Eval runs meter cost with the catalog stale-eval detection compares
	// with (apply passes it to the runner with each request).
	if plugins.Prices == nil {
		plugins.Prices = r.cfg.Catalog
	}
	var runner *recordingRunner
	if plugins.Evals != nil {
		runner = &recordingRunner{inner: plugins.Evals, st: st}
		plugins.Evals = runner
	}
	plugins.Approvals = approval.Count

	blocked := map[string]bool{}
	switch {
	case pd.Count(diag.Deny) > 0:
		run.Result, run.Reason = ResultDenied, fmt.Sprintf("%d policy denial(s): nothing applied", pd.Count(diag.Deny))
	case reason == "":
		run.Result, run.Reason = ResultSkipped, "commit, state and approvals unchanged since the last run"
		// Which differences a gate explains, without running anything.
		p, err := pipeline.Plan(ctx, chk, st, reconciler.Options{Approvals: approval.Count})
		if err == nil {
			for _, a := range p.Blocked() {
				blocked[pointerKey(a.Object, a.Name)] = true
			}
		}
	default:
		run.Reason = reason
		if r.cfg.SelfHeal {
			if err := forgetDrifted(ctx, st, rendered); err != nil {
				r.fail(run, "self-heal: %v", err)
				return
			}
		}
		if !r.apply(ctx, run, chk, co, plugins) {
			if runner != nil {
				run.EvalCostUSD = runner.takeCost()
			}
			return
		}
		if runner != nil {
			run.EvalCostUSD = runner.takeCost()
		}
		for _, a := range run.Blocked {
			blocked[pointerKey(a.Object, a.Name)] = true
		}
	}

	after, err := PointerMap(ctx, st)
	if err != nil {
		r.fail(run, "%v", err)
		return
	}
	run.Drift = append(run.Drift, SpecDrift(b, after, blocked)...)
	stale, err := StaleEvals(ctx, b, st, r.cfg.Catalog)
	if err != nil {
		r.fail(run, "stale evals: %v", err)
		return
	}
	run.Drift = append(run.Drift, stale...)
	rep, err := audit.BuildReport(ctx, b, st, now)
	if err != nil {
		r.fail(run, "audit report: %v", err)
		return
	}
	rep.SetCheck(pd)
	run.Report = rep
	if run.Operating, err = OperatingMetrics(ctx, b, st, co.Dir, now, OperatingWindow, ""); err != nil {
		run.Problems = append(run.Problems, "operating metrics: "+err.Error())
	}
	ropts := compliance.Options{}
	if r.cfg.ReportSigner != nil {
		ropts.Signer, ropts.SignerKey = r.cfg.ReportSignerID, signing.Fingerprint(r.cfg.ReportSigner.PublicKey())
	}
	if run.Compliance, err = ComplianceReport(ctx, b, st, co.Dir, now, pd, ropts); err != nil {
		run.Problems = append(run.Problems, "compliance report: "+err.Error())
	}
	run.Drift = append(run.Drift, WaiverDrift(b, rep.Waivers)...)
	run.Drift = append(run.Drift, DeprecationDrift(b, pd, now)...)
	sortDrift(run.Drift)
	if err := r.writeReport(run, co); err != nil {
		run.Problems = append(run.Problems, "report: "+err.Error())
	}
	if err := r.scheduledReports(run, now); err != nil {
		run.Problems = append(run.Problems, "scheduled report: "+err.Error())
	}
	if run.Result == ResultSkipped {
		return
	}
	if err := r.record(ctx, run, key, co); err != nil {
		r.fail(run, "%v", err)
	}
}

// apply runs the plan. A cancelled ctx (SIGTERM) lets the running action
// finish: reconciler.Apply stops between actions and says so. It reports
// whether the run should go on to drift and the report.
func (r *Reconciler) apply(ctx context.Context, run *Run, chk *pipeline.Checked, co *Checkout, opts reconciler.Options) bool {
	res, err := pipeline.Apply(ctx, chk, r.cfg.Store, reconciler.ApplyOptions{
		Options: opts, Actor: r.cfg.Actor + " for " + co.Commit.Author, Commit: co.Commit.SHA, RepoURL: RepoURL(co.Source), Hotfix: co.Commit.Hotfix, ApprovedBy: approvers(run.Approvals), Now: r.cfg.Now, LockTimeout: r.cfg.LockTimeout,
		OnAction: func(a reconciler.Action) {
			run.Applied = append(run.Applied, a)
			if r.cfg.OnAction != nil {
				r.cfg.OnAction(a)
			}
		},
	})
	if errors.Is(err, reconciler.ErrInterrupted) || (err != nil && ctx.Err() != nil) {
		run.Result = ResultInterrupted
		run.Reason = fmt.Sprintf("stopped after %d action(s); the next run resumes", len(run.Applied))
		return false
	}
	if err != nil {
		var l diag.List
		if errors.As(err, &l) {
			run.Diagnostics = append(run.Diagnostics, l...)
		}
		r.fail(run, "apply: %v", err)
		return false
	}
	run.Blocked = res.Blocked
	run.Undelivered = res.Failed
	switch {
	case len(res.Blocked) > 0:
		run.Result = ResultBlocked
	case len(res.Applied) > 0:
		run.Result = ResultApplied
	default:
		run.Result = ResultNoop
	}
	return true
}

// record appends the run to the audit log and remembers the commit and the
// state fingerprint after it (computed last: the audit entry changes it).
func (r *Reconciler) record(ctx context.Context, run *Run, key string, co *Checkout) error {
	after, _ := marshalText(map[string]any{
		"commit": co.Commit.SHA, "author": co.Commit.Author, "ref": co.Ref, "result": run.Result, "reason": run.Reason,
		"applied": len(run.Applied), "blocked": len(run.Blocked), "drift": len(run.Drift),
		"approvals": run.Approvals.Count, "approvals_source": run.Approvals.Source, "approved_by": run.Approvals.Reviews,
		"approvals_excluded": run.Approvals.Excluded, "bundle_hash": run.BundleHash,
	})
	if _, err := r.cfg.Store.AppendAudit(ctx, state.AuditEntry{Time: r.cfg.Now().UTC(), Actor: r.cfg.Actor, Commit: co.Commit.SHA,
		Action: "reconcile", Object: "repos/" + co.Source, After: after}); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	fp, err := Fingerprint(ctx, r.cfg.Store)
	if err != nil {
		return err
	}
	ptrs, err := PointerMap(ctx, r.cfg.Store)
	if err != nil {
		return err
	}
	v, _ := json.Marshal(lastRecord{Commit: co.Commit.SHA, Fingerprint: fp, Approvals: run.Approvals.Count, Result: run.Result,
		BundleHash: run.BundleHash, Pointers: ptrs, Time: r.cfg.Now().UTC()})
	return r.cfg.Store.PutRecord(ctx, RecordLast, key, v)
}

func readLast(ctx context.Context, st state.Ops, key string) (*lastRecord, error) {
	raw, ok, err := st.GetRecord(ctx, RecordLast, key)
	if err != nil || !ok {
		return nil, err
	}
	var l lastRecord
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, fmt.Errorf("state record %s %q: %w", RecordLast, key, err)
	}
	return &l, nil
}

// changeReason says why a run must do work, or "" when nothing changed.
func changeReason(last *lastRecord, commit, fp string, approvals int) string {
	switch {
	case last == nil:
		return "first reconcile of this repository and ref"
	case last.Commit != commit:
		return fmt.Sprintf("new commit %s (last reconciled %s)", shortSHA(commit), shortSHA(last.Commit))
	case last.Fingerprint != fp:
		return "the state changed since the last run"
	case last.Approvals != approvals:
		return fmt.Sprintf("approvals changed from %d to %d", last.Approvals, approvals)
	case last.Result == ResultDenied || last.Result == ResultError || last.Result == ResultInterrupted:
		return "the last run did not finish (" + last.Result + ")"
	}
	return ""
}

// Fingerprint identifies the parts of the state a reconcile acts on (the
// plan's state reference: audit head, aliases and labels, rendered hashes,
// registered model versions).
func Fingerprint(ctx context.Context, st state.Ops) (string, error) {
	ref, err := reconciler.ReadStateRef(ctx, st)
	return ref.Fingerprint, err
}

// forgetDrifted clears the recorded hash of drifted rendered files, so that
// the plan renders them again (as audited render_target actions).
func forgetDrifted(ctx context.Context, st state.Store, items []DriftItem) error {
	for _, d := range items {
		if d.Kind == DriftRenderedEdited || d.Kind == DriftRenderedMissing {
			if err := st.SetRenderedHash(ctx, d.Object, ""); err != nil {
				return err
			}
		}
	}
	return nil
}

// AuditReport is the compliance audit report of a reconcile run: the
// reconciler's report (served versions with evidence, waivers, spec vs
// state, audit chain) plus the commit reconciled and the drift found. A
// report of a local spec directory (`cairn audit report`) has no Result:
// Source is the directory, Commit its git HEAD if any.
type AuditReport struct {
	*audit.Report
	Source    string      `json:"source"`
	Ref       string      `json:"ref,omitempty"`
	Commit    Commit      `json:"commit"`
	Result    string      `json:"result,omitempty"`
	Approvals Approval    `json:"approvals"`
	Drift     []DriftItem `json:"drift"`
	// Operating are the operating metrics over the report's window (cairn
	// metrics); nil when not computed.
	Operating *operating.Report `json:"operating,omitempty"`
	// Compliance is the framework report of the declared AI systems
	// (compliance.Build); nil when the specs declare none.
	Compliance *compliance.Report `json:"compliance,omitempty"`
}

// WriteAuditReport writes the run's report as md, json or html.
func WriteAuditReport(w io.Writer, run *Run, format string) error {
	if run.Report == nil {
		return errors.New("the run produced no report")
	}
	ar := AuditReport{Report: run.Report, Source: run.Source, Ref: run.Ref, Commit: run.Commit, Result: run.Result, Approvals: run.Approvals, Drift: run.Drift, Operating: run.Operating, Compliance: run.Compliance}
	return ar.Write(w, format)
}

// Write writes the report as md, json or html.
func (ar *AuditReport) Write(w io.Writer, format string) error {
	if ar.Report == nil {
		return errors.New("audit report: no report")
	}
	if ar.Drift == nil {
		ar.Drift = []DriftItem{}
	}
	switch format {
	case "json":
		b, err := json.MarshalIndent(ar, "", "  ")
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	case "html":
		view := struct {
			*AuditReport
			ComplianceHTML htemplate.HTML
			Style          htemplate.CSS
		}{AuditReport: ar, Style: htemplate.CSS(compliance.Style)}
		if ar.Compliance != nil {
			body, err := compliance.HTMLBody(ar.Compliance)
			if err != nil {
				return err
			}
			view.ComplianceHTML = body
		}
		return htmlAudit().Execute(w, view)
	case "md", "":
		var buf bytes.Buffer
		if err := audit.WriteReport(&buf, ar.Report, "md"); err != nil {
			return err
		}
		if err := mdAudit().Execute(&buf, ar); err != nil {
			return err
		}
		if ar.Compliance != nil {
			buf.WriteString("\n")
			if err := compliance.Write(&buf, ar.Compliance, "md"); err != nil {
				return err
			}
		}
		_, err := w.Write(buf.Bytes())
		return err
	}
	return fmt.Errorf("unknown report format %q (md, json, html)", format)
}

func (r *Reconciler) writeReport(run *Run, co *Checkout) error {
	path := r.cfg.ReportPath
	if path == "" {
		path = filepath.Join(r.cfg.CacheDir, "reports", cacheKey(co.Source)+"."+r.cfg.ReportFormat)
	}
	var buf bytes.Buffer
	if err := WriteAuditReport(&buf, run, r.cfg.ReportFormat); err != nil {
		return err
	}
	if err := WriteSigned(path, buf.Bytes(), r.cfg.ReportSigner, false); err != nil {
		return err
	}
	run.ReportPath = path
	return nil
}

// scheduledReports keeps the dated reports of ReportDir: one set per UTC
// date and audit-log head, each file signed when a signer is configured.
// A set already written is left as it is: reports are evidence, never
// overwritten.
func (r *Reconciler) scheduledReports(run *Run, now time.Time) error {
	if r.cfg.ReportDir == "" || run.Report == nil {
		return nil
	}
	if err := os.MkdirAll(r.cfg.ReportDir, 0o755); err != nil {
		return err
	}
	base := filepath.Join(r.cfg.ReportDir, fmt.Sprintf("%s-%d", now.UTC().Format("2006-01-02"), run.Report.Audit.Entries))
	for _, format := range []string{"md", "json", "html"} {
		path := base + "." + format
		if _, err := os.Stat(path); err == nil {
			continue
		}
		var buf bytes.Buffer
		if err := WriteAuditReport(&buf, run, format); err != nil {
			return err
		}
		if err := WriteSigned(path, buf.Bytes(), r.cfg.ReportSigner, true); err != nil {
			return err
		}
		run.ScheduledReports = append(run.ScheduledReports, path)
	}
	return nil
}

// marshalText is json.Marshal without HTML escaping, so that "Name <email>"
// reads as written in the audit log.
func marshalText(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// analyze decides the step of every canary with rollout.steps from live
// metrics and records it (progress, decision, audit entry), before the
// plan, so this run renders the share it set. A canary not served yet is
// skipped; a query that fails is a problem of the run, and its canary
// stays where it was.
func (r *Reconciler) analyze(ctx context.Context, run *Run, b *compiler.Bundle, commit string, now time.Time) {
	for _, name := range slices.Sorted(maps.Keys(b.Deployments)) {
		if len(b.Deployments[name].Rollout.Steps) == 0 {
			continue
		}
		dec, err := rollout.Run(ctx, r.cfg.Store, r.cfg.Analysis, b, name, rollout.Options{Now: now, Actor: r.cfg.Actor, Record: true})
		switch {
		case errors.Is(err, rollout.ErrNoCanary):
			continue
		case err != nil:
			run.Problems = append(run.Problems, "canary analysis: "+err.Error())
			continue
		}
		run.Rollouts = append(run.Rollouts, dec)
		// A step or a rollback changes what the deployment serves: lineage.
		if _, err := reconciler.RecordServing(ctx, r.cfg.Store, b, now, r.cfg.Actor, commit, nil); err != nil {
			run.Problems = append(run.Problems, "recording what the deployments serve: "+err.Error())
		}
		if dec.Action == rollout.Rollback && r.cfg.OnRollback != nil {
			r.cfg.OnRollback(commit, dec)
		}
	}
}
