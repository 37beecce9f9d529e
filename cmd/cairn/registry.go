package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/url"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/go-git/go-git/v5"
	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/audit"
	"github.com/cairn-dev/cairn/compare"
	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/gitops"
	"github.com/cairn-dev/cairn/internal/jsonpos"
	"github.com/cairn-dev/cairn/limits"
	"github.com/cairn-dev/cairn/mlflow"
	"github.com/cairn-dev/cairn/state"
)

// openState opens the state named by --state, $CAIRN_STATE or the repo default.
func openState(ctx context.Context, flag, repo string) (state.Store, error) {
	loc := state.Location(flag, repo)
	st, err := state.Open(ctx, loc)
	if err != nil {
		return nil, exitf(exitDenied, "%v", err)
	}
	return st, nil
}

// actorName is who is recorded in the audit log: --actor, $CAIRN_ACTOR, the OS user.
func actorName(flag string) string {
	if flag != "" {
		return flag
	}
	if v := os.Getenv("CAIRN_ACTOR"); v != "" {
		return v
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}

// importMLflow reads a run or model version from $MLFLOW_TRACKING_URI,
// authenticated by $MLFLOW_TRACKING_TOKEN or $MLFLOW_TRACKING_USERNAME and
// _PASSWORD.
func importMLflow(ctx context.Context, ref, artifact string) (*mlflow.Imported, error) {
	c := &mlflow.Client{BaseURL: os.Getenv("MLFLOW_TRACKING_URI"), Token: os.Getenv("MLFLOW_TRACKING_TOKEN"),
		User: os.Getenv("MLFLOW_TRACKING_USERNAME"), Password: os.Getenv("MLFLOW_TRACKING_PASSWORD")}
	if c.BaseURL == "" {
		return nil, exitf(exitUsage, "registry register: --from-mlflow needs MLFLOW_TRACKING_URI (the tracking server, http(s)://host:port)")
	}
	imp, err := c.Import(ctx, ref, artifact)
	var ue *mlflow.UsageError
	switch {
	case errors.As(err, &ue):
		return nil, exitf(exitUsage, "registry register: %v", err)
	case err != nil:
		return nil, exitf(exitDenied, "registry register: %v; nothing registered", err)
	}
	return imp, nil
}

// trainingRunFlags reads register's training-run flags; every malformed
// value is an error naming the flag and the value.
func trainingRunFlags(params []string, paramsFile string, data []string, repoURL, cost string) (*state.TrainingRun, error) {
	run := &state.TrainingRun{Params: map[string]string{}}
	if paramsFile != "" {
		raw, err := limits.ReadFile(paramsFile)
		if err != nil {
			return nil, fmt.Errorf("--params-file: %v", err)
		}
		var obj map[string]any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&obj); err != nil {
			return nil, fmt.Errorf("--params-file %s: want a JSON object of parameters: %v", paramsFile, jsonpos.Error(raw, err))
		}
		for k, v := range obj {
			switch v := v.(type) {
			case string:
				run.Params[k] = v
			case json.Number:
				run.Params[k] = v.String()
			case bool:
				run.Params[k] = strconv.FormatBool(v)
			default:
				return nil, fmt.Errorf("--params-file %s: parameter %q: want a string, number or boolean, got %s", paramsFile, k, jsonKind(v))
			}
		}
	}
	for _, p := range params {
		k, v, ok := strings.Cut(p, "=")
		if k = strings.TrimSpace(k); !ok || k == "" {
			return nil, fmt.Errorf("--param %q: want name=value", p)
		}
		run.Params[k] = v
	}
	for _, d := range data {
		uri, digest, ok := strings.Cut(d, "@")
		hexPart, isSHA := strings.CutPrefix(digest, "sha256:")
		if !ok || uri == "" || !isSHA || len(hexPart) != 64 || strings.Trim(hexPart, "0123456789abcdef") != "" {
			return nil, fmt.Errorf("--data %q: want URI@sha256:HEX (64 lowercase hex digits)", d)
		}
		run.Inputs = append(run.Inputs, state.DataInput{URI: uri, Digest: digest})
	}
	if repoURL != "" {
		u, err := url.Parse(repoURL)
		switch {
		case err == nil && u.User != nil:
			return nil, fmt.Errorf("--repo-url: the URL has credentials in it; pass it without them")
		case strings.HasPrefix(repoURL, "git@"):
		case err != nil || u.Scheme == "" || u.Host == "":
			return nil, fmt.Errorf("--repo-url %q: want a repository URL (https://host/org/repo or git@host:org/repo)", repoURL)
		}
		run.RepoURL = repoURL
	}
	if cost != "" {
		f, err := strconv.ParseFloat(cost, 64)
		if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("--training-cost-usd %q: want a non-negative number of dollars", cost)
		}
		run.CostUSD = f
	}
	return run, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case []any:
		return "an array"
	default:
		return "an object"
	}
}

