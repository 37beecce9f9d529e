package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/gitops"
	"github.com/cairn-dev/cairn/internal/diag"
	"github.com/cairn-dev/cairn/operating"
	"github.com/cairn-dev/cairn/state"
)

func newMetricsCmd() *cobra.Command {
	var stateFlag, window, model, prompt, format, at string
	cmd := &cobra.Command{
		Use:   "metrics [dir] [--window 90d] [--model M | --prompt P] [--format text|json]",
		Short: "Operating metrics from the audit log: deployment frequency, lead time, change fail rate, recovery, rework, drift reaction, retraining cost",
		Long: `metrics computes the operating figures of the platform from cairn's audit log (the serve
entries of the lineage, the applies, triggers and registrations) and the spec repo's git
history, each printed with its definition. The window selects events whose time is in
[now − window, now). A deployment failed if within governance.operating_metrics.failure_window
(default 24h) it is rolled back or followed by a hotfix (apply --hotfix, or a Cairn-Hotfix:
commit trailer). The state is only read.
Exit codes: 0 written; 1 no state; 2 invalid spec; 3 usage.`,
		Example: `  cairn metrics . --window 90d
  cairn metrics . --window 30d --model fraud-detector --format json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(cmd, format, "text", "json"); err != nil {
				return err
			}
			w, err := parseWindow(window)
			if err != nil {
				return exitf(exitUsage, "metrics: --window %q: %v", window, err)
			}
			nowT, err := parseNow(at)
			if err != nil {
				return exitf(exitUsage, "metrics: --now: %v", err)
			}
			if model != "" && prompt != "" {
				return exitf(exitUsage, "metrics: --model and --prompt: give one")
			}
			dir := repoDir(args)
			if err := requireDir(dir); err != nil {
				return err
			}
			// With the cost projections (cost per 1,000 predictions).
			b, ds := compiler.Compile(dir, compileOptions(dir))
			if b == nil || ds.Count(diag.Error) > 0 {
				printDiags(cmd.ErrOrStderr(), ds)
				return exitf(exitInvalid, "metrics: the spec does not compile")
			}
			object := ""
			switch {
			case model != "":
				if b.Models[model] == nil {
					return exitf(exitDenied, "metrics: no model %q in %s", model, dir)
				}
				object = "models/" + model
			case prompt != "":
				if b.Prompts[prompt] == nil {
					return exitf(exitDenied, "metrics: no prompt %q in %s", prompt, dir)
				}
				object = "prompts/" + prompt
			}
			return withStateRead(cmd, stateFlag, dir, nil, func(ctx context.Context, st state.Store) error {
				r, err := gitops.OperatingMetrics(ctx, b, st, dir, nowT, w, object)
				if err != nil {
					return exitf(exitDenied, "metrics: %v", err)
				}
				if format == "json" {
					return writeJSON(cmd.OutOrStdout(), r)
				}
				writeMetrics(cmd.OutOrStdout(), r)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&window, "window", "90d", "the window ending now: Nd (days) or a Go duration (12h)")
	f.StringVar(&model, "model", "", "only deployments of this model")
	f.StringVar(&prompt, "prompt", "", "only deployments of this prompt")
	f.StringVar(&format, "format", "text", "text or json")
	f.StringVar(&at, "now", "", "compute as of this time (RFC 3339 or YYYY-MM-DD, UTC); default: now")
	f.StringVar(&stateFlag, "state", "", "state store: a path, sqlite://path or postgres://… (default $CAIRN_STATE or <dir>/.cairn/state.db)")
	return cmd
}

// parseWindow reads "90d" (days) or a Go duration; it must be positive.
func parseWindow(s string) (time.Duration, error) {
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil {
			return 0, fmt.Errorf("want Nd (days) or a Go duration such as 12h")
		}
		if days > 100*366 {
			return 0, fmt.Errorf("want at most a century of days")
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("want Nd (days) or a Go duration such as 12h")
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("want a positive window")
	}
	return d, nil
}

func writeMetrics(w io.Writer, r *operating.Report) {
	scope := "the project"
	if r.Object != "" {
		scope = r.Object
	}
	fmt.Fprintf(w, "operating metrics of %s, [%s, %s)\n", scope, state.FormatTime(r.From), state.FormatTime(r.To))
	for _, f := range r.Figures {
		v := f.Formatted()
		extra := fmt.Sprintf("n=%d", f.N)
		if f.LeftOut > 0 {
			extra += fmt.Sprintf(", %d left out", f.LeftOut)
		}
		if f.Note != "" {
			extra += "; " + f.Note
		}
		fmt.Fprintf(w, "\n%s: %s (%s)\n  %s\n", f.Name, v, extra, f.Definition)
		for _, k := range slices.Sorted(maps.Keys(f.Breakdown)) {
			fmt.Fprintf(w, "  deployments/%s: %g\n", k, f.Breakdown[k])
		}
	}
	if len(r.Deployments) > 0 {
		fmt.Fprintln(w, "\ndeployments")
	}
	for _, d := range r.Deployments {
		line := fmt.Sprintf("  %s  deployments/%s  %s@%s (%s, entry #%d)", state.FormatTime(d.At), d.Deployment, d.Object, d.Version, d.Role, d.Seq)
		if d.Hotfix {
			line += " hotfix"
		}
		if d.Failed != "" {
			line += "; failed: " + d.Failed
			if d.Recovered != nil {
				line += "; recovered " + state.FormatTime(*d.Recovered)
			}
		}
		fmt.Fprintln(w, line)
	}
}
