package reconciler

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/evals"
	"github.com/cairn-dev/cairn/evals/distributed"
	"github.com/cairn-dev/cairn/evals/provider"
	"github.com/cairn-dev/cairn/prices"
	"github.com/cairn-dev/cairn/rag"
	"github.com/cairn-dev/cairn/state"
	"github.com/cairn-dev/cairn/targets"
)

// PluginOptions configure the real plan/apply plug-ins built by Plugins.
type PluginOptions struct {
	Approvals int    // approvals present (from --approvals or the pull request)
	Commit    string // spec repo commit, recorded as RAG snapshot lineage

	// Git says where the rendered tree is committed (the Argo CD Application
	// points at it); without a RepoURL no Application is rendered.
	Git targets.GitSource
	// CairnRef is the cairn release the rendered workflow pins ("" = main).
	CairnRef string

	// Eval runner settings (see evals.Options).
	Parallel  int
	NoCache   bool
	Getenv    func(string) string          // API keys; default os.Getenv
	Providers map[string]provider.Provider // replaces the bundle's providers (tests, workers)
	// Prices is the price catalog eval runs meter cost with (nil:
	// prices.Default()); gitops compares recorded runs against the same one.
	Prices *prices.Catalog

	// Progress, if set, is told as each eval suite's cases finish (the CLI
	// draws a bar or prints lines).
	Progress func(suite string, done, total int)

	// InProcess runs eval cases in this process even with a PostgreSQL
	// state (the CLI sets it from CAIRN_EVAL_INPROCESS=1).
	InProcess bool

	// RAGEmbedder configures network embedders (tests pass an httptest client).
	RAGEmbedder []rag.EmbedderOption

	// OnRenderHeld, if set, is told (once per distinct note) what rendering
	// left out and why: a deployment whose alias or label has no version
	// that passed its gates, a deployment without an image.
	OnRenderHeld func(reason string)
}

// Plugins returns plan/apply Options whose eval runner, renderer and RAG
// snapshotter work on the given state store: eval caches, per-case results
// and RAG snapshots persist in st, so a later plan sees them.
func Plugins(st state.Store, opts PluginOptions) Options {
	o := Options{Approvals: opts.Approvals}
	o.Evals = &EvalPlugin{Store: st, RAG: st, Opts: opts}
	o.RAG = &RAGPlugin{Store: st, Opts: opts}
	o.Renderer = &RenderPlugin{Opts: opts}
	o.Prices = opts.Prices
	return o
}

// EvalPlugin runs eval suites with distributed.RunSuiteAuto, using the state
// store as the eval cache and per-case result store: with a PostgreSQL state
// the cases go to `cairn worker`s, otherwise (or with injected Providers)
// they run in this process with evals.RunSuite.
type EvalPlugin struct {
	Store evals.Store
	RAG   rag.Store // the snapshots {{ context }} is retrieved from (nil: rows bring their own)
	Opts  PluginOptions
}

// RunEval runs one suite against the exact subject requested. A prompt suite
// can only judge the prompt's current content in the bundle: a request for
// other content is an error, never a run against the wrong subject.
func (p *EvalPlugin) RunEval(ctx context.Context, b *compiler.Bundle, req EvalRequest) (EvalOutcome, error) {
	ev := b.Evals[req.Eval]
	if ev == nil {
		return EvalOutcome{}, fmt.Errorf("eval %s is not defined in the bundle", req.Eval)
	}
	if eh := EvalHashFor(b, ev); req.EvalHash != "" && req.EvalHash != eh {
		return EvalOutcome{}, fmt.Errorf("eval %s: the suite definition or its rag content changed since the plan (%s, now %s)", req.Eval, req.EvalHash, eh)
	}
	if kind, name, _ := strings.Cut(req.Target, "/"); kind == "prompts" {
		pr := b.Prompts[name]
		if pr == nil {
			return EvalOutcome{}, fmt.Errorf("eval %s: prompt %s is not in the bundle", req.Eval, name)
		}
		if req.SubjectHash != "" && pr.ContentHash != req.SubjectHash {
			return EvalOutcome{}, fmt.Errorf("eval %s: asked to judge %s@%s (%s) but the spec's prompt is %s (%s)",
				req.Eval, req.Target, req.TargetVersion, req.SubjectHash, pr.Version, pr.ContentHash)
		}
	}
	eo := evals.Options{Version: req.TargetVersion, Parallel: p.Opts.Parallel, NoCache: p.Opts.NoCache, Store: p.Store, Getenv: p.Opts.Getenv, Providers: p.Opts.Providers, InProcess: p.Opts.InProcess,
		Catalog: p.Opts.Prices}
	if req.Prices != nil {
		eo.Catalog = req.Prices
	}
	if p.Opts.Progress != nil {
		eo.Progress = func(done, total int) { p.Opts.Progress(req.Eval, done, total) }
	}
	if eo.Catalog == nil {
		eo.Catalog = prices.Default()
	}
	if p.RAG != nil {
		eo.Retriever = rag.NewRetriever(p.RAG, b, p.Opts.RAGEmbedder...)
	}
	run, err := distributed.RunSuiteAuto(ctx, b, req.Eval, eo)
	if err != nil {
		return EvalOutcome{}, err
	}
	return Outcome(run), nil
}

