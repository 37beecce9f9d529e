package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/data"
)

func newDriftCmd() *cobra.Command {
	var model, ref, cur, format, statePath string
	var noRecord bool
	cmd := &cobra.Command{
		Use:     "drift [dir] --model M --reference FILE --current FILE",
		Example: `  cairn drift examples/fraud-detection --model fraud-detector --reference examples/fraud-detection/data/reference.parquet --current examples/fraud-detection/data/current.parquet`,
		Short:   "Compute PSI and Kolmogorov-Smirnov drift of a model's monitored features",
		Long: `drift compares a current sample with a reference sample for every feature in
models[M].monitoring.drift.features: PSI over 10 equal-frequency bins cut at the reference
quantiles (empty bins count as 1e-4; categorical features: one bin per category) and the
two-sample KS statistic with its asymptotic p-value (categorical: total variation distance).
The declared method's statistic is compared with the threshold. The result, with the
sha256 of both files, is recorded in the state store as evidence (unless --no-record).
Exit codes: 0 no drift, 1 drift above the threshold, 2 invalid spec, 3 usage or data error.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if model == "" || ref == "" || cur == "" {
				return exitf(exitUsage, "drift: --model, --reference and --current are required")
			}
			if err := checkFormat(cmd, format, "text", "json", "html"); err != nil {
				return err
			}
			dir := repoDir(args)
			if err := requireDir(dir); err != nil {
				return err
			}
			b, err := dataCompile(cmd, dir)
			if err != nil {
				return err
			}
			m, ok := b.Models[model]
			if !ok {
				return exitf(exitUsage, "drift: no model %q in %s", model, dir)
			}
			res, err := data.Drift(m, b.Features, ref, cur, data.DriftOptions{})
			if err != nil {
				return exitf(exitUsage, "drift: %v", err)
			}
			res.ComputedAt = nowRFC3339()
			if !noRecord {
				err := dataRecord(cmd.Context(), statePath, dir, func(st data.Store) error {
					return data.RecordDrift(cmd.Context(), st, res)
				})
				if err != nil {
					return exitf(exitUsage, "drift: %v", err)
				}
			}
			if err := writeDrift(cmd.OutOrStdout(), format, res); err != nil {
				return exitf(exitUsage, "drift: %v", err)
			}
			if res.Drifted {
				return &exitError{code: exitDenied}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&model, "model", "", "the model whose monitoring.drift to check")
	f.StringVar(&ref, "reference", "", "reference sample (.csv or .parquet)")
	f.StringVar(&cur, "current", "", "current sample (.csv or .parquet)")
	evidenceFlags(cmd, &format, "text, json or html (histograms of reference and current per feature)", &statePath, &noRecord)
	return cmd
}

func writeDrift(w io.Writer, format string, r *data.DriftResult) error {
	switch format {
	case "json":
		return writeJSON(w, r)
	case "html":
		return r.WriteHTML(w)
	}
	var b strings.Builder
	verdict := "no drift"
	if r.Drifted {
		verdict = "DRIFT in " + strings.Join(r.DriftedFeatures, ", ")
	}
	fmt.Fprintf(&b, "drift models/%s (%s, threshold %g): %s\n", r.Model, r.Method, r.Threshold, verdict)
	fmt.Fprintf(&b, "  reference %s %s\n  current   %s %s\n", r.Reference.Path, r.Reference.SHA256, r.Current.Path, r.Current.SHA256)
	fmt.Fprintf(&b, "  %-24s %-11s %9s %9s %10s %s\n", "feature", "type", "psi", "ks/tvd", "p-value", "status")
	for _, f := range r.Features {
		d, p := "", ""
		if f.KS != nil {
			d, p = fmt.Sprintf("%.4f", f.KS.Statistic), fmt.Sprintf("%.3g", f.KS.PValue)
			if !f.KS.Exact {
				d += fmt.Sprintf("±%.4f", f.KS.ErrorBound)
			}
		} else if f.TVD != nil {
			d, p = fmt.Sprintf("%.4f", *f.TVD), "-"
		}
		mark := "ok"
		if f.Drifted {
			mark = "DRIFT"
		}
		fmt.Fprintf(&b, "  %-24s %-11s %9.4f %9s %10s %s\n", f.Feature, f.Type, f.PSI, d, p, mark)
	}
	fmt.Fprintf(&b, "  evidence %s\n  binning: %s\n", r.EvidenceID, r.Binning)
	_, err := io.WriteString(w, b.String())
	return err
}
