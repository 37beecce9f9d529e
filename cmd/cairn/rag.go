package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/rag"
	"github.com/cairn-dev/cairn/state"
)

type ragFlags struct {
	state   string
	format  string
	json    bool // format == "json"
	commit  string
	sources []string
	k       int
}

func newRAGCmd() *cobra.Command {
	var f ragFlags
	cmd := &cobra.Command{
		Use:   "rag",
		Short: "Build, inspect and query the snapshots of RAG sources",
		Long: `rag builds a content-addressed snapshot of each declared RAG source (documents
loaded, split by the spec's chunking, embedded) into the state store, shows their
status against the repo, and queries the index.
Exit codes: 0 ok, 1 build or query error, 2 invalid spec, 3 usage error.`,
	}
	cmd.PersistentFlags().StringVar(&f.state, "state", "", "state store path or URL (default $"+state.EnvVar+" or <dir>/"+state.DefaultPath+")")
	cmd.PersistentFlags().StringVar(&f.format, "format", "text", "output format: text or json")
	cmd.PersistentPreRunE = func(c *cobra.Command, args []string) error {
		if err := checkFormat(c, f.format, "text", "json"); err != nil {
			return err
		}
		f.json = f.format == "json"
		return nil
	}

	build := &cobra.Command{
		Use:     "build [dir]",
		Example: `  cairn rag build examples/support-assistant`,
		Short:   "Snapshot and index RAG sources; only new or changed chunks are embedded",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireDir(repoDir(args)); err != nil {
				return err
			}
			return ragBuild(cmd, repoDir(args), &f)
		},
	}
	build.Flags().StringSliceVar(&f.sources, "source", nil, "build only these sources (default: all)")
	build.Flags().StringVar(&f.commit, "commit", "", "commit recorded as lineage (default: the repo's git HEAD)")

	status := &cobra.Command{
		Use:     "status [dir]",
		Example: `  cairn rag status examples/support-assistant`,
		Short:   "Show each source's current snapshot and what changed in the repo since",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireDir(repoDir(args)); err != nil {
				return err
			}
			return ragStatus(cmd, repoDir(args), &f)
		},
	}

	query := &cobra.Command{
		Use:     `query <source> "question" [dir]`,
		Example: `  cairn rag query help-center "how long do refunds take?" examples/support-assistant -k 3`,
		Short:   "Retrieve the chunks of a source's current snapshot most similar to a question",
		Args:    cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			return ragQuery(cmd, args[0], args[1], repoDir(args[2:]), &f)
		},
	}
	query.Flags().IntVarP(&f.k, "top-k", "k", 0, "number of chunks (default: the source's retrieval.top_k)")

	cmd.AddCommand(build, status, query)
	return cmd
}

// ragSetup compiles the repo and opens the state store. A read-only command
// (status, query) never creates one: without a state, status reports on an
// empty one and query says nothing is built.
func ragSetup(cmd *cobra.Command, dir string, f *ragFlags, readOnly bool) (*compiler.Bundle, state.Store, error) {
	b, ds := compiler.Compile(dir, compiler.Options{SkipProjection: true})
	if len(ds) > 0 {
		for _, d := range ds {
			fmt.Fprintln(cmd.ErrOrStderr(), d.String())
		}
		return nil, nil, &exitError{code: exitInvalid}
	}
	loc := state.Location(f.state, dir)
	if !readOnly {
		st, err := state.Open(cmd.Context(), loc)
		if err != nil {
			return nil, nil, exitf(exitDenied, "%v", err)
		}
		return b, st, nil
	}
	st, err := state.OpenExisting(cmd.Context(), loc)
	if errors.Is(err, state.ErrNoState) && cmd.Name() == "status" {
		st, err = emptyState(cmd.Context())
	}
	if err != nil {
		return nil, nil, exitf(exitDenied, "%v", err)
	}
	return b, st, nil
}

