package gitops

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/evals"
	"github.com/cairn-dev/cairn/evals/prices"
	"github.com/cairn-dev/cairn/reconciler"
	"github.com/cairn-dev/cairn/reconciler/state"
	"github.com/cairn-dev/cairn/targets"
)

// BuiltinPlugins wires the eval runner (evals.RunSuite, results cached in the
// state store) and the target renderer (targets.Render) for reconcile runs.
// It stands in until reconciler.Plugins is available; git locates the
// rendered tree for the Argo CD Application (empty RepoURL: none rendered).
func BuiltinPlugins(st state.Store, cat *prices.Catalog, git targets.GitSource) reconciler.Options {
	return reconciler.Options{
		Evals:    EvalRunner{Store: st, Catalog: cat},
		Renderer: Renderer{Git: git},
	}
}

// EvalRunner runs a gating suite with the evals package.
type EvalRunner struct {
	Store   evals.Store
	Catalog *prices.Catalog
}

// RunEval implements reconciler.EvalRunner.
func (r EvalRunner) RunEval(ctx context.Context, b *compiler.Bundle, req reconciler.EvalRequest) (reconciler.EvalOutcome, error) {
	run, err := evals.RunSuite(ctx, b, req.Eval, evals.Options{Store: r.Store, Catalog: r.Catalog})
	if err != nil {
		return reconciler.EvalOutcome{}, err
	}
	out := reconciler.EvalOutcome{Passed: run.Passed, Metrics: map[string]float64{}}
	var parts []string
	for _, m := range run.Metrics {
		if m.Value == nil {
			parts = append(parts, fmt.Sprintf("%s: no score", m.Name))
			continue
		}
		out.Metrics[m.Name] = *m.Value
		parts = append(parts, fmt.Sprintf("%s %.3g %s %.3g", m.Name, *m.Value, m.Op, m.Threshold))
	}
	sort.Strings(parts)
	out.Summary = strings.Join(parts, ", ")
	if run.Errors > 0 {
		out.Summary += fmt.Sprintf(" (%d case errors)", run.Errors)
	}
	for _, c := range run.Cases {
		cr := state.CaseResult{CaseID: c.ID, Status: string(c.Status), Output: c.Output, Error: c.Error, Scores: map[string]float64{}}
		if c.Repeat > 0 {
			cr.CaseID = fmt.Sprintf("%s#%d", c.ID, c.Repeat+1)
		}
		for n, m := range c.Metrics {
			if m.Score != nil {
				cr.Scores[n] = *m.Score
			}
		}
		out.Cases = append(out.Cases, cr)
	}
	return out, nil
}

// Renderer renders every deploy target from the bundle and the registered
// versions in the state store.
type Renderer struct{ Git targets.GitSource }

// Render implements reconciler.Renderer; paths are relative to the spec repo.
func (r Renderer) Render(ctx context.Context, b *compiler.Bundle, st state.Ops) ([]reconciler.File, error) {
	view, err := View(ctx, st)
	if err != nil {
		return nil, err
	}
	files, err := targets.Render(targets.Input{Bundle: b, State: view, Git: r.Git})
	if err != nil {
		return nil, err
	}
	out := make([]reconciler.File, len(files))
	for i, f := range files {
		out[i] = reconciler.File{Path: "rendered/" + f.Path, Content: f.Content}
	}
	return out, nil
}

// View is the renderers' view of the registered model and prompt versions.
func View(ctx context.Context, st state.Ops) (targets.View, error) {
	v := targets.View{Models: map[string]map[string]targets.ModelVersion{}, Prompts: map[string]map[string]targets.PromptVersion{}}
	mvs, err := st.ListModelVersions(ctx, "")
	if err != nil {
		return v, err
	}
	pvs, err := st.ListPromptVersions(ctx, "")
	if err != nil {
		return v, err
	}
	for _, mv := range mvs {
		if v.Models[mv.Model] == nil {
			v.Models[mv.Model] = map[string]targets.ModelVersion{}
		}
		v.Models[mv.Model][mv.Version] = targets.ModelVersion{Version: mv.Version, ArtifactURI: mv.ArtifactURI, Metrics: mv.Metrics}
	}
	for _, pv := range pvs {
		if v.Prompts[pv.Prompt] == nil {
			v.Prompts[pv.Prompt] = map[string]targets.PromptVersion{}
		}
		var msgs []compiler.Message
		for _, m := range pv.Messages {
			msgs = append(msgs, compiler.Message{Role: m.Role, Content: m.Content})
		}
		v.Prompts[pv.Prompt][pv.Version] = targets.PromptVersion{
			Version: pv.Version, ContentHash: pv.ContentHash, Template: pv.Template, Messages: msgs, Inputs: pv.Inputs,
			Model: compiler.PromptModel{Provider: pv.Model.Provider, ID: pv.Model.ID, Temperature: pv.Model.Temperature, MaxTokens: pv.Model.MaxTokens},
		}
	}
	return v, nil
}
