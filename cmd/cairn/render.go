package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/pipeline"
	"github.com/cairn-dev/cairn/reconciler"
	"github.com/cairn-dev/cairn/state"
	"github.com/cairn-dev/cairn/targets"
)

func newRenderCmd() *cobra.Command {
	var (
		out, statePath, repoURL, revision string
		check, workflow                   bool
		only                              []string
		pf                                policyFlags
	)
	cmd := &cobra.Command{
		Use:   "render [dir]",
		Short: "Render deploy targets (KServe, Kubernetes, Prometheus, Terraform, Argo CD, Actions) into rendered/",
		Long: `render checks the spec repo as plan and apply do, resolves every served alias and label
against the registry state — the version the state records there after its gates passed,
never the version the specs ask for before it passed — and writes the deploy targets under
--out (default <dir>/rendered). A deployment whose alias or label has no such version yet
(an empty state: nothing has passed) is left out with a note saying why; run 'cairn apply'
to move it once its gates pass. Files cairn rendered earlier that are no longer produced
are removed. An unwaived policy denial, or a team policy that does not compile, renders
nothing. The state is only read: a missing one is an empty registry.

--only T reads and writes only target T's files (its directory, and the files it writes
elsewhere, such as a prompt ConfigMap).
--check writes nothing: it lists the files that differ from what the state serves
(changed, missing, or extra) and exits 1 when any does.

Exit codes: 0 ok, 1 stale files, a render error, an invalid spec or a policy denial,
3 usage or internal error.`,
		Example: `  cairn render examples/fraud-detection
  cairn render . --check
  cairn render . --only kserve --repo-url https://github.com/acme/specs.git`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, t := range only {
				if !slices.Contains(targets.Names(), t) {
					return exitf(exitUsage, "render: unknown target %q in --only (known: %s)", t, strings.Join(targets.Names(), ", "))
				}
			}
			dir := repoDir(args)
			if out == "" {
				out = filepath.Join(dir, "rendered")
			}
			c, err := pf.check(cmd, dir)
			if err != nil {
				return err
			}
			if !c.Compiled() {
				printDiags(cmd.ErrOrStderr(), c.Diagnostics)
				return &exitError{code: exitDenied}
			}
			view, err := renderLoadView(cmd.Context(), dir, statePath)
			if err != nil {
				return exitf(exitUsage, "render: %v", err)
			}
			git := renderGitSource(dir, out, repoURL, revision)
			res, err := pipeline.Render(cmd.Context(), c, view, pipeline.RenderOptions{Out: out, Only: only, Git: git, CairnRef: releaseRef()})
			if err != nil {
				return pipelineError(cmd.ErrOrStderr(), "render", err)
			}
			for _, n := range res.Notes { // what was left out and why
				fmt.Fprintln(cmd.ErrOrStderr(), "note: "+n.String())
			}
			if git.RepoURL == "" && (len(only) == 0 || slices.Contains(only, targets.TargetArgoCD)) {
				fmt.Fprintln(cmd.ErrOrStderr(), "note: no Argo CD Application rendered: no git remote \"origin\" and no --repo-url")
			}
			b, files, diffs := c.Bundle, res.Files, res.Changes
			w := cmd.OutOrStdout()
			if check {
				for _, d := range diffs {
					fmt.Fprintf(w, "%s: %s%s\n", d.Status, filepath.Join(out, filepath.FromSlash(d.Path)), foreignNote(d))
				}
				stale := len(diffs)
				if workflow {
					st, err := targets.SyncWorkflow(dir, files, true)
					if err != nil {
						return exitf(exitDenied, "render --check: %v", err)
					}
					if st != "" {
						fmt.Fprintf(w, "%s: %s\n", st, filepath.Join(dir, filepath.FromSlash(targets.WorkflowFile)))
						stale++
					}
				}
				if stale > 0 {
					return exitf(exitDenied, "render --check: %d file(s) in %s differ from what the state serves; run 'cairn render' (or 'cairn apply')", stale, out)
				}
				fmt.Fprintf(w, "ok: %d rendered file(s) in %s are current (bundle %s)\n", len(files), out, b.Hash())
				return nil
			}
			if err := targets.Write(out, files, diffs); err != nil {
				return exitf(exitUsage, "render: %v", err)
			}
			for _, d := range diffs {
				verb := map[string]string{"changed": "updated", "missing": "created", "extra": "removed"}[d.Status]
				if d.Foreign {
					verb = "left alone" // a file cairn did not write is never deleted
				}
				fmt.Fprintf(w, "%s: %s%s\n", verb, filepath.Join(out, filepath.FromSlash(d.Path)), foreignNote(d))
			}
			if workflow {
				st, err := targets.SyncWorkflow(dir, files, false)
				if err != nil {
					return exitf(exitDenied, "render --workflow: %v", err)
				}
				if st != "" {
					fmt.Fprintf(w, "%s: %s\n", map[string]string{"changed": "updated", "missing": "created"}[st], filepath.Join(dir, filepath.FromSlash(targets.WorkflowFile)))
				}
			}
			fmt.Fprintf(w, "rendered %d file(s) to %s, %d changed (bundle %s)\n", len(files), out, len(diffs), b.Hash())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "directory to render into (default <dir>/rendered)")
	f.BoolVar(&check, "check", false, "write nothing; exit 1 listing files that differ")
	f.BoolVar(&workflow, "workflow", false, "also write the rendered GitHub workflow to "+targets.WorkflowFile+" (with --check: compare it)")
	f.StringVar(&statePath, "state", "", "state store (path, sqlite:// or postgres:// URL; default $CAIRN_STATE or <dir>/.cairn/state.db)")
	f.StringSliceVar(&only, "only", nil, "render only these targets ("+strings.Join(targets.Names(), ", ")+")")
	f.StringVar(&repoURL, "repo-url", "", "git URL the Argo CD Application syncs (default: the repo's origin remote)")
	f.StringVar(&revision, "revision", "", "git revision the Argo CD Application syncs (default HEAD)")
	pf.add(cmd)
	return cmd
}