func ragSourceNames(b *compiler.Bundle, only []string) ([]string, error) {
	var names []string
	for n := range b.RAG {
		names = append(names, n)
	}
	slices.Sort(names)
	if len(only) == 0 {
		return names, nil
	}
	for _, n := range only {
		if b.RAG[n] == nil {
			return nil, exitf(exitUsage, "unknown rag source %q (declared: %s)", n, ragList(names))
		}
	}
	return only, nil
}

func ragList(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// ragHead reads the repo's HEAD commit for lineage; "" outside a git repo.
func ragHead(dir string) string {
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

func ragBuild(cmd *cobra.Command, dir string, f *ragFlags) error {
	ctx := cmd.Context()
	b, st, err := ragSetup(cmd, dir, f, false)
	if err != nil {
		return err
	}
	defer st.Close()
	names, err := ragSourceNames(b, f.sources)
	if err != nil {
		return err
	}
	var objs []string
	for _, n := range names {
		objs = append(objs, "rag/"+n)
	}
	if err := refuseSecrets(cmd, b, objs...); err != nil {
		return err
	}
	commit := f.commit
	if commit == "" {
		commit = ragHead(dir)
	}
	type result struct {
		Source   string        `json:"source"`
		Snapshot *rag.Snapshot `json:"snapshot,omitempty"`
		Diff     *rag.Diff     `json:"diff,omitempty"`
		Error    string        `json:"error,omitempty"`
	}
	results := []result{}
	failed := 0
	for _, n := range names {
		res := result{Source: n}
		snap, diff, err := ragBuildOne(ctx, b, n, st, commit)
		if err != nil {
			failed++
			res.Error = err.Error()
		} else {
			res.Snapshot, res.Diff = snap, &diff
		}
		results = append(results, res)
	}
	w := cmd.OutOrStdout()
	if f.json {
		if err := ragJSON(w, results); err != nil {
			return err
		}
	} else {
		if len(names) == 0 {
			fmt.Fprintln(w, "no rag sources declared")
		}
		for _, r := range results {
			if r.Error != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "rag/%s: build failed, previous snapshot kept:\n  %s\n", r.Source, strings.ReplaceAll(r.Error, "\n", "\n  "))
				continue
			}
			s, d := r.Snapshot, r.Diff
			fmt.Fprintf(w, "rag/%s %s: %d documents, %d chunks (%s)\n", r.Source, ragShort(s.ID), s.Totals.Documents, s.Totals.Chunks, d.Summary())
			if d.HasChanges() {
				ragPrintDocs(w, d)
				fmt.Fprintf(w, "  embedded %d chunks, reused %d\n", d.EmbeddedChunks, d.ReusedChunks)
			}
		}
	}
	if failed > 0 {
		return exitf(exitDenied, "%d of %d rag sources failed to build", failed, len(names))
	}
	return nil
}

func ragBuildOne(ctx context.Context, b *compiler.Bundle, name string, st rag.Store, commit string) (*rag.Snapshot, rag.Diff, error) {
	return rag.Snapshotter{Store: st, Lineage: rag.Lineage{Commit: commit}}.BuildSource(ctx, b, name)
}

func ragPrintDocs(w io.Writer, d *rag.Diff) {
	for _, l := range []struct {
		mark  string
		paths []string
	}{{"+", d.Added}, {"~", d.Changed}, {"-", d.Removed}, {"*", d.Relabeled}} {
		for _, p := range l.paths {
			fmt.Fprintf(w, "  %s %s\n", l.mark, p)
		}
	}
}

// ragShort abbreviates a snapshot id for text output; JSON has the full id.
func ragShort(id string) string {
	if h, ok := strings.CutPrefix(id, "sha256:"); ok && len(h) > 12 {
		return "sha256:" + h[:12]
	}
	return id
}

func ragJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func ragStatus(cmd *cobra.Command, dir string, f *ragFlags) error {
	ctx := cmd.Context()
	b, st, err := ragSetup(cmd, dir, f, true)
	if err != nil {
		return err
	}
	defer st.Close()
	names, _ := ragSourceNames(b, nil)
	type status struct {
		*rag.SourceStatus
		Pending *rag.Diff `json:"pending,omitempty"` // repo vs current snapshot
		Error   string    `json:"error,omitempty"`   // the repo's documents cannot be scanned
	}
	out := []status{}
	for _, n := range names {
		ss, err := rag.Status(ctx, st, n)
		if err != nil {
			return exitf(exitDenied, "%v", err)
		}
		s := status{SourceStatus: ss}
		if d, err := rag.PlanSource(ctx, b.Root, b.RAG[n], st, rag.Lineage{}); err != nil {
			s.Error = err.Error()
		} else {
			s.Pending = &d
		}
		out = append(out, s)
	}
	w := cmd.OutOrStdout()
	if f.json {
		return ragJSON(w, out)
	}
	if len(names) == 0 {
		fmt.Fprintln(w, "no rag sources declared")
	}
	for _, s := range out {
		if s.Current == nil {
			fmt.Fprintf(w, "rag/%s: not built\n", s.Source)
		} else {
			c := s.Current
			fmt.Fprintf(w, "rag/%s %s: %d documents, %d chunks, %s/%s, chunking %d/%d", s.Source, ragShort(c.ID),
				c.Totals.Documents, c.Totals.Chunks, c.Embedding.Provider, c.Embedding.Model, c.Chunking.Size, c.Chunking.Overlap)
			if c.Lineage.Commit != "" {
				fmt.Fprintf(w, ", commit %.12s", c.Lineage.Commit)
			}
			fmt.Fprintf(w, ", %d snapshot(s)\n", len(s.History))
		}
		switch {
		case s.Error != "":
			fmt.Fprintf(w, "  repo: cannot scan: %s\n", strings.ReplaceAll(s.Error, "\n", "\n    "))
		case s.Pending.HasChanges():
			fmt.Fprintf(w, "  repo: %s (run cairn rag build)\n", s.Pending.Summary())
			ragPrintDocs(w, s.Pending)
		default:
			fmt.Fprintln(w, "  repo: up to date")
		}
	}
	return nil
}

func ragQuery(cmd *cobra.Command, source, question, dir string, f *ragFlags) error {
	ctx := cmd.Context()
	b, st, err := ragSetup(cmd, dir, f, true)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := ragSourceNames(b, []string{source}); err != nil {
		return err
	}
	src := b.RAG[source]
	k := f.k
	if k == 0 {
		k = src.Retrieval.TopK
	}
	if k <= 0 {
		return exitf(exitUsage, "--top-k must be at least 1")
	}
	ix, err := rag.LoadIndex(ctx, st, source)
	if err != nil {
		return exitf(exitDenied, "%v", err)
	}
	// Query with the embedder the snapshot was built with, which may differ
	// from the spec when the spec changed since the last build.
	e := ix.Snapshot.Embedding
	if e != src.Embedding {
		fmt.Fprintf(cmd.ErrOrStderr(), "warning: rag/%s snapshot was built with %s/%s, the spec now says %s/%s (run cairn rag build)\n",
			source, e.Provider, e.Model, src.Embedding.Provider, src.Embedding.Model)
	}
	emb, err := rag.EmbedderForSource(b, &compiler.RAG{Name: source, Embedding: e})
	if err != nil {
		return exitf(exitDenied, "%v", err)
	}
	chunks, err := ix.Search(ctx, emb, question, k)
	if err != nil {
		return exitf(exitDenied, "%v", err)
	}
	w := cmd.OutOrStdout()
	if f.json {
		return ragJSON(w, chunks)
	}
	for i, c := range chunks {
		loc := fmt.Sprintf("%s#%d", c.Document, c.Index)
		if c.Page > 0 {
			loc += fmt.Sprintf(" (page %d)", c.Page)
		}
		if c.Row > 0 {
			loc += fmt.Sprintf(" (row %d)", c.Row)
		}
		fmt.Fprintf(w, "%d. %s  score %.3f\n", i+1, loc, c.Score)
		for _, line := range strings.Split(strings.TrimSpace(c.Text), "\n") {
			if strings.TrimSpace(line) == "" {
				fmt.Fprintln(w) // no trailing spaces
				continue
			}
			fmt.Fprintf(w, "   %s\n", line)
		}
	}
	return nil
}