// Outcome converts an eval run into the evidence recorded for gates.
func Outcome(run *evals.Run) EvalOutcome {
	out := EvalOutcome{Passed: run.Passed, Metrics: map[string]float64{}, Answered: run.Answered, RAGSnapshots: run.RAGSnapshots,
		Tokens: run.InputTokens + run.OutTokens, CostUSD: run.CostUSD}
	var parts []string
	for _, m := range run.Metrics {
		if m.Value == nil {
			why := "no scored case"
			if m.Note != "" {
				why = m.Note
			}
			parts = append(parts, fmt.Sprintf("%s: %s", m.Name, why))
			continue
		}
		out.Metrics[m.Name] = *m.Value
		verdict := "ok"
		if !m.Pass {
			verdict = "FAIL"
			if m.Note != "" {
				verdict += " (" + m.Note + ")"
			}
		}
		parts = append(parts, fmt.Sprintf("%s %s %s %s %s", m.Name, fmtNum(*m.Value), m.Op, fmtNum(m.Threshold), verdict))
	}
	pass, fail, errs := 0, 0, 0
	repeats := false
	for _, c := range run.Cases {
		repeats = repeats || c.Repeat > 0
	}
	for _, c := range run.Cases {
		switch c.Status {
		case evals.Pass:
			pass++
		case evals.Fail:
			fail++
		default:
			errs++
		}
		id := c.ID
		if repeats {
			id = fmt.Sprintf("%s#%d", c.ID, c.Repeat)
		}
		cr := state.CaseResult{CaseID: id, Status: string(c.Status), Output: c.Output, Error: c.Error}
		for name, mr := range c.Metrics {
			if mr.Score != nil {
				if cr.Scores == nil {
					cr.Scores = map[string]float64{}
				}
				cr.Scores[name] = *mr.Score
			}
		}
		out.Cases = append(out.Cases, cr)
	}
	sort.Slice(out.Cases, func(i, j int) bool { return out.Cases[i].CaseID < out.Cases[j].CaseID })
	out.Summary = fmt.Sprintf("%d pass, %d fail, %d error", pass, fail, errs)
	if c := run.Classic; c != nil { // computed from predictions: rows, not cases
		out.Summary = fmt.Sprintf("%d prediction rows", c.Rows)
	}
	if len(parts) > 0 {
		out.Summary += "; " + strings.Join(parts, "; ")
	}
	return out
}

// RAGPlugin snapshots RAG sources into the state store with rag.Snapshotter.
type RAGPlugin struct {
	Store rag.Store
	Opts  PluginOptions
}

// Snapshot builds one source; only new or changed chunks are embedded.
func (p *RAGPlugin) Snapshot(ctx context.Context, b *compiler.Bundle, name string) (RAGSnapshot, error) {
	s := rag.Snapshotter{Store: p.Store, Lineage: rag.Lineage{Commit: p.Opts.Commit}, Embedder: p.Opts.RAGEmbedder}
	snap, diff, err := s.BuildSource(ctx, b, name)
	if err != nil {
		return RAGSnapshot{}, err
	}
	return RAGSnapshot{ID: snap.ID, Summary: diff.Summary()}, nil
}

// RenderedDir is where apply writes rendered targets, relative to the spec repo.
const RenderedDir = "rendered"

// RenderPlugin renders deploy targets with targets.RenderWithNotes against
// a view of what the state serves (ServedView, projected by the plan's own
// moves): rendered manifests only ever name versions whose gates passed.
// Deployments the view does not serve yet are left out, and the notes say
// so through OnRenderHeld.
type RenderPlugin struct {
	Opts PluginOptions

	mu    sync.Mutex
	noted map[string]bool
}

// Render returns the files to write under the spec repo (paths start with "rendered/").
func (p *RenderPlugin) Render(ctx context.Context, b *compiler.Bundle, view targets.View) ([]File, error) {
	res, err := targets.RenderWithNotes(targets.Input{Bundle: b, State: view, Git: p.Opts.Git, CairnRef: p.Opts.CairnRef})
	if err != nil {
		return nil, err
	}
	for _, n := range res.Notes {
		p.note(n.String())
	}
	out := make([]File, len(res.Files))
	for i, f := range res.Files {
		out[i] = File{Path: path.Join(RenderedDir, f.Path), Content: f.Content}
	}
	return out, nil
}

// note passes each distinct note on once.
func (p *RenderPlugin) note(s string) {
	p.mu.Lock()
	if p.noted == nil {
		p.noted = map[string]bool{}
	}
	seen := p.noted[s]
	p.noted[s] = true
	p.mu.Unlock()
	if !seen && p.Opts.OnRenderHeld != nil {
		p.Opts.OnRenderHeld(s)
	}
}

// ViewFromState reads the registered model and prompt versions the
// renderers resolve aliases and labels against.
func ViewFromState(ctx context.Context, st state.Ops) (targets.View, error) {
	mvs, err := st.ListModelVersions(ctx, "")
	if err != nil {
		return targets.View{}, err
	}
	pvs, err := st.ListPromptVersions(ctx, "")
	if err != nil {
		return targets.View{}, err
	}
	return ViewOf(mvs, pvs), nil
}

// ViewOf converts the state store's version records to the renderers' view.
func ViewOf(mvs []state.ModelVersion, pvs []state.PromptVersion) targets.View {
	v := targets.View{Models: map[string]map[string]targets.ModelVersion{}, Prompts: map[string]map[string]targets.PromptVersion{}}
	for _, mv := range mvs {
		if v.Models[mv.Model] == nil {
			v.Models[mv.Model] = map[string]targets.ModelVersion{}
		}
		v.Models[mv.Model][mv.Version] = targets.ModelVersion{Version: mv.Version, ArtifactURI: mv.ArtifactURI, Metrics: mv.Metrics, Digest: mv.ContentHash()}
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
	return v
}
