package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/internal/diag"
	"github.com/cairn-dev/cairn/pipeline"
	"github.com/cairn-dev/cairn/reconciler"
	"github.com/cairn-dev/cairn/state"
)

// policyFlags are the check stage's flags, shared by every command that
// runs the pipeline (check, plan, apply, render).
type policyFlags struct {
	now     string
	context []string
}

func (f *policyFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.now, "now", "", "evaluate policies as of this time (RFC 3339 or YYYY-MM-DD, UTC); default: the current time")
	cmd.Flags().StringArrayVar(&f.context, "context", nil, "key=value made available to policies as input.context.key (repeatable)")
}

// check runs the pipeline's load → compile → check on dir.
func (f *policyFlags) check(cmd *cobra.Command, dir string) (*pipeline.Checked, error) {
	if err := requireDir(dir); err != nil {
		return nil, err
	}
	now, err := parseNow(f.now)
	if err != nil {
		return nil, exitf(exitUsage, "%s: %v", cmd.Name(), err)
	}
	pctx, err := parseContext(f.context)
	if err != nil {
		return nil, exitf(exitUsage, "%s: %v", cmd.Name(), err)
	}
	cacheDir, salt := cacheOptions(dir)
	// The state the command works on, when it exists: the bound history
	// of high-risk systems is judged against it (policy prior_defined_bounds).
	var st state.Store
	stateFlag := ""
	if fl := cmd.Flags().Lookup("state"); fl != nil {
		stateFlag = fl.Value.String()
	}
	if s, err := state.OpenExisting(cmd.Context(), state.Location(stateFlag, dir)); err == nil {
		st = s
		defer st.Close()
	}
	opts := pipeline.CheckOptions{Now: now, Context: pctx, CacheDir: cacheDir, CacheSalt: salt}
	if st != nil {
		opts.State = st
	}
	c, err := pipeline.Check(cmd.Context(), dir, opts)
	if err != nil {
		return nil, exitf(exitUsage, "%s: %v", cmd.Name(), err)
	}
	return c, nil
}

// printDiags writes diagnostics one per line, as compilers do.
func printDiags(w io.Writer, ds diag.List) {
	for _, d := range ds {
		fmt.Fprintln(w, d.String())
	}
}

// pipelineError maps the pipeline's errors to exit codes, printing the
// diagnostics they carry (to w) first.
func pipelineError(w io.Writer, name string, err error) error {
	var inv *pipeline.InvalidError
	var den *pipeline.DeniedError
	var rden *reconciler.DeniedError
	var stale *reconciler.StalePlanError
	var ds diag.List
	switch {
	case errors.As(err, &inv):
		printDiags(w, inv.Diagnostics)
		return exitf(exitDenied, "%s: the spec is invalid: %d error(s); nothing changed", name, inv.Diagnostics.Count(diag.Error))
	case errors.As(err, &den):
		printDiags(w, den.Diagnostics)
		return exitf(exitDenied, "%s: blocked by the policy check: %d denial(s) or error(s); nothing changed (a waiver with approver, reason and expiry is the only way past a denial)", name, len(den.Diagnostics))
	case errors.As(err, &rden):
		printDiags(w, rden.Denials)
		return exitf(exitDenied, "%s: %v", name, err)
	case errors.As(err, &stale):
		return exitf(exitStale, "%s: %v", name, err)
	case errors.As(err, &ds):
		printDiags(w, ds)
		return exitf(exitDenied, "%s: %d error(s)", name, len(ds))
	}
	return exitf(exitDenied, "%s: %v", name, err)
}
