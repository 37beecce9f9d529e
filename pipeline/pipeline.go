// Package pipeline is cairn's one chain of stages: load → compile → check
// (schema, references, built-in and team policies, waivers) → plan → apply
// → render, each step taking the value the step before returned. Every
// command that can change or serve something — check, plan, apply, render,
// pr and reconcile — calls it, so a gate that holds in one holds in all:
// an invalid spec, a team policy that does not compile and an unwaived
// policy denial block plan, apply and render alike, and render serves only
// what the state says passed its gates.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/internal/diag"
	"github.com/cairn-dev/cairn/policies"
	"github.com/cairn-dev/cairn/reconciler"
	"github.com/cairn-dev/cairn/state"
)

// CheckOptions are the inputs of the check stage besides the repo.
type CheckOptions struct {
	Now     time.Time      // policies judge expiry and deprecation at this time (zero: now)
	Context map[string]any // input.context for policies
	Compile compiler.Options
	// CacheDir keeps per-object compile results and per-policy results by
	// content hash (compiler and policies cache.go), so that a check after
	// a small edit redoes only what the edit can change; CacheSalt names the
	// cairn build. Empty: no cache.
	CacheDir, CacheSalt string
	// State is the registry state when the command has one: the history of
	// the high-risk systems' thresholds (input.context.bound_history, Art
	// 9(8)) is judged against it. Nil: every bound's history is unknown.
	State state.Ops
}

// Checked is a spec repo compiled and checked.
type Checked struct {
	Dir    string
	Bundle *compiler.Bundle // nil when the spec does not compile
	// Diagnostics are the compile errors and the policy results (errors of
	// policies that do not compile, denials, warnings, waived), sorted.
	Diagnostics diag.List
	// Policies are the policies that ran (for SARIF rule metadata).
	Policies []policies.Policy
	// Evaluated are the policies that ran; the others' results came from
	// the cache.
	Evaluated []string
	Now       time.Time
}

// Check loads and compiles the repo and checks the bundle against the
// built-in and team policies. What is wrong with the repo is in
// Diagnostics; the error is for a failure to evaluate at all.
func Check(ctx context.Context, dir string, opts CheckOptions) (*Checked, error) {
	if opts.Now.IsZero() {
		opts.Now = time.Now().UTC()
	}
	c := &Checked{Dir: dir, Now: opts.Now}
	// The policies compile while the specs do: they do not depend on them.
	type engine struct {
		eng *policies.Engine
		err error
	}
	ready := make(chan engine, 1)
	go func() {
		eng, err := policies.New(policies.Options{Dir: dir, CacheDir: opts.CacheDir, CacheSalt: opts.CacheSalt})
		ready <- engine{eng, err}
	}()
	copts := opts.Compile
	copts.CacheDir, copts.CacheSalt = opts.CacheDir, opts.CacheSalt
	b, ds := compiler.Compile(dir, copts)
	e := <-ready
	c.Diagnostics = ds
	if b == nil || ds.Count(diag.Error) > 0 {
		c.Diagnostics.Sort()
		return c, nil
	}
	c.Bundle = b
	eng, err := e.eng, e.err
	if err != nil {
		var l diag.List
		if !errors.As(err, &l) {
			return c, fmt.Errorf("loading policies: %w", err)
		}
		c.Diagnostics = append(c.Diagnostics, l...)
		c.Diagnostics.Sort()
		return c, nil
	}
	c.Policies = eng.Policies()
	pctx, err := boundHistory(ctx, b, dir, opts)
	if err != nil {
		return c, fmt.Errorf("reading the bound history: %w", err)
	}
	pd, err := eng.Evaluate(ctx, b, opts.Now, pctx)
	if err != nil {
		return c, fmt.Errorf("evaluating policies: %w", err)
	}
	c.Evaluated = eng.Ran()
	c.Diagnostics = append(c.Diagnostics, pd...)
	c.Diagnostics.Sort()
	return c, nil
}

