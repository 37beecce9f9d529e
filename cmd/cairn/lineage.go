package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/lineage"
	"github.com/cairn-dev/cairn/reconciler"
	"github.com/cairn-dev/cairn/state"
	"github.com/cairn-dev/cairn/targets"
)

func newLineageCmd() *cobra.Command {
	var (
		deployment, at, served, digest, stateFlag, format string
		verifyFull                                        bool
	)
	cmd := &cobra.Command{
		Use:   "lineage [dir] --deployment D --at TIME",
		Short: "Say which model or prompt version a deployment served at a moment, from the audit log",
		Long: `lineage --deployment D --at T reads the audit log's serve entries of D — one per change to
what D serves: an alias or label moved, the deployment edited, created or removed, a canary
step, a rollback — and says which was in force at T: the last with time ≤ T, in force until
the next. Before the first, nothing was served, and it says so. This is what cairn put in
force; when the cluster applied it is outside cairn's view.

--served V [--digest H] answers yes or no: exit 0 if version V (stable or canary, with digest
H when given) was in force at T, else exit 1 naming what was.

Every entry read is verified (its hash, its link to the entry before it, and the checkpoint
'cairn audit verify' records); --verify-full re-verifies the whole chain first.
Exit codes: 0 answered (and --served: it was served); 1 not served, an unknown deployment
(close matches named), a tampered log (the entry named) or no state; 3 a malformed flag or time.`,
		Example: `  cairn lineage . --deployment fraud-api --at 2026-03-03T14:02:00Z
  cairn lineage . --deployment fraud-api --at 2026-03-03T14:02:00Z --served 8 --format json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(cmd, format, "text", "json"); err != nil {
				return err
			}
			if deployment == "" {
				return exitf(exitUsage, "lineage: --deployment is required")
			}
			if at == "" {
				return exitf(exitUsage, "lineage: --at is required (RFC 3339, or a date for its 00:00 UTC)")
			}
			t, err := parseNow(at)
			if err != nil {
				return exitf(exitUsage, "lineage: --at: %v", err)
			}
			if digest != "" && served == "" {
				return exitf(exitUsage, "lineage: --digest needs --served")
			}
			dir := repoDir(args)
			return withStateRead(cmd, stateFlag, dir, nil, func(ctx context.Context, st state.Store) error {
				if verifyFull {
					if _, p, err := state.VerifyScan(ctx, st, ""); err != nil {
						return exitf(exitDenied, "lineage: %v", err)
					} else if p != nil {
						return exitf(exitDenied, "lineage: audit log tampered: %v", p)
					}
				}
				f, err := lineage.At(ctx, st, deployment, t)
				var unknown *lineage.ErrUnknown
				switch {
				case errors.As(err, &unknown):
					names, lerr := reconciler.ServedDeployments(ctx, st)
					if lerr != nil {
						return exitf(exitDenied, "lineage: %v", lerr)
					}
					hint := "no deployment has serve entries yet (cairn apply records them)"
					if close := lineage.Suggest(deployment, names); len(close) > 0 {
						hint = "did you mean " + strings.Join(close, ", ") + "?"
					} else if len(names) > 0 {
						hint = "deployments with serve entries: " + strings.Join(names, ", ")
					}
					return exitf(exitDenied, "lineage: %v; %s", err, hint)
				case err != nil:
					return exitf(exitDenied, "lineage: %v", err)
				}
				ok := served == "" || f.Serves(served, digest)
				if format == "json" {
					out := map[string]any{"in_force": f}
					if served != "" {
						out["served"] = ok
					}
					if err := writeJSON(cmd.OutOrStdout(), out); err != nil {
						return err
					}
				} else {
					writeInForce(cmd.OutOrStdout(), f)
				}
				if !ok {
					what := "nothing"
					if f.Served != nil && !f.Served.Removed {
						what = describe(f.Served.Stable, "stable")
						if f.Served.Canary != nil {
							what += " and " + describe(f.Served.Canary, "canary")
						}
					}
					want := "version " + served
					if digest != "" {
						want += " (" + digest + ")"
					}
					return exitf(exitDenied, "lineage: %s was not in force at %s: deployments/%s served %s", want, formatTime(f.At), deployment, what)
				}
				return nil
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&deployment, "deployment", "", "the deployment")
	fl.StringVar(&at, "at", "", "the moment (RFC 3339, or YYYY-MM-DD for 00:00 UTC)")
	fl.StringVar(&served, "served", "", "exit 0 only if this version was in force (stable or canary) at --at")
	fl.StringVar(&digest, "digest", "", "with --served: the version's digest must match too")
	fl.StringVar(&stateFlag, "state", "", "state store: a path, sqlite://path or postgres://… (default $CAIRN_STATE or <dir>/.cairn/state.db)")
	fl.StringVar(&format, "format", "text", "output format: text or json")
	fl.BoolVar(&verifyFull, "verify-full", false, "re-verify the whole audit chain first")
	return cmd
}

func describe(v *targets.ServedVersion, role string) string {
	if v == nil {
		return "nothing"
	}
	return fmt.Sprintf("%s %s (%s, %d %%)", v.Object, v.Version, role, v.Percent)
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func writeInForce(w io.Writer, f *lineage.InForce) {
	if f.Entry == nil {
		fmt.Fprintf(w, "deployments/%s served nothing at %s: its first serve entry is #%d at %s.\n",
			f.Deployment, formatTime(f.At), f.First.Seq, formatTime(f.First.Time))
		return
	}
	s := f.Served
	fmt.Fprintf(w, "deployments/%s at %s: serve entry #%d of %s by %s", f.Deployment, formatTime(f.At), f.Entry.Seq, formatTime(f.Entry.Time), f.Entry.Actor)
	if f.Entry.Commit != "" {
		fmt.Fprintf(w, " (commit %s)", f.Entry.Commit)
	}
	fmt.Fprintln(w)
	if s.Removed {
		fmt.Fprintln(w, "  removed: the deployment served nothing")
	} else {
		for _, x := range []struct {
			role string
			v    *targets.ServedVersion
		}{{"stable", s.Stable}, {"canary", s.Canary}} {
			if x.v != nil {
				fmt.Fprintf(w, "  %-7s %s %s  %s  %d %%\n", x.role, x.v.Object, x.v.Version, x.v.Digest, x.v.Percent)
			}
		}
	}
	if f.Until != nil {
		fmt.Fprintf(w, "  in force until %s (the next serve entry)\n", formatTime(*f.Until))
	} else {
		fmt.Fprintln(w, "  still in force")
	}
	fmt.Fprintf(w, "  bundle %s\n", s.BundleHash)
	fmt.Fprintln(w, "This is what cairn put in force; when the cluster applied it is outside cairn's view.")
}
