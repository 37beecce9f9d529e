package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/data"
	"github.com/cairn-dev/cairn/state"
)

func newDataCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "data",
		Short: "Check data samples against declared feature quality rules and train/serve parity",
	}
	cmd.AddCommand(newDataValidateCmd(), newDataParityCmd())
	return cmd
}

// dataCompile compiles the spec repo, printing its errors (exit 2 when invalid).
func dataCompile(cmd *cobra.Command, dir string) (*compiler.Bundle, error) {
	b, ds := compiler.Compile(dir, compiler.Options{SkipProjection: true})
	if len(ds) > 0 {
		for _, d := range ds {
			fmt.Fprintln(cmd.ErrOrStderr(), d.String())
		}
		return nil, &exitError{code: exitInvalid}
	}
	return b, nil
}

// featureSet resolves --feature-set: a model's features, else an entity's.
func featureSet(b *compiler.Bundle, name string) (map[string]*compiler.Feature, error) {
	out := map[string]*compiler.Feature{}
	if m, ok := b.Models[name]; ok {
		for _, f := range m.Features {
			if feat, ok := b.Features[f]; ok {
				out[f] = feat
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("models/%s declares no features", name)
		}
		return out, nil
	}
	entities := map[string]bool{}
	for n, f := range b.Features {
		entities[f.Entity] = true
		if f.Entity == name {
			out[n] = f
		}
	}
	if len(out) == 0 {
		var models, ents []string
		for m := range b.Models {
			models = append(models, m)
		}
		for e := range entities {
			ents = append(ents, e)
		}
		sort.Strings(models)
		sort.Strings(ents)
		return nil, fmt.Errorf("--feature-set %q is neither a model (%s) nor an entity (%s)", name, strings.Join(models, ", "), strings.Join(ents, ", "))
	}
	return out, nil
}

// dataRecord opens the state store and runs fn with it.
func dataRecord(ctx context.Context, statePath, dir string, fn func(data.Store) error) error {
	st, err := state.Open(ctx, state.Location(statePath, dir))
	if err != nil {
		return err
	}
	defer st.Close()
	// One transaction: a validation's records and its audit entry land together.
	return st.Update(ctx, func(tx state.Ops) error { return fn(tx) })
}

func newDataValidateCmd() *cobra.Command {
	var set, file, format, statePath string
	var noRecord bool
	cmd := &cobra.Command{
		Use:     "validate [dir] --feature-set <model or entity> --data FILE",
		Example: `  cairn data validate examples/fraud-detection --feature-set fraud-detector --data examples/fraud-detection/data/current.parquet`,
		Short:   "Check a CSV or Parquet sample against the declared feature quality rules",
		Long: `validate streams the sample and checks every declared rule of each feature in the
set (dtype, not_null, min, max, allowed, max_null_ratio), with counts and example rows.
The report is recorded in the state store as evidence (unless --no-record).
Exit codes: 0 all rules pass, 1 a rule fails, 2 invalid spec, 3 usage or data file error.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if set == "" || file == "" {
				return exitf(exitUsage, "data validate: --feature-set and --data are required")
			}
			if format != "text" && format != "json" && format != "junit" {
				return exitf(exitUsage, "data validate: unknown --format %q (text, json or junit)", format)
			}
			dir := repoDir(args)
			if err := requireDir(dir); err != nil {
				return err
			}
			b, err := dataCompile(cmd, dir)
			if err != nil {
				return err
			}
			feats, err := featureSet(b, set)
			if err != nil {
				return exitf(exitUsage, "data validate: %v", err)
			}
			fp, err := data.FingerprintFile(file)
			if err != nil {
				return exitf(exitUsage, "data validate: %v", err)
			}
			r, err := data.Open(file, nil)
			if err != nil {
				return exitf(exitUsage, "data validate: %v", err)
			}
			defer r.Close()
			rep, err := data.Validate(feats, r)
			if err != nil {
				return exitf(exitUsage, "data validate: %v", err)
			}
			rep.Data, rep.FeatureSet = &fp, set
			if !noRecord {
				err := dataRecord(cmd.Context(), statePath, dir, func(st data.Store) error {
					return data.RecordValidation(cmd.Context(), st, rep, actorName(""), now())
				})
				if err != nil {
					return exitf(exitUsage, "data validate: %v", err)
				}
			}
			w := cmd.OutOrStdout()
			switch format {
			case "json":
				err = rep.WriteJSON(w)
			case "junit":
				err = rep.WriteJUnit(w)
			default:
				err = rep.WriteText(w)
			}
			if err != nil {
				return exitf(exitUsage, "data validate: %v", err)
			}
			if !rep.Passed {
				return &exitError{code: exitDenied}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&set, "feature-set", "", "a model (its features) or an entity (its features)")
	f.StringVar(&file, "data", "", "the sample: .csv or .parquet")
	evidenceFlags(cmd, &format, "text, json or junit", &statePath, &noRecord)
	return cmd
}

func newDataParityCmd() *cobra.Command {
	var offline, online, key, set, format, statePath string
	var tol, maxShare float64
	var noRecord bool
	cmd := &cobra.Command{
		Use:     "parity [dir] --offline FILE --online FILE --key COLUMN",
		Example: `  cairn data parity examples/fraud-detection --feature-set fraud-detector --offline examples/fraud-detection/data/current.parquet --online examples/fraud-detection/data/online.csv --key transaction-id`,
		Short:   "Compare offline (training) and online (served) feature values joined on a key",
		Long: `parity joins the two samples on the key column and reports, per feature, the share
of joined rows whose values differ beyond the tolerance (|a-b| <= tol*max(1,|a|,|b|) agree),
and the rows missing on either side. With --feature-set only those features are compared,
as their declared dtypes; otherwise every column both files share.
Exit codes: 0 within --max-mismatch and no missing rows, 1 otherwise, 2 invalid spec, 3 usage or data error.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if offline == "" || online == "" || key == "" {
				return exitf(exitUsage, "data parity: --offline, --online and --key are required")
			}
			if err := checkFormat(cmd, format, "text", "json"); err != nil {
				return err
			}
			dir := repoDir(args)
			if err := requireDir(dir); err != nil {
				return err
			}
			opts := data.ParityOptions{Key: key, Tolerance: tol, FeatureSet: set}
			if set != "" {
				b, err := dataCompile(cmd, dir)
				if err != nil {
					return err
				}
				if opts.Features, err = featureSet(b, set); err != nil {
					return exitf(exitUsage, "data parity: %v", err)
				}
			}
			rep, err := data.Parity(offline, online, opts)
			if err != nil {
				return exitf(exitUsage, "data parity: %v", err)
			}
			if !noRecord {
				err := dataRecord(cmd.Context(), statePath, dir, func(st data.Store) error {
					return data.RecordParity(cmd.Context(), st, rep)
				})
				if err != nil {
					return exitf(exitUsage, "data parity: %v", err)
				}
			}
			if err := writeParity(cmd.OutOrStdout(), format, rep); err != nil {
				return exitf(exitUsage, "data parity: %v", err)
			}
			if rep.MaxMismatchShare > maxShare || rep.MissingOnline+rep.MissingOffline > 0 {
				return &exitError{code: exitDenied}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&offline, "offline", "", "offline (training) sample: .csv or .parquet")
	f.StringVar(&online, "online", "", "online (served) sample: .csv or .parquet")
	f.StringVar(&key, "key", "", "join column present in both files")
	f.StringVar(&set, "feature-set", "", "compare only this model's or entity's features (needs the spec repo)")
	f.Float64Var(&tol, "tolerance", 1e-6, "numeric tolerance (relative above magnitude 1, absolute below)")
	f.Float64Var(&maxShare, "max-mismatch", 0, "largest acceptable per-feature mismatch share")
	evidenceFlags(cmd, &format, "text or json", &statePath, &noRecord)
	return cmd
}

func writeParity(w io.Writer, format string, r *data.ParityReport) error {
	if format == "json" {
		return writeJSON(w, r)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "parity %s vs %s on %s (tolerance %g)\n", r.Offline.Path, r.Online.Path, r.Key, r.Tolerance)
	fmt.Fprintf(&b, "  rows: %d offline, %d online, %d joined; missing online %d, missing offline %d, duplicate keys %d\n",
		r.OfflineRows, r.OnlineRows, r.Joined, r.MissingOnline, r.MissingOffline, r.DuplicateKeys)
	for _, k := range r.MissingKeys {
		fmt.Fprintf(&b, "    %s\n", k)
	}
	for _, f := range r.Features {
		fmt.Fprintf(&b, "  %-24s %6.2f%% differ (%d of %d)", f.Feature, 100*f.MismatchShare, f.Mismatches, f.Compared)
		if len(f.Examples) > 0 {
			e := f.Examples[0]
			fmt.Fprintf(&b, "  e.g. %s: offline %s, online %s", e.Key, e.Offline, e.Online)
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// nowRFC3339 stamps evidence recorded by the CLI (the library takes time as input).
func nowRFC3339() string { return now().Format(time.RFC3339) }