// boundHistory adds input.context.bound_history when the specs declare a
// high-risk AI system: the verdict on each threshold its deployments are
// gated by (reconciler.JudgeBounds).
func boundHistory(ctx context.Context, b *compiler.Bundle, dir string, opts CheckOptions) (map[string]any, error) {
	objs := reconciler.SystemObjects(b, true)
	if len(objs) == 0 {
		return opts.Context, nil
	}
	hist, err := reconciler.JudgeBounds(ctx, b, opts.State, dir, objs)
	if err != nil {
		return nil, err
	}
	out := maps.Clone(opts.Context)
	if out == nil {
		out = map[string]any{}
	}
	out["bound_history"] = hist
	return out, nil
}

// Compiled reports whether the spec compiled (a bundle exists).
func (c *Checked) Compiled() bool { return c.Bundle != nil }

// Blocking returns what blocks every change: errors (an invalid spec, a
// policy that does not compile) and unwaived denials.
func (c *Checked) Blocking() diag.List { return c.Diagnostics.Blocking() }

// InvalidError says the spec does not compile, so there is no bundle to plan,
// apply or render; Diagnostics says where.
type InvalidError struct{ Diagnostics diag.List }

func (e *InvalidError) Error() string {
	return fmt.Sprintf("the spec is invalid: %d error(s): %s", e.Diagnostics.Count(diag.Error), e.Diagnostics.Error())
}

// DeniedError says the check stage blocks the change (an unwaived denial or
// a policy that does not compile): nothing is applied or rendered.
type DeniedError struct{ Diagnostics diag.List }

func (e *DeniedError) Error() string {
	return fmt.Sprintf("the policy check blocks this change: %d denial(s) or error(s): %s", len(e.Diagnostics), e.Diagnostics.Error())
}

func (c *Checked) requireBundle() error {
	if c.Bundle == nil {
		return &InvalidError{Diagnostics: c.Diagnostics}
	}
	return nil
}

// Plan plans the change from the state to the checked bundle. The plan
// carries the policy results: with a blocking one every action is blocked
// by it, shown with its file:line.
func Plan(ctx context.Context, c *Checked, st state.Ops, opts reconciler.Options) (*reconciler.Plan, error) {
	if err := c.requireBundle(); err != nil {
		return nil, err
	}
	opts.Policy = c.Diagnostics
	if opts.Now == nil {
		now := c.Now
		opts.Now = func() time.Time { return now }
	}
	return reconciler.BuildPlan(ctx, c.Bundle, st, opts)
}

// Apply plans and applies in one step (`cairn apply` without a plan file).
// A blocked check changes nothing.
func Apply(ctx context.Context, c *Checked, st state.Store, opts reconciler.ApplyOptions) (*reconciler.Result, error) {
	if err := c.requireBundle(); err != nil {
		return nil, err
	}
	if bl := c.Blocking(); len(bl) > 0 {
		return nil, denied(ctx, c, st, bl, opts)
	}
	opts.Options.Policy = c.Diagnostics
	return reconciler.PlanAndApply(ctx, c.Bundle, st, opts)
}

// denied records an apply the check refused (the audit log keeps every
// decision, refusals too) and returns the DeniedError.
func denied(ctx context.Context, c *Checked, st state.Store, bl diag.List, opts reconciler.ApplyOptions) error {
	if err := reconciler.RecordDenied(ctx, st, c.Bundle.Hash(), bl, opts); err != nil {
		return fmt.Errorf("recording the refused apply: %w", err)
	}
	return &DeniedError{Diagnostics: bl}
}

// ApplySaved applies exactly a saved plan. The repo is checked again: the
// plan is refused as stale when the specs or the state changed since it was
// made, and a plan the check blocks (now or then) changes nothing.
func ApplySaved(ctx context.Context, c *Checked, p *reconciler.Plan, st state.Store, opts reconciler.ApplyOptions) (*reconciler.Result, error) {
	if err := c.requireBundle(); err != nil {
		return nil, err
	}
	if bl := c.Blocking(); len(bl) > 0 {
		opts.Options.Approvals = p.Approvals
		return nil, denied(ctx, c, st, bl, opts)
	}
	if p.BundleHash != c.Bundle.Hash() {
		return nil, &reconciler.StalePlanError{Why: fmt.Sprintf("the specs changed since it was made (bundle %s, now %s)", p.BundleHash, c.Bundle.Hash())}
	}
	// The approvals the plan was made with are the ones its gates counted.
	opts.Options.Approvals = p.Approvals
	opts.Options.Policy = c.Diagnostics
	return reconciler.Apply(ctx, p, c.Bundle, st, opts)
}
