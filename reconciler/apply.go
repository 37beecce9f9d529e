package reconciler

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/internal/atomicfile"
	"github.com/cairn-dev/cairn/internal/diag"
	"github.com/cairn-dev/cairn/state"
	"github.com/cairn-dev/cairn/targets"
)

// ApplyLock is the name of the lock one apply holds.
const ApplyLock = "apply"

// ApplyOptions are the plan options plus who applies, when, and how long to
// wait for another apply.
type ApplyOptions struct {
	Options
	Actor  string // recorded in the audit log
	Commit string // the spec repo's commit, recorded in the audit log
	// RepoURL is where the spec repo lives (its git remote, without
	// credentials), recorded with the apply for OpenLineage's
	// sourceCodeLocation; empty when unknown.
	RepoURL string
	// ApprovedBy are the approvals counted, by login and time (from the
	// pull request); empty with approvals from --approvals, which the audit
	// log then records as unattributed.
	ApprovedBy []Approver
	// Hotfix records the apply as a hotfix (apply --hotfix, a Cairn-Hotfix:
	// trailer): operating metrics count it as rework.
	Hotfix      bool
	Now         func() time.Time // the clock (tests pass a fixed one)
	LockTimeout time.Duration    // how long to wait for another apply; 0 = fail at once
	// OnAction, if set, is called after each action is applied (for progress output).
	OnAction func(Action)
	// TrainingClient posts training webhooks; nil means a client with a 10 s timeout.
	TrainingClient *http.Client
	// TriggerTimeout bounds one training trigger, retries included
	// (default 30 s): an unreachable or silent webhook never wedges an apply.
	TriggerTimeout time.Duration
}

// Approver is one counted approval.
type Approver struct {
	Login string    `json:"login"`
	At    time.Time `json:"at"`
}

// Result is what an apply did.
type Result struct {
	Plan    *Plan    `json:"plan"`    // the plan applied
	Applied []Action `json:"applied"` // in the order applied
	// Blocked are the actions held back: blocked in the plan, or held when
	// applied because a gate they depend on did not pass (an eval that ran
	// and failed, a move held, a file whose content would name a version
	// that did not pass).
	Blocked []Action `json:"blocked"`
	// Failed are training triggers that could not be delivered: recorded in
	// state and in the audit log, retried with back-off by later applies.
	Failed []Action `json:"failed,omitempty"`
	// Interrupted: ctx was cancelled, Apply stopped between two actions (the
	// error wraps ErrInterrupted); the next apply resumes.
	Interrupted bool `json:"interrupted,omitempty"`
	// Served are the serve entries the apply appended: the deployments
	// whose served versions it changed.
	Served []ServeEntry `json:"served,omitempty"`
}

// Partial reports whether some actions were applied and others held back.
func (r *Result) Partial() bool {
	return len(r.Applied) > 0 && (len(r.Blocked) > 0 || len(r.Failed) > 0)
}

// ErrInterrupted is returned (wrapped, with ctx's cause) when Apply stops
// because its context was cancelled: the running action was finished and
// recorded, no further one was started.
var ErrInterrupted = errors.New("apply interrupted")

// DeniedError: a plan with compile errors or unwaived policy denials is
// never applied; nothing changes.
type DeniedError struct{ Denials diag.List }

func (e *DeniedError) Error() string {
	return fmt.Sprintf("the policy check denies this change (%s); nothing applied", strings.TrimPrefix(denialStatus(e.Denials), "blocked: policy: "))
}

// interrupted marks res and returns the error saying how far apply got.
func interrupted(ctx context.Context, res *Result) error {
	res.Interrupted = true
	return fmt.Errorf("%w after %d action(s) (the next apply resumes): %w", ErrInterrupted, len(res.Applied), context.Cause(ctx))
}

// LockError says another apply holds the lock.
type LockError struct {
	Holder state.LockHolder
	Waited time.Duration
}

func (e *LockError) Error() string {
	return fmt.Sprintf("another apply holds the state lock: %s (waited %s; see --lock-timeout)", e.Holder, e.Waited.Round(time.Millisecond))
}

// crashHook lets the crash test kill the process at every step; nil in production.
var crashHook func(point string)

func hook(point string) {
	if crashHook != nil {
		crashHook(point)
	}
}