// gitRemote returns the URL of the origin remote of the repo containing
// dir, without credentials, or "" (outside git, no origin, a local path).
func gitRemote(dir string) string {
	r, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return ""
	}
	rm, err := r.Remote("origin")
	if err != nil || len(rm.Config().URLs) == 0 {
		return ""
	}
	return gitops.RepoURL(rm.Config().URLs[0])
}

// gitHotfix reports whether HEAD's message has a Cairn-Hotfix: trailer.
func gitHotfix(dir string) bool {
	r, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return false
	}
	h, err := r.Head()
	if err != nil {
		return false
	}
	c, err := r.CommitObject(h.Hash())
	return err == nil && gitops.HasHotfixTrailer(c.Message)
}

// gitCommit returns HEAD of the repo containing dir, or "" outside git.
func gitCommit(dir string) string {
	r, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return ""
	}
	h, err := r.Head()
	if err != nil {
		return ""
	}
	return h.Hash().String()
}

func newRegistryCmd() *cobra.Command {
	reg := &cobra.Command{Use: "registry", Short: "Model registry: register, list and show model versions"}
	var stateFlag, actor string
	reg.PersistentFlags().StringVar(&stateFlag, "state", "", "state store: a path, sqlite://path or postgres://… (default $CAIRN_STATE or <dir>/.cairn/state.db)")

	var version, artifact, snapshot, features, commit, trigger, paramsFile, repoURL, cost, fromMLflow string
	var metrics, params, dataIn []string
	register := &cobra.Command{
		Use:   "register <model> [dir] --version V --artifact URI",
		Short: "Register a trained model version with its metrics and lineage (what a training pipeline calls)",
		Example: `  cairn registry register fraud-detector --version 8 --artifact s3://models/fraud/8 --metric auc=0.95
  cairn registry register fraud-detector specs/ --version 9 --artifact s3://models/fraud/9 --commit 8e21b40
  cairn registry register fraud-detector --version 10 --artifact s3://models/fraud/10 --trigger "$CAIRN_TRIGGER_ID"
  MLFLOW_TRACKING_URI=http://mlflow:5000 cairn registry register fraud-detector --from-mlflow models:/fraud/11
  cairn registry register fraud-detector --version 11 --artifact s3://models/fraud/11 --param max_depth=6 --param eta=0.1 \
    --data s3://acme/txns-2026-11.parquet@sha256:9f… --repo-url https://github.com/acme/fraud-train --training-cost-usd 14.20`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			args, dir := splitDir(args, 1)
			if len(args) != 1 {
				return exitf(exitUsage, "registry register: want one model name and an optional spec repo directory, got %q", args)
			}
			var imported *mlflow.Imported
			if fromMLflow != "" {
				_, _, mlVersion, err := mlflow.ParseRef(fromMLflow)
				if err != nil {
					return exitf(exitUsage, "registry register: %v", err)
				}
				if version == "" {
					version = mlVersion
				}
				if version == "" {
					return exitf(exitUsage, "registry register: --version is required with --from-mlflow runs:/…")
				}
				if imported, err = importMLflow(cmd.Context(), fromMLflow, artifact); err != nil {
					return err
				}
				for _, w := range imported.Warnings {
					fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", w)
				}
				artifact = imported.Version.ArtifactURI
			}
			if version == "" || artifact == "" {
				return exitf(exitUsage, "registry register: --version and --artifact are required (or --from-mlflow)")
			}
			mv := state.ModelVersion{Model: args[0], Version: version, ArtifactURI: artifact, Metrics: map[string]float64{},
				DataSnapshot: snapshot, Commit: commit, Features: []string{}, RegisteredAt: now(), RegisteredBy: actorName(actor),
				TriggerID: strings.TrimSpace(trigger)}
			if imported != nil {
				// The run's own account; flags add to it and win where both speak.
				maps.Copy(mv.Metrics, imported.Version.Metrics)
				if mv.Commit == "" {
					mv.Commit = imported.Version.Commit
				}
			}
			for _, m := range metrics {
				k, v, ok := strings.Cut(m, "=")
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if !ok || k == "" || err != nil {
					return exitf(exitUsage, "registry register: --metric %q: want name=number", m)
				}
				mv.Metrics[strings.TrimSpace(k)] = f
			}
			for _, f := range strings.Split(features, ",") {
				if f = strings.TrimSpace(f); f != "" {
					mv.Features = append(mv.Features, f)
				}
			}
			run, err := trainingRunFlags(params, paramsFile, dataIn, repoURL, cost)
			if err != nil {
				return exitf(exitUsage, "registry register: %v", err)
			}
			if imported != nil {
				run = imported.Version.Run.With(run)
			}
			if !run.IsZero() {
				mv.Run = run
			}
			ctx := cmd.Context()
			st, err := openState(ctx, stateFlag, dir)
			if err != nil {
				return err
			}
			defer st.Close()
			created := false
			err = st.Update(ctx, func(tx state.Ops) error {
				var err error
				if created, err = tx.RegisterModelVersion(ctx, mv); err != nil || !created {
					return err
				}
				doc := map[string]any{"version": mv.Version, "artifact_uri": mv.ArtifactURI, "metrics": mv.Metrics,
					"data_snapshot": mv.DataSnapshot, "features": mv.Features, "commit": mv.Commit, "trigger_id": mv.TriggerID, "content_hash": mv.ContentHash()}
				if mv.Run != nil {
					doc["run"] = mv.Run
				}
				after, _ := json.Marshal(doc)
				_, err = tx.AppendAudit(ctx, state.AuditEntry{Time: mv.RegisteredAt, Actor: mv.RegisteredBy, Commit: mv.Commit,
					Action: "register_model_version", Object: "models/" + mv.Model, After: string(after)})
				return err
			})
			if err != nil {
				return exitf(exitDenied, "%v", err)
			}
			if created {
				fmt.Fprintf(cmd.OutOrStdout(), "registered models/%s version %s (%s)\n", mv.Model, mv.Version, mv.ContentHash())
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "models/%s version %s is already registered with identical content\n", mv.Model, mv.Version)
			}
			return nil
		},
	}
	f := register.Flags()
	f.StringVar(&version, "version", "", "the version (immutable once registered)")
	f.StringVar(&artifact, "artifact", "", "artifact URI (s3://…, gs://…, a path)")
	f.StringArrayVar(&metrics, "metric", nil, "an evaluation metric, name=value (repeatable)")
	f.StringVar(&snapshot, "data-snapshot", "", "training data snapshot id")
	f.StringVar(&features, "features", "", "comma-separated features the model reads")
	f.StringVar(&commit, "commit", "", "training code commit")
	f.StringVar(&trigger, "trigger", "", "the evidence id of the training trigger that produced it ($CAIRN_TRIGGER_ID in a triggered job)")
	f.StringVar(&actor, "actor", "", "who registers it (default $CAIRN_ACTOR or the OS user)")
	f.StringArrayVar(&params, "param", nil, "a training parameter, name=value (repeatable)")
	f.StringVar(&paramsFile, "params-file", "", "training parameters as a JSON object of strings, numbers and booleans")
	f.StringArrayVar(&dataIn, "data", nil, "a dataset the run read, URI@sha256:HEX (repeatable)")
	f.StringVar(&repoURL, "repo-url", "", "the training code's repository URL (no credentials)")
	f.StringVar(&cost, "training-cost-usd", "", "what the training run cost, in US dollars")
	f.StringVar(&fromMLflow, "from-mlflow", "", "import the run from MLflow ($MLFLOW_TRACKING_URI): runs:/RUN_ID or models:/NAME/VERSION")

	var format, model string
	list := &cobra.Command{
		Use:   "list [dir] [--model M]",
		Short: "List registered model versions and the aliases pointing at them",
		Long: `list reads the state of the spec repo in dir (or --state). A repo with no state yet has no
versions registered: that is the answer, and no state is created.`,
		Example: `  cairn registry list
  cairn registry list examples/fraud-detection --model fraud-detector --format json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(cmd, format, "text", "json"); err != nil {
				return err
			}
			return withStateRead(cmd, stateFlag, repoDir(args), emptyList(cmd, format, "model versions"), func(ctx context.Context, st state.Store) error {
				vs, err := st.ListModelVersions(ctx, model)
				if err != nil {
					return exitf(exitDenied, "%v", err)
				}
				aliases, err := pointerNames(ctx, st, "models/")
				if err != nil {
					return err
				}
				if format == "json" {
					type row struct {
						state.ModelVersion
						Aliases []string `json:"aliases"`
					}
					rows := []row{}
					for _, v := range vs {
						rows = append(rows, row{v, append([]string{}, aliases["models/"+v.Model+"@"+v.Version]...)})
					}
					return writeJSON(cmd.OutOrStdout(), rows)
				}
				if len(vs) == 0 {
					fmt.Fprintln(cmd.OutOrStdout(), "no model versions registered")
					return nil
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "MODEL\tVERSION\tALIASES\tARTIFACT\tMETRICS")
				for _, v := range vs {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.Model, v.Version, strings.Join(aliases["models/"+v.Model+"@"+v.Version], ","), v.ArtifactURI, fmtMetrics(v.Metrics))
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().StringVar(&format, "format", "text", "text or json")
	list.Flags().StringVar(&model, "model", "", "only this model's versions")

	show := &cobra.Command{
		Use:     "show <model> <version> [dir]",
		Short:   "Show one model version with its lineage",
		Example: `  cairn registry show fraud-detector 7 --format json`,
		Args:    cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(cmd, format, "text", "json"); err != nil {
				return err
			}
			args, dir := splitDir(args, 2)
			if len(args) != 2 {
				return exitf(exitUsage, "registry show: want a model and a version, got %q", args)
			}
			return withStateRead(cmd, stateFlag, dir, nil, func(ctx context.Context, st state.Store) error {
				v, err := st.GetModelVersion(ctx, args[0], args[1])
				if err != nil {
					return exitf(exitDenied, "%v", err)
				}
				if format == "json" {
					return writeJSON(cmd.OutOrStdout(), v)
				}
				w := cmd.OutOrStdout()
				fmt.Fprintf(w, "model:         %s\nversion:       %s\ncontent hash:  %s\nartifact:      %s\nmetrics:       %s\n", v.Model, v.Version, v.ContentHash(), v.ArtifactURI, fmtMetrics(v.Metrics))
				fmt.Fprintf(w, "data snapshot: %s\nfeatures:      %s\ncommit:        %s\nregistered:    %s by %s\n", v.DataSnapshot, strings.Join(v.Features, ", "), v.Commit, state.FormatTime(v.RegisteredAt), v.RegisteredBy)
				if r := v.Run; r != nil {
					for _, k := range slices.Sorted(maps.Keys(r.Params)) {
						fmt.Fprintf(w, "param:         %s = %s\n", k, r.Params[k])
					}
					for _, in := range r.Inputs {
						fmt.Fprintf(w, "data input:    %s@%s%s\n", in.URI, in.Digest, strings.TrimSuffix(" ("+in.Context+")", " ()"))
					}
					if r.RepoURL != "" {
						fmt.Fprintf(w, "repository:    %s\n", r.RepoURL)
					}
					if r.CostUSD > 0 {
						fmt.Fprintf(w, "training cost: $%.2f\n", r.CostUSD)
					}
					if r.Source != "" {
						fmt.Fprintf(w, "imported from: %s\n", r.Source)
					}
				}
				if a, ok, err := state.GetExplanation(ctx, st, v.Model, v.Version); err != nil {
					return exitf(exitDenied, "%v", err)
				} else if ok {
					fmt.Fprintf(w, "explanation:   %s\n", a.Summary())
				}
				return nil
			})
		},
	}
	show.Flags().StringVar(&format, "format", "text", "text or json")

	var cardNow, cardFormat string
	card := &cobra.Command{
		Use:   "card <model> [dir]",
		Short: "A model card: intended use, versions at each alias, metrics with intervals per slice, fairness, calibration, waivers",
		Long: `card writes a classic model's card from what cairn holds: the specs (intended use, owner,
risk, features, waivers), the versions the state serves at each alias with their data and
commit, and every eval of the model computed from predictions — metrics with bootstrap
intervals, per slice, fairness per group and the calibration curve (inline SVG in HTML).
Nothing is typed in. The state is only read (a missing one shows no served versions).`,
		Example: `  cairn registry card fraud-detector . > MODEL_CARD.md
  cairn registry card fraud-detector . --format html > card.html`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(cmd, cardFormat, "markdown", "json", "html"); err != nil {
				return err
			}
			at, err := parseNow(cardNow)
			if err != nil {
				return exitf(exitUsage, "registry card: --now: %v", err)
			}
			args, dir := splitDir(args, 1)
			b, err := modelBundle(cmd, dir, args[0], "registry card")
			if err != nil {
				return err
			}
			write := func(ctx context.Context, st state.Store) error {
				c, err := audit.BuildModelCard(ctx, b, st, args[0], at)
				if err != nil {
					return exitf(exitDenied, "registry card: %v", err)
				}
				return audit.WriteModelCard(cmd.OutOrStdout(), c, cardFormat)
			}
			empty := func() error {
				st, err := emptyState(cmd.Context())
				if err != nil {
					return err
				}
				defer st.Close()
				return write(cmd.Context(), st)
			}
			return withStateRead(cmd, stateFlag, dir, empty, write)
		},
	}
	card.Flags().StringVar(&cardFormat, "format", "markdown", "markdown, json or html")
	card.Flags().StringVar(&cardNow, "now", "", "card time, RFC 3339 or YYYY-MM-DD (default: now)")
	reg.AddCommand(register, newRegistryAttachCmd(&stateFlag), newRegistryCompareCmd(&stateFlag), list, show, card)
	return reg
}

// modelBundle compiles the spec repo in dir for a command about one of its
// models, which must be declared there.
func modelBundle(cmd *cobra.Command, dir, model, name string) (*compiler.Bundle, error) {
	if err := requireDir(dir); err != nil {
		return nil, err
	}
	b, err := dataCompile(cmd, dir)
	if err != nil {
		return nil, err
	}
	if b.Models[model] == nil {
		return nil, exitf(exitDenied, "%s: no model %q in %s", name, model, dir)
	}
	return b, nil
}

// newRegistryCompareCmd puts two versions of a model side by side.
func newRegistryCompareCmd(stateFlag *string) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "compare <model> <A> <B> [dir] [--format text|json|markdown]",
		Short: "Compare two model versions: parameters, data, features, metrics (on the same data), eval results and gate verdicts",
		Long: `compare justifies a promotion ("why B and not A"): the training runs' parameters side by side