// renderLoadView reads what the state serves (reconciler.ServedView). The
// state is only read: without one (no file at the default location) nothing
// has passed its gates, and the view is empty.
func renderLoadView(ctx context.Context, dir, statePath string) (targets.View, error) {
	var v targets.View
	loc := state.Location(statePath, dir)
	if path := strings.TrimPrefix(loc, "sqlite://"); !strings.Contains(path, "://") {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return v, nil
		}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	st, err := state.Open(ctx, loc)
	if err != nil {
		return v, err
	}
	defer st.Close()
	return reconciler.ServedView(ctx, st)
}

// gitSource finds the repository the rendered tree is committed to, for the
// Argo CD Application: the origin remote (credentials stripped) and the
// output directory's path inside the work tree.
func renderGitSource(dir, out, repoURL, revision string) targets.GitSource {
	g := targets.GitSource{RepoURL: renderRedactURL(repoURL), Revision: revision, Path: "rendered"}
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return g
	}
	if wt, err := repo.Worktree(); err == nil {
		root := wt.Filesystem.Root()
		absOut, err1 := filepath.Abs(out)
		absRoot, err2 := filepath.EvalSymlinks(root)
		if err1 == nil && err2 == nil {
			if d, err := filepath.EvalSymlinks(filepath.Dir(absOut)); err == nil {
				absOut = filepath.Join(d, filepath.Base(absOut))
			}
			if rel, err := filepath.Rel(absRoot, absOut); err == nil && !strings.HasPrefix(rel, "..") {
				g.Path = filepath.ToSlash(rel)
			}
		}
	}
	if g.RepoURL == "" {
		if rem, err := repo.Remote("origin"); err == nil && len(rem.Config().URLs) > 0 {
			g.RepoURL = renderRedactURL(rem.Config().URLs[0])
		}
	}
	return g
}

// redactGitURL drops user info (a token in https://x:TOKEN@host/...) so it is never rendered.
func renderRedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return s // scp-like git@host:org/repo carries no secret
	}
	u.User = nil
	return u.String()
}

// foreignNote explains an extra file that cairn did not generate.
func foreignNote(c targets.Change) string {
	if c.Foreign {
		return " (not written by cairn, in a directory cairn renders)"
	}
	return ""
}
