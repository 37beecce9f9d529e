package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/compare"
	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/evals"
	ghub "github.com/cairn-dev/cairn/github"
	"github.com/cairn-dev/cairn/gitops"
	"github.com/cairn-dev/cairn/internal/atomicfile"
	"github.com/cairn-dev/cairn/internal/diag"
	"github.com/cairn-dev/cairn/pipeline"
	"github.com/cairn-dev/cairn/reconciler"
	"github.com/cairn-dev/cairn/state"
)

func newPRCmd() *cobra.Command {
	var (
		repo, baseRef, headRef, headSHA, apiURL, stateLoc, htmlOut string
		prNum                                                      int
		dryRun                                                     bool
	)
	cmd := &cobra.Command{
		Use: "pr [dir]",
		Example: `  cairn pr --dry-run .
  GITHUB_TOKEN=… cairn pr . --repo acme/specs --pr 12`,
		Short: "Post the plan and policy results to a pull request (sticky comment + check run)",
		Long: `pr compiles and checks the spec repo, plans it against the state, and posts one
sticky comment (updated in place on every run) and a check run with annotations at
spec lines. In GitHub Actions it is configured by GITHUB_TOKEN, GITHUB_API_URL,
GITHUB_REPOSITORY and the pull_request event (GITHUB_EVENT_PATH); flags override them.
--dry-run prints the comment instead of posting it. The token is never printed.
Exit codes: 0 posted, 1 posting failed, 3 usage or configuration error.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := ghub.ConfigFromEnv(os.Getenv)
			if err != nil {
				return exitf(exitUsage, "pr: %v", err)
			}
			if repo != "" {
				if cfg.Owner, cfg.Repo, err = ghub.SplitRepository(repo); err != nil {
					return exitf(exitUsage, "pr: --repo: %v", err)
				}
			}
			if prNum != 0 {
				cfg.PR = prNum
			}
			if baseRef != "" {
				cfg.BaseRef = baseRef
			}
			if headRef != "" {
				cfg.HeadRef = headRef
			}
			if headSHA != "" {
				cfg.HeadSHA = headSHA
			}
			if apiURL != "" {
				cfg.APIURL = apiURL
			}
			if !dryRun {
				if err := cfg.Validate(); err != nil {
					return exitf(exitUsage, "pr: %s", strings.ReplaceAll(err.Error(), "\n", "; "))
				}
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			dir := repoDir(args)
			var pairs []evals.Pair
			r, annotations := prReport(ctx, dir, stateLoc, cfg, &pairs)
			if htmlOut != "" {
				var page bytes.Buffer
				if err := evals.WriteHTMLCompare(&page, pairs); err != nil {
					return exitf(exitUsage, "pr: --html: %v", err)
				}
				if err := atomicfile.Write(htmlOut, page.Bytes(), 0o644); err != nil {
					return exitf(exitUsage, "pr: --html: %v", err)
				}
			}
			body := ghub.RenderComment(r)
			if dryRun {
				fmt.Fprint(cmd.OutOrStdout(), body)
				return nil
			}
			c, err := ghub.NewClient(cfg, nil, nil)
			if err != nil {
				return exitf(exitUsage, "pr: %v", err)
			}
			res, err := c.PostComment(ctx, ghub.Marker{Project: r.Project}, body)
			if err != nil {
				return exitf(exitDenied, "pr: %v", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "comment: %d part(s) (%d created, %d updated, %d unchanged, %d deleted) %s\n",
				len(res.IDs), res.Created, res.Updated, res.Unchanged, res.Deleted, firstOr(res.URLs))
			cr, err := c.PublishCheckRun(ctx, ghub.CheckRun{
				Name: "cairn", Title: r.Headline(), Summary: r.Summary(), Conclusion: r.Conclusion(), Annotations: annotations,
			})
			if err != nil {
				return exitf(exitDenied, "pr: %v", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "check run: %s, %d annotation(s) in %d request(s) %s\n",
				r.Conclusion(), len(annotations), cr.Requests, cr.URL)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&repo, "repo", "", "repository owner/name (default $GITHUB_REPOSITORY)")
	f.IntVar(&prNum, "pr", 0, "pull request number (default: from the event)")
	f.StringVar(&baseRef, "base", "", "base ref (default: from the event)")
	f.StringVar(&headRef, "head", "", "head ref (default: from the event)")
	f.StringVar(&headSHA, "head-sha", "", "head commit for the check run (default: from the event)")
	f.StringVar(&apiURL, "api-url", "", "GitHub API URL (default $GITHUB_API_URL or https://api.github.com)")
	f.StringVar(&stateLoc, "state", "", "state store (default $CAIRN_STATE or .cairn/state.db)")
	f.BoolVar(&dryRun, "dry-run", false, "print the comment instead of posting")
	f.StringVar(&htmlOut, "html", "", "also write the eval comparison (base and head side by side) as a self-contained HTML page to this file")
	return cmd
}

// prReport compiles, checks and plans dir. Failures of a stage become
// diagnostics or problems in the report, so the pull request still gets a
// comment saying what went wrong.
func prReport(ctx context.Context, dir, stateLoc string, cfg ghub.Config, pairs *[]evals.Pair) (ghub.Report, []ghub.Annotation) {
	r := ghub.Report{BaseRef: cfg.BaseRef, BaseSHA: cfg.BaseSHA, HeadRef: cfg.HeadRef, HeadSHA: cfg.HeadSHA}
	if s := os.Getenv("GITHUB_SERVER_URL"); s != "" && os.Getenv("GITHUB_RUN_ID") != "" && cfg.Owner != "" {
		r.RunURL = fmt.Sprintf("%s/%s/%s/actions/runs/%s", strings.TrimRight(s, "/"), cfg.Owner, cfg.Repo, os.Getenv("GITHUB_RUN_ID"))
	}
	prefix := repoPrefix(dir)
	// The same pipeline as check, plan and apply: a denial here is the
	// denial apply would refuse on.
	cacheDir, salt := cacheOptions(dir)
	// The state, opened first: the plan needs it, and the check judges the
	// high-risk systems' thresholds against its history (prior_defined_bounds).
	st, stErr := state.Open(ctx, state.Location(stateLoc, dir))
	if stErr == nil {
		defer st.Close()
	}
	copts := pipeline.CheckOptions{Context: map[string]any{"pull_request": cfg.PR}, CacheDir: cacheDir, CacheSalt: salt}
	if stErr == nil {
		copts.State = st
	}
	c, err := pipeline.Check(ctx, dir, copts)
	r.Diagnostics = c.Diagnostics
	if err != nil {
		r.Problems = append(r.Problems, "policy evaluation failed: "+err.Error())
		return r, ghub.Annotations(r.Diagnostics, prefix)
	}
	if !c.Compiled() {
		r.Problems = append(r.Problems, "the spec does not compile; policies and plan were skipped")
		return r, ghub.Annotations(r.Diagnostics, prefix)
	}
	b := c.Bundle
	r.Project, r.BundleHash = b.Project.Name, b.Hash()
	if c.Diagnostics.Count(diag.Error) > 0 {
		r.Problems = append(r.Problems, "policies do not compile: "+c.Diagnostics.Error())
	}

	if stErr != nil {
		r.Problems = append(r.Problems, "state store: "+stErr.Error())
		return r, ghub.Annotations(r.Diagnostics, prefix)
	}
	p, err := pipeline.Plan(ctx, c, st, reconciler.Options{})
	if err != nil {
		var l diag.List
		if errors.As(err, &l) {
			r.Diagnostics = append(r.Diagnostics, l...)
		}
		r.Problems = append(r.Problems, "plan: "+err.Error())
		return r, ghub.Annotations(r.Diagnostics, prefix)
	}
	var md bytes.Buffer
	if err := reconciler.WritePlan(&md, p, reconciler.FormatMarkdown); err != nil {
		r.Problems = append(r.Problems, "plan: "+err.Error())
	}
	// The comment has its own "Plan" heading.
	plan := strings.TrimPrefix(md.String(), "### cairn plan\n\n")
	r.Plan = ghub.Plan{Made: true, Changes: len(p.Actions), Blocked: len(p.Blocked()), Markdown: plan}
	// Why the new version and not the old: every alias move between two
	// registered versions, compared.
	for _, a := range p.Actions {
		if a.Type != reconciler.MoveModelAlias || a.Before == "" || a.After == "" {
			continue
		}
		model := strings.TrimPrefix(a.Object, "models/")
		cmp, err := compare.Versions(ctx, b, st, model, a.Before, a.After)
		if err != nil {
			r.Problems = append(r.Problems, fmt.Sprintf("compare %s %s %s: %v", model, a.Before, a.After, err))
			continue
		}
		var md bytes.Buffer
		if err := cmp.WriteMarkdown(&md); err != nil {
			return r, ghub.Annotations(r.Diagnostics, prefix)
		}
		r.Comparisons = append(r.Comparisons, ghub.Comparison{Move: fmt.Sprintf("%s %s: %s → %s", a.Object, a.Name, a.Before, a.After), Markdown: md.String()})
	}
	if base := cfg.BaseSHA; base != "" || cfg.BaseRef != "" {
		if base == "" {
			base = cfg.BaseRef
		}
		deltas, runs, problem := prEvalDeltas(ctx, dir, base, b, st)
		r.Evals, *pairs = deltas, runs
		if problem != "" {
			r.Problems = append(r.Problems, problem)
		}
	}
	return r, ghub.Annotations(r.Diagnostics, prefix)
}

// prEvalDeltas runs the eval suites the pull request affects on the base
// (its tree extracted with go-git) and on the head, with the state store as
// the shared result cache, so a base evaluated before costs nothing.
func prEvalDeltas(ctx context.Context, dir, baseRev string, head *compiler.Bundle, st state.Store) ([]ghub.SuiteDelta, []evals.Pair, string) {
	tmp, err := os.MkdirTemp("", "cairn-base-*")
	if err != nil {
		return nil, nil, "eval deltas: " + err.Error()
	}
	defer os.RemoveAll(tmp)
	var problem string
	var base *compiler.Bundle
	if _, err := gitops.ExtractTree(dir, baseRev, tmp); err != nil {
		problem = "eval deltas: base " + err.Error() + "; showing the head only"
	} else if bb, ds := compiler.Compile(tmp, compiler.Options{}); bb == nil || ds.Count(diag.Error) > 0 {
		problem = fmt.Sprintf("the base (%s) does not compile; eval deltas show the head only", baseRev)
	} else {
		base = bb
	}
	opts := evals.Options{Store: st}
	var out []ghub.SuiteDelta
	var pairs []evals.Pair
	for _, s := range prAffectedSuites(base, head) {
		var hr, br *evals.Run
		if head.Evals[s] != nil {
			opts.Version = newest(evals.SpecVersions(head, s))
			if hr, err = evals.RunSuite(ctx, head, s, opts); err != nil {
				out = append(out, ghub.SuiteDelta{Suite: s, Target: evalTarget(head.Evals[s]), Error: err.Error()})
				continue
			}
		}
		if base != nil && base.Evals[s] != nil {
			// A per-version classic eval: the newest version each side serves
			// (the candidate before and after the pull request).
			opts.Version = newest(evals.SpecVersions(base, s))
			if br, err = evals.RunSuite(ctx, base, s, opts); err != nil {
				br = nil // the delta then shows the head alone
			}
		}
		out = append(out, ghub.FromEvals(br, hr))
		pairs = append(pairs, evals.Pair{Base: br, Head: hr})
	}
	return out, pairs, problem
}

// prAffectedSuites are the suites added, removed or changed by the pull
// request, or whose target (prompt or model) changed; all of the head's when
// there is no base to compare with.
func prAffectedSuites(base, head *compiler.Bundle) []string {
	var out []string
	target := func(b *compiler.Bundle, e *compiler.Eval) string {
		var v any
		if e.Target.Prompt != "" {
			if p := b.Prompts[e.Target.Prompt]; p != nil {
				v = p.ContentHash
			}
		} else {
			v = b.Models[e.Target.Model]
		}
		j, _ := json.Marshal(v)
		return string(j)
	}
	names := map[string]bool{}
	for n := range head.Evals {
		names[n] = true
	}
	if base != nil {
		for n := range base.Evals {
			names[n] = true
		}
	}
	for _, n := range slices.Sorted(maps.Keys(names)) {
		h := head.Evals[n]
		if base == nil {
			out = append(out, n)
			continue
		}
		bs := base.Evals[n]
		if h == nil || bs == nil || reconciler.EvalHashFor(head, h) != reconciler.EvalHashFor(base, bs) || target(head, h) != target(base, bs) {
			out = append(out, n)
		}
	}
	return out
}

func evalTarget(e *compiler.Eval) string {
	if e.Target.Prompt != "" {
		return "prompts/" + e.Target.Prompt
	}
	return "models/" + e.Target.Model
}

// repoPrefix is dir's path inside its git repository, which check-run
// annotations need ("" when dir is the repository root or not in one).
func repoPrefix(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	for d := abs; ; {
		if _, err := os.Stat(filepath.Join(d, ".git")); err == nil {
			rel, err := filepath.Rel(d, abs)
			if err != nil || rel == "." {
				return ""
			}
			return filepath.ToSlash(rel)
		}
		parent := filepath.Dir(d)
		if parent == d {
			return ""
		}
		d = parent
	}
}

func firstOr(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func newest(versions []string) string { return versions[len(versions)-1] }