with the differences marked, their data inputs and features, every metric with B − A — a claimed
metric only against one measured on the same dataset digest, an eval's only between runs of the
same suite and dataset, a per-version classic eval's on the same prediction rows with the paired
bootstrap 95 % interval — and each alias's gates checked for both against the state now. Metrics
measured on different data are marked not comparable. The state is only read.
Exit codes: 0 written; 1 a version is not registered or there is no state; 2 invalid spec; 3 usage.`,
		Example: `  cairn registry compare fraud-detector 7 8
  cairn registry compare fraud-detector 7 8 . --format markdown >> review.md`,
		Args: cobra.RangeArgs(3, 4),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(cmd, format, "text", "json", "markdown"); err != nil {
				return err
			}
			args, dir := splitDir(args, 3)
			if len(args) != 3 {
				return exitf(exitUsage, "registry compare: want a model and two versions, got %q", args)
			}
			b, err := modelBundle(cmd, dir, args[0], "registry compare")
			if err != nil {
				return err
			}
			return withStateRead(cmd, *stateFlag, dir, nil, func(ctx context.Context, st state.Store) error {
				c, err := compare.Versions(ctx, b, st, args[0], args[1], args[2])
				if err != nil {
					return exitf(exitDenied, "registry compare: %v", err)
				}
				switch format {
				case "json":
					return writeJSON(cmd.OutOrStdout(), c)
				case "markdown":
					return c.WriteMarkdown(cmd.OutOrStdout())
				}
				return c.WriteText(cmd.OutOrStdout())
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "text, json or markdown")
	return cmd
}

// newRegistryAttachCmd attaches evidence that comes after registration to
// a model version without changing it: today its global explanation.
func newRegistryAttachCmd(stateFlag *string) *cobra.Command {
	var file, actor string
	cmd := &cobra.Command{
		Use:   "attach <model> <version> [dir] --explanation FILE",
		Short: "Attach a global explanation (per-feature importance) to a registered model version, once",
		Long: `attach records a model version's global explanation — each feature's importance, the method