// Apply applies exactly the plan p, made from bundle b, and nothing else.
// A denied plan changes nothing (DeniedError). Under the apply lock it first
// refuses a plan made against another bundle or state (StalePlanError), then
// runs the plan's ready actions in order, each state change in one
// transaction with its audit entry, so a killed apply leaves every action
// either done or not started. Gates are checked again as each action runs: a
// move whose eval ran and failed is held, and a rendered file whose content
// would differ from the plan's (because a move it depends on was held) is
// held too, so no file ever names a version that did not pass. Blocked and
// held actions are in Result.Blocked, not an error.
//
// Cancelling ctx (a signal) does not abort the running action: each action
// runs to completion on a context without ctx's cancellation (so an eval that
// was paid for is recorded), and ctx is checked before the next one; Apply
// then returns Result.Interrupted and an error wrapping ErrInterrupted.
func Apply(ctx context.Context, p *Plan, b *compiler.Bundle, st state.Store, opts ApplyOptions) (res *Result, err error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Options.Now == nil {
		opts.Options.Now = opts.Now
	}
	if opts.Actor == "" {
		opts.Actor = "unknown"
	}
	res = &Result{Plan: p, Applied: []Action{}, Blocked: []Action{}}
	if p.Denied {
		if err := RecordDenied(ctx, st, p.BundleHash, p.Denials(), opts); err != nil {
			return res, err
		}
		return res, &DeniedError{Denials: p.Denials()}
	}
	holder, err := lock(ctx, st, opts)
	if err != nil {
		return res, err
	}
	defer st.ReleaseLock(context.WithoutCancel(ctx), ApplyLock, holder.ID)
	hook("locked")
	if err := checkFresh(ctx, p, b.Hash(), st); err != nil {
		return res, err
	}
	// The thresholds this bundle puts in force, when they changed: what
	// "prior-defined" (Art 9(8)) is judged against.
	if err := st.Update(ctx, func(tx state.Ops) error {
		return recordBounds(ctx, tx, b, state.AuditEntry{Time: opts.Now().UTC(), Actor: opts.Actor, Commit: opts.Commit, Object: "bundles/" + p.BundleHash})
	}); err != nil {
		return res, fmt.Errorf("recording the bounds in force: %w", err)
	}
	// Whatever this apply changed — all of it, part of it before an error
	// or an interruption — what each deployment serves now is recorded
	// (serve entries, for lineage) before the lock is released.
	before, err := st.ListRecords(ctx, RecordDeployment, "")
	if err != nil {
		return res, err
	}
	rendered := map[string]bool{}
	for name := range before {
		rendered[name] = true
	}
	ap := &applier{b: b, st: st, opts: opts, plan: p}
	defer func() {
		served, serr := RecordServing(context.WithoutCancel(ctx), st, b, opts.Now(), opts.Actor, opts.Commit, rendered)
		res.Served = append(res.Served, served...)
		if serr != nil && err == nil {
			err = fmt.Errorf("recording what the deployments serve: %w", serr)
		}
		// An apply that changed something ends in the log as it began:
		// what it held back, and the error that stopped it.
		if derr := ap.done(context.WithoutCancel(ctx), res, err); derr != nil && err == nil {
			err = derr
		}
	}()
	for _, a := range p.Actions {
		if ctx.Err() != nil {
			return res, interrupted(ctx, res)
		}
		if !a.Ready() {
			res.Blocked = append(res.Blocked, a)
			continue
		}
		a, ok, err := ap.recheck(context.WithoutCancel(ctx), a)
		if err != nil {
			return res, fmt.Errorf("%s %s: %w", a.Type, a.Object, err)
		}
		if !ok {
			res.Blocked = append(res.Blocked, a)
			continue
		}
		hook("before " + a.Key())
		if err := ap.execute(context.WithoutCancel(ctx), a); err != nil {
			var tf *triggerFailure
			if errors.As(err, &tf) {
				a.Status = "failed: " + tf.Error()
				res.Failed = append(res.Failed, a)
				continue
			}
			return res, fmt.Errorf("%s %s: %w", a.Type, a.Object, err)
		}
		hook("after " + a.Key())
		res.Applied = append(res.Applied, a)
		if opts.OnAction != nil {
			opts.OnAction(a)
		}
	}
	if err := ap.finish(context.WithoutCancel(ctx)); err != nil {
		return res, err
	}
	return res, nil
}

