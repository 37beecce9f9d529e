package pipeline

import (
	"context"
	"slices"
	"strings"

	"github.com/cairn-dev/cairn/internal/diag"
	"github.com/cairn-dev/cairn/targets"
)

// RenderOptions say where and what to render.
type RenderOptions struct {
	Out  string   // the rendered tree (default <dir>/rendered)
	Only []string // render only these targets: read and write only their files
	Git  targets.GitSource
	// CairnRef is the cairn release the rendered workflow pins ("" = main).
	CairnRef string
}

// Rendered is what a render produces, limited to the targets asked for.
type Rendered struct {
	Files   []targets.File
	Changes []targets.Change // how Out differs from Files
	Notes   diag.List        // what was left out and why
}

// Render renders the deploy targets from what the state serves (view, from
// reconciler.ServedView): each alias and label at the version the state
// records after its gates passed, never the specs' wish. A deployment whose
// alias or label has no such version is left out, with a note. A blocked
// check (an unwaived denial, a policy that does not compile) renders nothing.
func Render(ctx context.Context, c *Checked, view targets.View, opts RenderOptions) (*Rendered, error) {
	if err := c.requireBundle(); err != nil {
		return nil, err
	}
	if bl := c.Blocking(); len(bl) > 0 {
		return nil, &DeniedError{Diagnostics: bl}
	}
	res, err := targets.RenderWithNotes(targets.Input{Bundle: c.Bundle, State: view, Git: opts.Git, CairnRef: opts.CairnRef})
	if err != nil {
		return nil, err
	}
	changes, err := targets.Diff(opts.Out, res.Files)
	if err != nil {
		return nil, err
	}
	out := &Rendered{Files: res.Files, Changes: changes, Notes: res.Notes}
	if len(opts.Only) == 0 {
		return out, nil
	}
	// Every target is rendered so that a file only another target writes is
	// never taken for a stale one; then only T's files are kept.
	owned := func(path string) bool {
		for _, t := range res.Owners[path] {
			if slices.Contains(opts.Only, t) {
				return true
			}
		}
		return false
	}
	inDir := func(path string) bool {
		for _, t := range opts.Only {
			if strings.HasPrefix(path, targets.Dir(t)) {
				return true
			}
		}
		return false
	}
	out.Files, out.Changes = nil, nil
	for _, f := range res.Files {
		if owned(f.Path) {
			out.Files = append(out.Files, f)
		}
	}
	for _, ch := range changes {
		if owned(ch.Path) || ch.Status == "extra" && inDir(ch.Path) {
			out.Changes = append(out.Changes, ch)
		}
	}
	return out, nil
}