(shap, lime, permutation, …) and the sample size — in the documented JSON format
(docs/explanation.md). A version has one explanation: attaching the same file again does
nothing, a different one is refused (register a new version). The version's content hash does
not change. A high-risk model in a sensitive domain is promoted to prod only with one (the
plan's explanation gate); lineage shows it.`,
		Example: `  cairn registry attach fraud-detector 8 --explanation explanations/fraud-8.json`,
		Args:    cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			args, dir := splitDir(args, 2)
			if len(args) != 2 {
				return exitf(exitUsage, "registry attach: want a model and a version, got %q", args)
			}
			if file == "" {
				return exitf(exitUsage, "registry attach: --explanation FILE is required")
			}
			data, err := limits.ReadFile(file)
			if err != nil {
				return exitf(exitUsage, "registry attach: --explanation: %v", err)
			}
			e, err := state.ParseExplanation(data)
			if err != nil {
				return exitf(exitUsage, "registry attach: %s: %v", file, err)
			}
			ctx := cmd.Context()
			st, err := openState(ctx, *stateFlag, dir)
			if err != nil {
				return err
			}
			defer st.Close()
			var a state.AttachedExplanation
			created := false
			err = st.Update(ctx, func(tx state.Ops) error {
				var err error
				a, created, err = state.AttachExplanation(ctx, tx, args[0], args[1], e, now(), actorName(actor))
				return err
			})
			if err != nil {
				return exitf(exitDenied, "registry attach: %s: %v", file, err)
			}
			if created {
				fmt.Fprintf(cmd.OutOrStdout(), "attached an explanation to models/%s version %s: %s\n", a.Model, a.Version, a.Summary())
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "models/%s version %s already has this explanation\n", a.Model, a.Version)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&file, "explanation", "", "the explanation JSON (format cairn.explanation/v1)")
	cmd.Flags().StringVar(&actor, "actor", "", "who attaches it (default $CAIRN_ACTOR or the OS user)")
	return cmd
}

func fmtMetrics(m map[string]float64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+strconv.FormatFloat(m[k], 'g', -1, 64))
	}
	return strings.Join(parts, " ")
}