// PlanAndApply is `cairn apply` without a plan file: it plans against the
// state and applies that plan. When applying held something back that the
// plan had counted on (an eval ran and failed, so its move was held and the
// files that would have named the new version too), it plans again from the
// state as it now is and applies what is ready, until a round applies
// nothing: one apply converges as far as the gates allow. A plan made stale
// by another apply that finished while this one waited for the lock is made
// again.
func PlanAndApply(ctx context.Context, b *compiler.Bundle, st state.Store, opts ApplyOptions) (*Result, error) {
	total := &Result{Applied: []Action{}, Blocked: []Action{}}
	stale := 0
	for {
		p, err := BuildPlan(ctx, b, st, opts.Options)
		if err != nil {
			if ctx.Err() != nil {
				return total, interrupted(ctx, total)
			}
			return total, err
		}
		if total.Plan == nil {
			total.Plan = p
		}
		res, err := Apply(ctx, p, b, st, opts)
		var se *StalePlanError
		if errors.As(err, &se) && stale < 3 {
			stale++
			continue
		}
		total.Applied = append(total.Applied, res.Applied...)
		total.Served = append(total.Served, res.Served...)
		total.Failed = append(total.Failed, res.Failed...)
		total.Blocked = res.Blocked
		total.Interrupted = res.Interrupted
		if err != nil || len(res.Applied) == 0 || !heldWhileApplying(p, res) {
			return total, err
		}
	}
}

// heldWhileApplying reports whether an action the plan had ready was held
// when applied.
func heldWhileApplying(p *Plan, res *Result) bool {
	ready := map[string]bool{}
	for _, a := range p.Actions {
		if a.Ready() {
			ready[a.Key()] = true
		}
	}
	for _, a := range res.Blocked {
		if ready[a.Key()] {
			return true
		}
	}
	return false
}

func lock(ctx context.Context, st state.Store, opts ApplyOptions) (state.LockHolder, error) {
	host, _ := os.Hostname()
	var id [8]byte
	_, _ = rand.Read(id[:])
	h := state.LockHolder{ID: hex.EncodeToString(id[:]), Actor: opts.Actor, Host: host, PID: os.Getpid(), Since: opts.Now().UTC()}
	start := time.Now()
	for {
		cur, ok, err := st.AcquireLock(ctx, ApplyLock, h)
		if err != nil {
			return h, err
		}
		if ok {
			return h, nil
		}
		// A holder on this machine whose process is gone was killed mid-apply:
		// take the lock over (audited) so the next apply can resume its work.
		if cur.Host == host && cur.PID != os.Getpid() && !processAlive(cur.PID) {
			if released, err := st.ReleaseLock(ctx, ApplyLock, cur.ID); err != nil {
				return h, err
			} else if released {
				before, _ := json.Marshal(cur)
				if _, err := st.AppendAudit(ctx, state.AuditEntry{Time: opts.Now(), Actor: opts.Actor, Commit: opts.Commit,
					Action: "break_stale_lock", Object: "locks/" + ApplyLock, Before: string(before)}); err != nil {
					return h, err
				}
			}
			continue
		}
		waited := time.Since(start)
		if waited >= opts.LockTimeout {
			return h, &LockError{Holder: cur, Waited: waited}
		}
		select {
		case <-ctx.Done():
			return h, ctx.Err()
		case <-time.After(min(100*time.Millisecond, opts.LockTimeout-waited)):
		}
	}
}

func doc(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func pointerDoc(field, name, version string) string {
	if version == "" {
		return ""
	}
	return doc(map[string]string{field: name, "version": version})
}

// writeRendered restores or writes a rendered file, or removes a stale one
// (After ""), through targets.Write like `cairn render`. A stale file is
// re-checked for the cairn header first: what a person wrote is never removed.
func writeRendered(root string, a Action, content []byte) error {
	rel, err := renderedRel(a.Object)
	if err != nil {
		return err
	}
	dir := filepath.Join(root, RenderedDir)
	if a.After == "" {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if !targets.Generated(rel, data) {
			return fmt.Errorf("%s has no cairn header: not removing a file cairn did not write", a.Object)
		}
		return targets.Write(dir, nil, []targets.Change{{Status: "extra", Path: rel}})
	}
	return targets.Write(dir, []targets.File{{Path: rel, Content: content}}, []targets.Change{{Status: "changed", Path: rel}})
}

// writeFile writes rel under root atomically (temp file + rename), refusing
// paths that leave root.
func writeFile(root, rel string, content []byte) error {
	clean := filepath.Clean(filepath.FromSlash(rel))
	if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return fmt.Errorf("rendered path %q leaves the spec repo", rel)
	}
	return atomicfile.Write(filepath.Join(root, clean), content, 0o644)
}
