package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/internal/diag"
	"github.com/cairn-dev/cairn/reconciler"
	"github.com/cairn-dev/cairn/reconciler/state"
	"github.com/cairn-dev/cairn/targets"
)

func init() {
	commands = append(commands, func() *cobra.Command {
		var (
			out, statePath, repoURL, revision, viewFile string
			check                                       bool
			only                                        []string
		)
		cmd := &cobra.Command{
			Use:   "render [dir]",
			Short: "Render deploy targets (KServe, Kubernetes, Prometheus, Terraform, Argo CD, Actions) into rendered/",
			Long: `render compiles the spec repo, resolves every served alias against the registry state,
and writes the deploy targets under --out (default <dir>/rendered). Files cairn rendered
earlier that are no longer produced are removed.

--check writes nothing: it lists the files that differ from what the specs produce
(changed, missing, or extra) and exits 1 when any does.
Exit codes: 0 ok, 1 stale files or a render error, 2 invalid spec, 3 usage or internal error.`,
			Args: cobra.MaximumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				dir := repoDir(args)
				if out == "" {
					out = filepath.Join(dir, "rendered")
				}
				b, ds := compiler.Compile(dir, compiler.Options{})
				if len(ds) > 0 {
					printRenderDiags(cmd, ds)
					return &exitError{code: exitInvalid}
				}
				view, err := renderLoadView(cmd.Context(), dir, statePath, viewFile)
				if err != nil {
					return exitf(exitUsage, "render: %v", err)
				}
				git := renderGitSource(dir, out, repoURL, revision)
				res, err := targets.RenderWithNotes(targets.Input{Bundle: b, State: view, Git: git}, only...)
				files := res.Files
				for _, n := range res.Notes { // e.g. a deployment without image: only its ConfigMap is rendered
					fmt.Fprintln(cmd.ErrOrStderr(), "note: "+n.String())
				}
				if err != nil {
					var l diag.List
					if errors.As(err, &l) {
						printRenderDiags(cmd, l)
						return &exitError{code: exitDenied}
					}
					return exitf(exitUsage, "render: %v", err)
				}
				if git.RepoURL == "" && (len(only) == 0 || renderContains(only, targets.TargetArgoCD)) {
					fmt.Fprintln(cmd.ErrOrStderr(), "note: no Argo CD Application rendered: no git remote \"origin\" and no --repo-url")
				}
				diffs, err := targets.Diff(out, files)
				if err != nil {
					return exitf(exitUsage, "render: %v", err)
				}
				w := cmd.OutOrStdout()
				if check {
					for _, d := range diffs {
						fmt.Fprintf(w, "%s: %s%s\n", d.Status, filepath.Join(out, filepath.FromSlash(d.Path)), foreignNote(d))
					}
					if len(diffs) > 0 {
						return exitf(exitDenied, "render --check: %d file(s) in %s differ from what the specs produce; run 'cairn render'", len(diffs), out)
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
				fmt.Fprintf(w, "rendered %d file(s) to %s, %d changed (bundle %s)\n", len(files), out, len(diffs), b.Hash())
				return nil
			},
		}
		f := cmd.Flags()
		f.StringVar(&out, "out", "", "directory to render into (default <dir>/rendered)")
		f.BoolVar(&check, "check", false, "write nothing; exit 1 listing files that differ")
		f.StringVar(&statePath, "state", "", "state store (path, sqlite:// or postgres:// URL; default $CAIRN_STATE or <dir>/.cairn/state.db)")
		f.StringVar(&viewFile, "view", "", "read registered versions from a JSON targets.View file instead of the state store")
		f.StringSliceVar(&only, "only", nil, "render only these targets ("+strings.Join(targets.Names(), ", ")+")")
		f.StringVar(&repoURL, "repo-url", "", "git URL the Argo CD Application syncs (default: the repo's origin remote)")
		f.StringVar(&revision, "revision", "", "git revision the Argo CD Application syncs (default HEAD)")
		return cmd
	})
}

func renderContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func printRenderDiags(cmd *cobra.Command, ds diag.List) {
	for _, d := range ds {
		fmt.Fprintln(cmd.ErrOrStderr(), d.String())
	}
}

// loadView reads the registered model and prompt versions renderers resolve
// aliases against. A repo without a state store yet has none registered.
func renderLoadView(ctx context.Context, dir, statePath, viewFile string) (targets.View, error) {
	var v targets.View
	if viewFile != "" {
		data, err := os.ReadFile(viewFile)
		if err != nil {
			return v, err
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v); err != nil {
			return v, fmt.Errorf("%s: %v", viewFile, err)
		}
		return v, nil
	}
	loc := state.Location(statePath, dir)
	if statePath == "" && os.Getenv(state.EnvVar) == "" {
		if _, err := os.Stat(loc); errors.Is(err, fs.ErrNotExist) {
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
	return reconciler.ViewFromState(ctx, st)
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
