package compiler

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/trace"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/template"
	"text/template/parse"

	"github.com/cairn-dev/cairn/internal/diag"
	"github.com/cairn-dev/cairn/internal/promql"
	"github.com/cairn-dev/cairn/prompts"
	"github.com/cairn-dev/cairn/tokens"
)

// resolver checks references and derives facts, collecting every error.
type resolver struct {
	c      *compilation
	b      *Bundle
	ds     diag.List
	counts []*Prompt // prompts whose tokens are still to count
	// datasets holds what earlier runs' dataset scans found (datasets.go).
	datasets *datasetCache
	// Made on all cores before the serial walk (prepare): each object's
	// position, the parses of the prompts' inline templates, and each SLO
	// query's window check.
	objPos    map[string]diag.Position
	templates map[string]parsedTemplate
	windows   map[string]error // a PromQL query → promql.WindowTemplate's error
}

// parsedTemplate is an inline template's variables, or its syntax error.
type parsedTemplate struct {
	vars []prompts.Var
	err  error
}

// prepare does, on all cores, the pure work of the serial walk over the
// objects that grows with the repo — every object's position, the inline
// templates' parses, the SLO queries' parses — so that the walk, which
// reports in order and links objects to each other, only looks them up (a
// third of resolving the large repo's 4,300 objects).
func (r *resolver) prepare() {
	b := r.b
	var objs []string
	for _, c := range []struct {
		kind  string
		names []string
	}{
		{"providers", slices.Collect(maps.Keys(b.Providers))}, {"features", slices.Collect(maps.Keys(b.Features))},
		{"models", slices.Collect(maps.Keys(b.Models))}, {"rag", slices.Collect(maps.Keys(b.RAG))},
		{"prompts", slices.Collect(maps.Keys(b.Prompts))}, {"evals", slices.Collect(maps.Keys(b.Evals))},
		{"deployments", slices.Collect(maps.Keys(b.Deployments))}, {"slos", slices.Collect(maps.Keys(b.SLOs))},
	} {
		for _, n := range c.names {
			objs = append(objs, c.kind+"/"+n)
		}
	}
	var texts, queries []string
	for _, p := range b.Prompts {
		if p.TemplateFile == "" && p.Template != "" {
			texts = append(texts, p.Template)
		}
		for _, m := range p.Messages {
			texts = append(texts, m.Content)
		}
	}
	for _, sl := range b.SLOs {
		for _, q := range []string{sl.SLI.Errors, sl.SLI.Total} {
			if q != "" {
				queries = append(queries, q)
			}
		}
	}
	pos := make([]diag.Position, len(objs))
	parsed := make([]parsedTemplate, len(texts))
	windows := make([]error, len(queries))
	const chunk = 64
	nObj, nText := (len(objs)+chunk-1)/chunk, (len(texts)+chunk-1)/chunk
	onCores(nObj+nText+(len(queries)+chunk-1)/chunk, func(c int) {
		switch {
		case c < nObj:
			for i := c * chunk; i < min((c+1)*chunk, len(objs)); i++ {
				pos[i] = r.lookup(objs[i])
			}
		case c < nObj+nText:
			c -= nObj
			for i := c * chunk; i < min((c+1)*chunk, len(texts)); i++ {
				parsed[i].vars, parsed[i].err = prompts.Parse(texts[i])
			}
		default:
			c -= nObj + nText
			for i := c * chunk; i < min((c+1)*chunk, len(queries)); i++ {
				_, windows[i] = promql.WindowTemplate(queries[i])
			}
		}
	})
	r.objPos = make(map[string]diag.Position, len(objs))
	for i, o := range objs {
		r.objPos[o] = pos[i]
	}
	r.templates = make(map[string]parsedTemplate, len(texts))
	for i, t := range texts {
		r.templates[t] = parsed[i]
	}
	r.windows = make(map[string]error, len(queries))
	for i, q := range queries {
		r.windows[q] = windows[i]
	}
}

// parseTemplate is prompts.Parse, from prepare's parses where it made one.
func (r *resolver) parseTemplate(text string) ([]prompts.Var, error) {
	if t, ok := r.templates[text]; ok {
		return t.vars, t.err
	}
	return prompts.Parse(text)
}

// windowErr is promql.WindowTemplate's error, from prepare's where it made one.
func (r *resolver) windowErr(q string) error {
	if err, ok := r.windows[q]; ok {
		return err
	}
	_, err := promql.WindowTemplate(q)
	return err
}

func (r *resolver) at(object string, field ...string) diag.Position {
	if len(field) == 0 {
		if p, ok := r.objPos[object]; ok {
			return p
		}
	}
	return r.lookup(object, field...)
}

func (r *resolver) lookup(object string, field ...string) diag.Position {
	kind, name, _ := strings.Cut(object, "/")
	p := []string{kind}
	if name != "" {
		p = append(p, name)
	}
	for _, f := range field {
		p = append(p, strings.Split(f, ".")...)
	}
	return r.c.ix.lookup(p)
}

func (r *resolver) errf(code, object, field, format string, args ...any) {
	var pos diag.Position
	if field != "" {
		pos = r.at(object, field)
	} else {
		pos = r.at(object)
	}
	r.ds = append(r.ds, diag.Diagnostic{Severity: diag.Error, Code: code, Object: object, Path: field,
		Message: fmt.Sprintf(format, args...), Pos: pos})
}

// fileErr reports a problem with a referenced file at the field naming it.
func (r *resolver) fileErr(err error, object, field string) {
	fe, ok := err.(*fileError)
	if !ok {
		fe = &fileError{CodeUnreadable, err.Error()}
	}
	r.errf(fe.code, object, field, "%s", fe.msg)
}

// ref checks that name exists in m; the message lists what does exist nearby.
func ref[V any](r *resolver, m map[string]V, kind, name, object, field string) bool {
	if _, ok := m[name]; ok {
		return true
	}
	names := slices.Sorted(maps.Keys(m))
	hint := ""
	if s := closest(name, names); s != "" {
		hint = fmt.Sprintf("; did you mean %q?", s)
	} else if len(names) > 0 {
		if len(names) > 8 {
			names = append(names[:8], "…")
		}
		hint = fmt.Sprintf(" (defined: %s)", strings.Join(names, ", "))
	} else {
		hint = fmt.Sprintf(" (no %s are defined)", kind)
	}
	r.errf(CodeUnknownRef, object, field, "%s %q does not exist%s", strings.TrimSuffix(kind, "s"), name, hint)
	return false
}

func (c *compilation) resolve(opts Options) (*Bundle, diag.List) {
	d := &c.doc
	b := &Bundle{
		FormatVersion: FormatVersion,
		Project:       d.Project,
		Providers:     orEmpty(d.Providers),
		Features:      orEmpty(d.Features),
		Models:        orEmpty(d.Models),
		Prompts:       orEmpty(d.Prompts),
		RAG:           orEmpty(d.RAG),
		Evals:         orEmpty(d.Evals),
		SLOs:          orEmpty(d.SLOs),
		Deployments:   orEmpty(d.Deployments),
		Governance:    d.Governance,
		Compliance:    d.Compliance,
		Gating:        []GateRef{},
		Files:         map[string]string{},
		Root:          c.fs.root,
	}
	r := &resolver{c: c, b: b}
	var files []string
	for _, p := range b.Prompts {
		if p.TemplateFile != "" {
			files = append(files, p.TemplateFile)
		}
	}
	for _, e := range b.Evals {
		if e.Dataset != "" {
			files = append(files, e.Dataset)
		}
	}
	c.fs.prefetch(files)
	defer c.fs.done()
	r.prepare()
	b.Project.Pos = r.at("project")
	b.Governance.Pos = r.at("governance")
	if b.Governance.Waivers == nil {
		b.Governance.Waivers = []Waiver{}
	}
	for i := range b.Governance.Waivers {
		b.Governance.Waivers[i].Pos = r.at("governance", fmt.Sprintf("waivers.%d", i))
	}
	sensitive := map[string]bool{}
	for _, s := range b.Governance.SensitiveDomains {
		sensitive[s] = true
	}

	for _, n := range slices.Sorted(maps.Keys(b.Providers)) {
		p := b.Providers[n]
		p.Name, p.Pos = n, r.at("providers/"+n)
		if (p.Kind == "openai-compatible" || p.Kind == "azure-openai") && p.BaseURL == "" {
			r.errf(CodeProvider, "providers/"+n, "kind", "a provider of kind %q needs base_url", p.Kind)
		}
	}
	for _, n := range slices.Sorted(maps.Keys(b.Features)) {
		f := b.Features[n]
		f.Name, f.Pos, f.UsedBy = n, r.at("features/"+n), []string{}
		if q := f.Quality; q != nil && q.Min != nil && q.Max != nil && *q.Min > *q.Max {
			r.errf(CodeSchema, "features/"+n, "quality.min", "quality.min %v is greater than quality.max %v", *q.Min, *q.Max)
		}
	}
	for _, n := range slices.Sorted(maps.Keys(b.Models)) {
		r.model(n, b.Models[n], sensitive)
	}
	for _, n := range slices.Sorted(maps.Keys(b.RAG)) {
		r.rag(n, b.RAG[n])
	}
	for _, n := range slices.Sorted(maps.Keys(b.Prompts)) {
		r.prompt(n, b.Prompts[n])
	}
	r.hashPrompts()
	// Counting waits a fifth of a second for the BPE tables, on one core:
	// the evals, deployments and SLOs resolve meanwhile (they do not read
	// the counts; the cost projection below does).
	counted := r.countTokens(opts)
	r.datasets = readDatasetCache(opts.CacheDir, opts.CacheSalt)
	for _, n := range slices.Sorted(maps.Keys(b.Evals)) {
		r.eval(n, b.Evals[n])
	}
	if opts.CacheDir != "" {
		opts.background(r.datasets.save)
	}
	for _, n := range slices.Sorted(maps.Keys(b.Deployments)) {
		r.deployment(n, b.Deployments[n])
	}
	for _, n := range slices.Sorted(maps.Keys(b.SLOs)) {
		s := b.SLOs[n]
		s.Name, s.Pos = n, r.at("slos/"+n)
		switch {
		case s.SLI.Kind == "availability" && (s.SLI.Errors == "" || s.SLI.Total == "" || s.SLI.Metric != "" || s.SLI.ThresholdMS != 0):
			r.errf(CodeSchema, "slos/"+n, "sli", "an availability SLI has errors and total (queries), and no metric or threshold_ms")
		case s.SLI.Kind == "latency" && (s.SLI.Metric == "" || s.SLI.ThresholdMS == 0 || s.SLI.Errors != "" || s.SLI.Total != ""):
			r.errf(CodeSchema, "slos/"+n, "sli", "a latency SLI has metric and threshold_ms, and no errors or total")
		}
		if s.SLI.Kind == "latency" && s.SLI.Metric != "" {
			if _, err := promql.ParseSelector(s.SLI.Metric); err != nil {
				r.errf(CodeQuery, "slos/"+n, "sli.metric", "a latency SLI names a histogram metric (optionally with label matchers): %v", err)
			}
		}
		// The queries must be windowable for burn-rate rules; the renderer uses the same parser.
		for _, q := range []struct{ field, query string }{{"sli.errors", s.SLI.Errors}, {"sli.total", s.SLI.Total}} {
			if q.query == "" {
				continue
			}
			if err := r.windowErr(q.query); err != nil {
				r.errf(CodeQuery, "slos/"+n, q.field, "%v", err)
			}
		}
		if ref(r, b.Deployments, "deployments", s.Deployment, "slos/"+n, "deployment") {
			dep := b.Deployments[s.Deployment]
			dep.SLOs = append(dep.SLOs, n)
		}
	}
	r.gates()
	if opts.DeferCounts && opts.SkipProjection && len(r.ds) == 0 {
		b.pending = &pending{}
		b.pending.wg.Go(func() {
			counted()
			b.pending.ds = r.ds
		})
	} else {
		counted()
	}
	if len(r.ds) > 0 {
		return nil, r.ds
	}
	defer trace.StartRegion(context.Background(), "compile.resolve.tail").End()
	for k, v := range c.fs.hashes {
		b.Files[k] = v
	}
	b.FieldPos = c.ix.fields
	r.compliance(b)
	// The compliance block's documents were hashed after the copy above.
	for k, v := range c.fs.hashes {
		b.Files[k] = v
	}
	r.secretFindings(b)
	return b, r.ds
}

// secretFindings attaches each credential found in a data file to the
// objects that reference the file, positioned at its line, for the
// no_secrets policy ("evals/x.secret_findings[i]" in FieldPos).
func (r *resolver) secretFindings(b *Bundle) {
	for _, f := range r.c.fs.secrets {
		for _, name := range slices.Sorted(maps.Keys(b.Evals)) {
			if cleanRel(b.Evals[name].Dataset) == f.File {
				f.Object, f.Field = "evals/"+name, "dataset"
				b.addSecret(f)
			}
		}
		for _, name := range slices.Sorted(maps.Keys(b.RAG)) {
			for _, s := range b.RAG[name].Sources {
				if slices.Contains(s.Files, f.File) {
					f.Object, f.Field = "rag/"+name, "sources"
					b.addSecret(f)
					break
				}
			}
		}
	}
}

func orEmpty[V any](m map[string]V) map[string]V {
	if m == nil {
		return map[string]V{}
	}
	return m
}

func (r *resolver) model(n string, m *Model, sensitive map[string]bool) {
	obj := "models/" + n
	b := r.b
	m.Name, m.Pos = n, r.at(obj)
	m.PIIFeatures, m.ServedBy = []string{}, []string{}
	m.Sensitive = m.Domain != "" && sensitive[m.Domain]
	if m.Aliases == nil {
		m.Aliases = map[string]string{}
	}
	if m.Gates == nil {
		m.Gates = map[string]Gate{}
	}
	for i, f := range m.Features {
		if ref(r, b.Features, "features", f, obj, fmt.Sprintf("features.%d", i)) {
			ft := b.Features[f]
			ft.UsedBy = append(ft.UsedBy, n)
			if ft.PII {
				m.PIIFeatures = append(m.PIIFeatures, f)
			}
		}
	}
	sort.Strings(m.PIIFeatures)
	if m.Monitoring != nil && m.Monitoring.Drift != nil {
		have := map[string]bool{}
		for _, f := range m.Features {
			have[f] = true
		}
		for i, f := range m.Monitoring.Drift.Features {
			if !have[f] {
				r.errf(CodeUnknownRef, obj, fmt.Sprintf("monitoring.drift.features.%d", i),
					"drift monitor names feature %q, which is not among the model's features (%s)", f, strings.Join(m.Features, ", "))
			}
		}
	}
	if t := m.Training; t != nil && t.RetrainWhen != nil {
		rw := t.RetrainWhen
		switch {
		case rw.Alert != "" && (rw.Metric != "" || rw.Below != nil || rw.Above != nil):
			r.errf(CodeSchema, obj, "training.retrain_when.alert", "retrain_when is an alert or a metric bound, not both")
		case rw.Alert == "" && rw.Metric == "":
			r.errf(CodeMissing, obj, "training.retrain_when", "retrain_when needs a metric (with below or above) or an alert")
		case rw.Alert == "" && (rw.Below == nil) == (rw.Above == nil):
			r.errf(CodeSchema, obj, "training.retrain_when", "retrain_when takes exactly one of below or above")
		}
		if evName, metric, ok := strings.Cut(rw.Metric, "."); ok {
			switch ev := b.Evals[evName]; {
			case ev == nil:
				r.errf(CodeUnknownRef, obj, "training.retrain_when.metric", "%q names eval %q, which is not defined (a computed metric is written <eval>.<metric>)", rw.Metric, evName)
			case ev.Target.Model != n || ev.Predictions == nil || ev.Metrics[metric].Scorer == "":
				r.errf(CodeSchema, obj, "training.retrain_when.metric", "%q is not a metric eval %q computes from models/%s's predictions", rw.Metric, evName, n)
			}
		}
	}
	if t := m.Training; t != nil && t.Trigger != nil && (t.Trigger.Webhook == "") == (t.Trigger.KubernetesJob == nil) {
		r.errf(CodeSchema, obj, "training.trigger", "a training trigger is exactly one of webhook or kubernetes_job")
	}
	if m.Kind == "llm" && m.Provider != "" {
		ref(r, b.Providers, "providers", m.Provider, obj, "provider")
	}
	if m.Kind == "classic" && (m.Provider != "" || m.ModelID != "") {
		r.errf(CodeSchema, obj, "provider", "provider and model_id are for kind \"llm\"; this model is %q", m.Kind)
	}
	for _, alias := range slices.Sorted(maps.Keys(m.Gates)) {
		for i, e := range m.Gates[alias].Evals {
			r.gateEval(obj, "models", n, alias, i, e)
		}
		for _, metric := range slices.Sorted(maps.Keys(m.Gates[alias].Metrics)) {
			r.computedGateMetric(obj, n, alias, metric, "gates."+alias+".metrics."+metric)
		}
		if nw := m.Gates[alias].NotWorseThan; nw != nil {
			if _, ok := m.Aliases[nw.Alias]; !ok {
				r.errf(CodeUnknownRef, obj, "gates."+alias+".not_worse_than.alias", "alias %q is not one of the model's aliases (%s)", nw.Alias, strings.Join(slices.Sorted(maps.Keys(m.Aliases)), ", "))
			}
			if len(nw.By) == 0 {
				r.errf(CodeSchema, obj, "gates."+alias+".not_worse_than.by", "names no metric to compare (\"<eval>.<metric>\": margin)")
			}
			for _, metric := range slices.Sorted(maps.Keys(nw.By)) {
				field := "gates." + alias + ".not_worse_than.by." + metric
				if !strings.Contains(metric, ".") {
					r.errf(CodeSchema, obj, field, "%q is not a computed metric: challenger and champion are compared on \"<eval>.<metric>\" computed from both versions' predictions", metric)
					continue
				}
				if r.computedGateMetric(obj, n, alias, metric, field) {
					evName, mName, _ := strings.Cut(metric, ".")
					ev := r.b.Evals[evName]
					if ev.Predictions.Version == "" && (ev.Predictions.Server == nil || !ev.Predictions.Server.Versioned) {
						r.errf(CodeSchema, obj, field, "eval %q has one set of predictions for every version: declare predictions.version (the column naming each row's model version), or score on a server with versioned: true, to compare two versions", evName)
					} else if sc := ev.Metrics[mName].Scorer; slices.Contains(classicFairness, sc) {
						r.errf(CodeSchema, obj, field, "%s is a fairness measure: bound it with metrics (not relative to another version)", sc)
					}
				}
			}
		}
	}
}

// computedGateMetric checks a gate metric written "<eval>.<metric>": a
// metric that eval computes from the model's predictions (the gate runs the
// eval for the version, as a gate listing it under evals does). A name
// without a dot is a registered metric, checked against the registry.
func (r *resolver) computedGateMetric(obj, model, alias, metric, field string) bool {
	evName, mName, ok := strings.Cut(metric, ".")
	if !ok {
		return false
	}
	ev := r.b.Evals[evName]
	switch {
	case ev == nil:
		r.errf(CodeUnknownRef, obj, field, "%q names eval %q, which is not defined (a computed metric is written <eval>.<metric>)", metric, evName)
	case ev.Target.Model != model:
		r.errf(CodeSchema, obj, field, "eval %q evaluates %s, not models/%s", evName, evalTargetName(ev), model)
	case ev.Predictions == nil:
		r.errf(CodeSchema, obj, field, "eval %q has no predictions: only metrics computed from predictions can gate by name", evName)
	case ev.Metrics[mName].Scorer == "":
		r.errf(CodeUnknownRef, obj, field, "eval %q computes no metric %q (it has %s)", evName, mName, strings.Join(slices.Sorted(maps.Keys(ev.Metrics)), ", "))
	default:
		return true
	}
	return false
}

func evalTargetName(e *Eval) string {
	if e.Target.Prompt != "" {
		return "prompts/" + e.Target.Prompt
	}
	return "models/" + e.Target.Model
}

func (r *resolver) gateEval(obj, kind, name, alias string, i int, e string) {
	field := fmt.Sprintf("gates.%s.evals.%d", alias, i)
	if !ref(r, r.b.Evals, "evals", e, obj, field) {
		return
	}
	ev := r.b.Evals[e]
	if (ev.Target.Prompt != "" && r.b.Prompts[ev.Target.Prompt] == nil) || (ev.Target.Model != "" && r.b.Models[ev.Target.Model] == nil) {
		return // the eval's own unknown target is reported where it is written
	}
	tgt := ""
	if kind == "models" {
		tgt = ev.Target.Model
	} else {
		tgt = ev.Target.Prompt
	}
	if tgt != name {
		what := "prompt " + ev.Target.Prompt
		if ev.Target.Model != "" {
			what = "model " + ev.Target.Model
		}
		r.errf(CodeWrongTarget, obj, field, "eval %q evaluates %s, not %s; a gate needs an eval of the object it gates", e, what, obj)
		return
	}
	r.b.Gating = append(r.b.Gating, GateRef{Object: obj, Alias: alias, Eval: e})
}

func (r *resolver) gates() {
	sort.Slice(r.b.Gating, func(i, j int) bool {
		a, c := r.b.Gating[i], r.b.Gating[j]
		if a.Object != c.Object {
			return a.Object < c.Object
		}
		if a.Alias != c.Alias {
			return a.Alias < c.Alias
		}
		return a.Eval < c.Eval
	})
	for _, g := range r.b.Gating {
		ev := r.b.Evals[g.Eval]
		ev.Gates = append(ev.Gates, g.Object+"@"+g.Alias)
	}
}

func (r *resolver) rag(n string, s *RAG) {
	obj := "rag/" + n
	s.Name, s.Pos, s.UsedBy = n, r.at(obj), []string{}
	if len(s.Sources) == 0 {
		r.errf(CodeMissing, obj, "sources", "a RAG source needs at least one entry in sources")
	}
	rank := map[string]int{"public": 0, "internal": 1, "confidential": 2}
	s.Classification = "public"
	for i := range s.Sources {
		src := &s.Sources[i]
		field := fmt.Sprintf("sources.%d.path", i)
		files, err := r.c.fs.glob(src.Path)
		if err != nil {
			r.fileErr(err, obj, field)
			continue
		}
		for _, f := range files {
			if err := r.c.fs.hashFile(f); err != nil {
				r.fileErr(err, obj, field)
			}
		}
		src.Files = files
		if rank[src.Classification] > rank[s.Classification] {
			s.Classification = src.Classification
		}
		s.PII = s.PII || src.PII
	}
	if s.Chunking.Overlap >= s.Chunking.Size {
		r.errf(CodeSchema, obj, "chunking.overlap", "chunking.overlap %d must be smaller than chunking.size %d", s.Chunking.Overlap, s.Chunking.Size)
	}
}

func (r *resolver) prompt(n string, p *Prompt) {
	obj := "prompts/" + n
	b := r.b
	p.Name, p.Pos, p.ServedBy = n, r.at(obj), []string{}
	if p.Labels == nil {
		p.Labels = map[string]string{}
	}
	if p.Gates == nil {
		p.Gates = map[string]Gate{}
	}
	if p.Inputs == nil {
		p.Inputs = []string{}
	}
	ref(r, b.Providers, "providers", p.Model.Provider, obj, "model.provider")
	if p.RAG != "" && ref(r, b.RAG, "rag sources", p.RAG, obj, "rag") {
		b.RAG[p.RAG].UsedBy = append(b.RAG[p.RAG].UsedBy, n)
	}
	cur, _ := prompts.ParseSemver(p.Version)
	for _, l := range slices.Sorted(maps.Keys(p.Labels)) {
		if v, err := prompts.ParseSemver(p.Labels[l]); err == nil && prompts.Compare(v, cur) > 0 {
			r.errf(CodeLabelAhead, obj, "labels."+l, "label %q names version %s, newer than the prompt's version %s", l, p.Labels[l], p.Version)
		}
	}
	for _, label := range slices.Sorted(maps.Keys(p.Gates)) {
		for i, e := range p.Gates[label].Evals {
			r.gateEval(obj, "prompts", n, label, i, e)
		}
	}

	sources := 0
	for _, set := range []bool{p.Template != "", p.TemplateFile != "", len(p.Messages) > 0} {
		if set {
			sources++
		}
	}
	if sources != 1 {
		r.errf(CodeTemplateSource, obj, "", "a prompt needs exactly one of template, template_file or messages (it has %d)", sources)
		return
	}
	// Collect the template text(s) with where each starts, for located errors.
	type part struct {
		text  string
		file  string // template_file path, or "" for inline text
		field string
	}
	var parts []part
	switch {
	case p.TemplateFile != "":
		src, err := r.c.fs.readText(p.TemplateFile)
		if err != nil {
			r.fileErr(err, obj, "template_file")
			return
		}
		p.Template = string(src)
		parts = append(parts, part{p.Template, p.TemplateFile, "template_file"})
	case p.Template != "":
		parts = append(parts, part{p.Template, "", "template"})
	default:
		for i, m := range p.Messages {
			parts = append(parts, part{m.Content, "", fmt.Sprintf("messages.%d.content", i)})
		}
	}
	used := map[string]diag.Position{}
	for _, pt := range parts {
		vars, err := r.parseTemplate(pt.text)
		base := r.at(obj, pt.field)
		locate := func(line, col int) diag.Position {
			if pt.file != "" {
				return diag.Position{File: pt.file, Line: line, Col: col}
			}
			return base // inline strings: the field is the most exact place we know
		}
		if err != nil {
			se := err.(*prompts.SyntaxError)
			r.ds = append(r.ds, diag.Diagnostic{Severity: diag.Error, Code: CodeTemplateSyntax, Object: obj, Path: pt.field,
				Message: "template: " + se.Msg, Pos: locate(se.Line, se.Col)})
			continue
		}
		for _, v := range vars {
			if _, ok := used[v.Name]; !ok {
				used[v.Name] = locate(v.Line, v.Col)
			}
		}
	}
	inputs := map[string]bool{}
	for _, in := range p.Inputs {
		inputs[in] = true
	}
	for _, v := range slices.Sorted(maps.Keys(used)) {
		if !inputs[v] && !(v == "context" && p.RAG != "") {
			r.ds = append(r.ds, diag.Diagnostic{Severity: diag.Error, Code: CodeVarNotInput, Object: obj, Path: "inputs",
				Message: fmt.Sprintf("template uses {{ %s }} but %q is not in inputs %v", v, v, p.Inputs), Pos: used[v]})
		}
	}
	for i, in := range p.Inputs {
		if _, ok := used[in]; !ok {
			r.errf(CodeInputNotUsed, obj, fmt.Sprintf("inputs.%d", i), "input %q is never used in the template", in)
		}
	}
	p.Variables = slices.Sorted(maps.Keys(used))

	p.Encoding = tokens.EncodingFor(p.Model.ID)
	r.counts = append(r.counts, p) // hashed and counted in parallel once every prompt is resolved
}

// hashPrompts sets the content hash of each prompt resolved whole, on all cores.
func (r *resolver) hashPrompts() {
	const chunk = 64
	onCores((len(r.counts)+chunk-1)/chunk, func(c int) {
		for _, p := range r.counts[c*chunk : min((c+1)*chunk, len(r.counts))] {
			content := prompts.Content{Template: p.Template, Inputs: p.Inputs, RAG: p.RAG,
				Model: prompts.Params{Provider: p.Model.Provider, ID: p.Model.ID, Temperature: p.Model.Temperature, MaxTokens: p.Model.MaxTokens}}
			for _, m := range p.Messages {
				content.Messages = append(content.Messages, prompts.Message{Role: m.Role, Content: m.Content})
			}
			p.ContentHash = prompts.Hash(content)
		}
	})
}

// countTokens fills each prompt's template token count, spread over the cores
// (BPE encoding of thousands of templates is the compiler's largest own cost).
// A count depends on the encoding and the text only, so with a cache
// directory the counts are kept by their hash (tokens.gob) and the BPE
// tables are not even loaded when every template is known. The counting
// runs in the background; the returned function waits for it and reports.
func (r *resolver) countTokens(opts Options) (wait func()) {
	errs := make([]error, len(r.counts))
	keys := make([]string, len(r.counts))
	var known map[string]int
	var uncounted []int
	if opts.CacheDir != "" {
		known = readCounts(filepath.Join(opts.CacheDir, "tokens.gob"))
	}
	for i, p := range r.counts {
		if known != nil {
			keys[i] = countKey(opts.CacheSalt, p)
			if n, ok := known[keys[i]]; ok {
				p.TemplateTokens = n
				continue
			}
		}
		uncounted = append(uncounted, i)
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer trace.StartRegion(context.Background(), "compile.tokens").End()
			for i := range next {
				p := r.counts[i]
				if len(p.Messages) > 0 {
					msgs := make([]tokens.Message, len(p.Messages))
					for j, m := range p.Messages {
						msgs[j] = tokens.Message{Role: m.Role, Content: m.Content}
					}
					p.TemplateTokens, errs[i] = tokens.CountChat(p.Model.ID, msgs)
				} else {
					p.TemplateTokens, errs[i] = tokens.Count(p.Encoding, prompts.Canonical(p.Template))
				}
			}
		}()
	}
	go func() {
		for _, i := range uncounted {
			next <- i
		}
		close(next)
	}()
	return func() {
		wg.Wait()
		r.reportCounts(opts, errs, keys, known, len(uncounted) > 0)
	}
}

func (r *resolver) reportCounts(opts Options, errs []error, keys []string, known map[string]int, counted bool) {
	failed := false
	for i, err := range errs {
		if err != nil {
			failed = true
			r.errf(CodeInternal, "prompts/"+r.counts[i].Name, "", "counting tokens: %v", err)
		}
	}
	if known != nil && counted && !failed {
		fresh := make(map[string]int, len(r.counts))
		for i, p := range r.counts {
			fresh[keys[i]] = p.TemplateTokens
		}
		writeCounts(filepath.Join(opts.CacheDir, "tokens.gob"), fresh)
	}
}

// datasetRow is the documented shape of an eval dataset line.
type datasetRow struct {
	ID        *string        `json:"id"`
	Vars      map[string]any `json:"vars"`
	Reference any            `json:"reference"`
	Context   any            `json:"context"`
	Output    any            `json:"output"`
}

// caseScorers score one generated case; the others are computed from a
// classic eval's predictions (the schema lists both).
// predictionColumns checks that the columns a task needs are declared —
// or, with a model server, that none it fills is.
func (r *resolver) predictionColumns(obj string, p *Predictions, task string) {
	if p.Server != nil {
		// The server fills the scores: a column naming them would be ignored.
		for _, f := range []struct {
			name string
			set  bool
		}{{"score", p.Score != ""}, {"probabilities", len(p.Probabilities) > 0}, {"predicted", p.Predicted != ""}, {"version", p.Version != ""}} {
			if f.set {
				r.errf(CodeSchema, obj, "predictions."+f.name, "with predictions.server the model server scores every row: drop %s (the server's versioned: true evaluates each version)", f.name)
			}
		}
		if task == "ranking" {
			r.errf(CodeSchema, obj, "predictions.server", "a ranking eval reads its scores from the file; predictions.server scores classification and regression")
		}
		if task == "multiclass" && len(p.Classes) < 2 {
			r.errf(CodeMissing, obj, "predictions.classes", "a multiclass eval names its classes (two or more label values, in order)")
		}
		return
	}
	switch task {
	case "multiclass":
		switch {
		case len(p.Classes) < 2:
			r.errf(CodeMissing, obj, "predictions.classes", "a multiclass eval names its classes (two or more label values, in order)")
		case len(p.Probabilities) > 0 && len(p.Probabilities) != len(p.Classes):
			r.errf(CodeSchema, obj, "predictions.probabilities", "%d probability columns for %d classes: one per class, in the order of classes", len(p.Probabilities), len(p.Classes))
		case len(p.Probabilities) == 0 && p.Predicted == "":
			r.errf(CodeMissing, obj, "predictions", "a multiclass eval needs a predicted column or a probability column per class (probabilities)")
		}
	case "ranking":
		if p.Query == "" {
			r.errf(CodeMissing, obj, "predictions.query", "a ranking eval needs a query column (rows of one query are ranked together)")
		}
		if p.Score == "" {
			r.errf(CodeMissing, obj, "predictions.score", "a ranking eval needs a score column (the ranking score)")
		}
	case "regression":
		if p.Predicted == "" {
			r.errf(CodeMissing, obj, "predictions.predicted", "a regression's predictions need a predicted column (the predicted value)")
		}
	default:
		if p.Score == "" && p.Predicted == "" {
			r.errf(CodeMissing, obj, "predictions", "predictions need a score column (the positive class's probability) or a predicted column")
		}
	}
}

// metricTask reports whether a predictions metric applies to a task, with
// a hint when it does not: the same table as evals/classic.Applies, which
// the compiler cannot import.
func metricTask(task, m string) (ok bool, hint string) {
	regression := slices.Contains([]string{"mae", "rmse", "mape", "r2"}, m)
	ranking := m == "ndcg" || m == "map"
	switch task {
	case "regression":
		return regression, ": it takes mae, rmse, mape, r2"
	case "ranking":
		return ranking, ": it takes ndcg, map"
	case "multiclass":
		switch {
		case m == "precision" || m == "recall" || m == "f1":
			return false, ": a binary metric; a multiclass eval takes f1_macro, f1_weighted, balanced_accuracy or accuracy"
		case slices.Contains(classicFairness, m):
			return false, ": fairness measures need a positive class (binary classification)"
		}
	}
	return !regression && !ranking, ""
}

// classicFairness are the predictions metrics that compare groups.
var classicFairness = []string{"demographic_parity_difference", "demographic_parity_ratio", "equalized_odds_difference", "equal_opportunity_difference", "disparate_impact_ratio"}

var caseScorers = map[string]bool{"factuality": true, "toxicity": true, "exact": true, "contains": true, "regex": true, "json_schema": true,
	"similarity": true, "faithfulness": true, "context_recall": true, "latency_ms": true, "cost_usd": true, "tokens": true}

// predictions checks an eval's metrics against whether it has predictions,
// and for one that has, checks and hashes its predictions file (read and
// scored at eval time, row by row). It reports whether e is such an eval.
func (r *resolver) predictions(obj string, e *Eval) bool {
	for _, mn := range slices.Sorted(maps.Keys(e.Metrics)) {
		m := e.Metrics[mn]
		switch {
		case e.Predictions == nil && !caseScorers[m.Scorer]:
			r.errf(CodeMissing, obj, "metrics."+mn+".scorer", "scorer %q is computed from predictions: declare predictions (label, score or predicted) for dataset %s", m.Scorer, e.Dataset)
		case e.Predictions != nil && caseScorers[m.Scorer]:
			r.errf(CodeSchema, obj, "metrics."+mn+".scorer", "scorer %q scores generated cases; an eval with predictions takes the metrics computed from them (accuracy, roc_auc, demographic_parity_difference, …)", m.Scorer)
		case m.By != "" && e.Predictions != nil && !slices.Contains(e.Predictions.Sensitive, m.By):
			r.errf(CodeUnknownRef, obj, "metrics."+mn+".by", "by %q is not one of predictions.sensitive %q", m.By, e.Predictions.Sensitive)
		}
	}
	p := e.Predictions
	if p == nil {
		return false
	}
	if e.Target.Model == "" {
		r.errf(CodeSchema, obj, "predictions", "predictions are a classic model's: the eval's target must be a model")
	}
	task := p.Task
	if task == "" {
		task = "classification"
	}
	r.predictionColumns(obj, p, task)
	// A metric of another task would be a number that means nothing.
	for _, mn := range slices.Sorted(maps.Keys(e.Metrics)) {
		m := e.Metrics[mn]
		if caseScorers[m.Scorer] {
			continue
		}
		if ok, hint := metricTask(task, m.Scorer); !ok {
			r.errf(CodeSchema, obj, "metrics."+mn+".scorer", "scorer %q does not apply to a %s eval (predictions.task)%s", m.Scorer, task, hint)
		}
		if m.K != 0 && task != "ranking" {
			r.errf(CodeSchema, obj, "metrics."+mn+".k", "k is a ranking metric's cut-off; this is a %s eval", task)
		}
	}
	switch strings.ToLower(path.Ext(e.Dataset)) {
	case ".csv", ".parquet", ".pq", ".jsonl":
	default:
		r.errf(CodeDataset, obj, "dataset", "predictions file %s is not .csv, .parquet or .jsonl", e.Dataset)
		return true
	}
	if err := r.c.fs.hashFile(e.Dataset); err != nil {
		r.fileErr(err, obj, "dataset")
		return true
	}
	e.DatasetHash = r.c.fs.hashes[cleanRel(e.Dataset)]
	return true
}

func (r *resolver) eval(n string, e *Eval) {
	obj := "evals/" + n
	b := r.b
	e.Name, e.Pos, e.Gates = n, r.at(obj), []string{}
	var needs []string
	if (e.Target.Prompt == "") == (e.Target.Model == "") {
		r.errf(CodeDeployTarget, obj, "target", "an eval targets exactly one of prompt or model")
		return
	}
	switch {
	case e.Target.Prompt != "":
		if ref(r, b.Prompts, "prompts", e.Target.Prompt, obj, "target.prompt") {
			for _, in := range b.Prompts[e.Target.Prompt].Inputs {
				needs = append(needs, in)
			}
			e.TargetModelID = b.Prompts[e.Target.Prompt].Model.ID
		}
	case e.Target.Model != "":
		if ref(r, b.Models, "models", e.Target.Model, obj, "target.model") {
			e.TargetModelID = b.Models[e.Target.Model].ModelID
		}
	}
	if e.MinPasses > e.Repeats {
		r.errf(CodeSchema, obj, "min_passes", "min_passes %d is more than repeats %d", e.MinPasses, e.Repeats)
	}
	for _, mn := range slices.Sorted(maps.Keys(e.Metrics)) {
		m := e.Metrics[mn]
		field := "metrics." + mn
		if m.Judge != nil {
			ref(r, b.Providers, "providers", m.Judge.Provider, obj, field+".judge.provider")
		}
		switch m.Scorer {
		case "regex":
			if m.Pattern == "" {
				r.errf(CodeMissing, obj, field, "the regex scorer needs a pattern")
			} else if _, err := regexp.Compile(m.Pattern); err != nil {
				r.errf(CodeRegex, obj, field+".pattern", "pattern does not compile: %v", err)
			}
		case "json_schema":
			if m.SchemaFile == "" {
				r.errf(CodeMissing, obj, field, "the json_schema scorer needs schema_file")
			} else if src, err := r.c.fs.readText(m.SchemaFile); err != nil {
				r.fileErr(err, obj, field+".schema_file")
			} else if !json.Valid(src) {
				r.errf(CodeDataset, obj, field+".schema_file", "%s is not valid JSON", m.SchemaFile)
			}
		}
	}
	if r.predictions(obj, e) {
		return
	}
	ragContext := false
	if p := b.Prompts[e.Target.Prompt]; e.Target.Prompt != "" && p != nil {
		ragContext = p.RAG != ""
	}
	key := ""
	if src, err, ok := r.c.fs.peek(e.Dataset); ok && err == nil && r.datasets.path != "" {
		var sum [32]byte
		key, sum = r.datasets.key(src, e.Target.Prompt, needs, ragContext)
		if f, ok := r.datasets.get(key); ok {
			r.c.fs.take(e.Dataset)
			r.applyDataset(f, obj, e.Dataset, sum)
			e.DatasetHash = r.c.fs.hashes[cleanRel(e.Dataset)]
			if f.Cases == 0 && len(f.Rows) == 0 {
				r.errf(CodeDataset, obj, "dataset", "dataset %s has no rows", e.Dataset)
			}
			e.Cases = f.Cases
			return
		}
	}
	ds0, secrets0 := len(r.ds), len(r.c.fs.secrets)
	line := 0
	ids := map[string]int{}
	bad := 0
	err := r.c.fs.scanLines(e.Dataset, func(n int, raw []byte) {
		line = n
		text := bytes.TrimSpace(raw)
		if len(text) == 0 || bad >= 5 { // five are enough to fix the file; do not flood the output
			return
		}
		rowErr := func(col int, format string, args ...any) {
			bad++
			r.ds = append(r.ds, diag.Diagnostic{Severity: diag.Error, Code: CodeDataset, Object: obj, Path: "dataset",
				Message: fmt.Sprintf(format, args...), Pos: diag.Position{File: cleanRel(e.Dataset), Line: line, Col: col}})
		}
		var row datasetRow
		dec := json.NewDecoder(bytes.NewReader(text))
		if err := dec.Decode(&row); err != nil {
			col := 1
			if se, ok := err.(*json.SyntaxError); ok {
				col = int(se.Offset)
			}
			rowErr(col, "dataset row is not a JSON object: %v", err)
			return
		}
		// One row per line: anything after the object would be silently dropped.
		if off := dec.InputOffset(); len(bytes.TrimSpace(text[off:])) > 0 {
			rowErr(int(off)+1+bytes.Index(text[off:], bytes.TrimSpace(text[off:])[:1]), "unexpected text after the row's JSON object (one object per line)")
			return
		}
		if row.ID == nil || *row.ID == "" {
			rowErr(1, "dataset row has no \"id\"")
			return
		}
		if prev, dup := ids[*row.ID]; dup {
			rowErr(1, "dataset row id %q repeats the id of line %d", *row.ID, prev)
			return
		}
		ids[*row.ID] = line
		for _, need := range needs {
			if need == "context" && ragContext {
				continue
			}
			if _, ok := row.Vars[need]; !ok {
				bad++
				r.ds = append(r.ds, diag.Diagnostic{Severity: diag.Error, Code: CodeDatasetVars, Object: obj, Path: "dataset",
					Message: fmt.Sprintf("dataset row %q has no vars.%s, which prompt %s needs", *row.ID, need, e.Target.Prompt),
					Pos:     diag.Position{File: cleanRel(e.Dataset), Line: line, Col: 1}})
				break
			}
		}
	})
	if err != nil {
		r.fileErr(err, obj, "dataset")
		return
	}
	if key != "" {
		f := datasetFacts{Cases: len(ids)}
		for _, d := range r.ds[ds0:] {
			f.Rows = append(f.Rows, rowFinding{Code: d.Code, Message: d.Message, Line: d.Pos.Line, Col: d.Pos.Col})
		}
		for _, s := range r.c.fs.secrets[secrets0:] {
			f.Secrets = append(f.Secrets, rowFinding{Code: s.Kind, Line: s.Line, Col: s.Col})
		}
		r.datasets.put(key, f)
	}
	e.DatasetHash = r.c.fs.hashes[cleanRel(e.Dataset)]
	if len(ids) == 0 && bad == 0 {
		r.errf(CodeDataset, obj, "dataset", "dataset %s has no rows", e.Dataset)
	}
	e.Cases = len(ids)
}

func cleanRel(p string) string {
	return strings.TrimPrefix(strings.ReplaceAll(p, "\\", "/"), "./")
}

func (r *resolver) deployment(n string, d *Deployment) {
	obj := "deployments/" + n
	b := r.b
	d.Name, d.Pos, d.SLOs, d.RAG = n, r.at(obj), []string{}, []string{}
	if (d.Model == "") == (d.Prompt == "") {
		r.errf(CodeDeployTarget, obj, "", "a deployment serves exactly one of model or prompt")
		return
	}
	var versions map[string]string
	what := ""
	switch {
	case d.Model != "":
		if !ref(r, b.Models, "models", d.Model, obj, "model") {
			return
		}
		m := b.Models[d.Model]
		m.ServedBy = append(m.ServedBy, n)
		versions, what, d.Kind = m.Aliases, "models/"+d.Model+".aliases", m.Kind
	default:
		if !ref(r, b.Prompts, "prompts", d.Prompt, obj, "prompt") {
			return
		}
		p := b.Prompts[d.Prompt]
		p.ServedBy = append(p.ServedBy, n)
		versions, what, d.Kind = p.Labels, "prompts/"+d.Prompt+".labels", "llm"
		if p.RAG != "" {
			d.RAG = []string{p.RAG}
		}
	}
	declared := func(alias, field string) bool {
		if _, ok := versions[alias]; ok {
			return true
		}
		r.errf(CodeAlias, obj, field, "%q is not declared in %s (declared: %s)", alias, what, strings.Join(slices.Sorted(maps.Keys(versions)), ", "))
		return false
	}
	if declared(d.Alias, "alias") {
		d.Version = versions[d.Alias]
	}
	switch d.Rollout.Strategy {
	case "canary", "shadow":
		if d.Rollout.Candidate == "" {
			r.errf(CodeRollout, obj, "rollout", "a %s rollout needs rollout.candidate (the alias or label of the new version)", d.Rollout.Strategy)
		} else {
			declared(d.Rollout.Candidate, "rollout.candidate")
		}
		if d.Rollout.Strategy == "canary" && d.Rollout.TrafficPercent == nil && len(d.Rollout.Steps) == 0 {
			r.errf(CodeRollout, obj, "rollout", "a canary rollout needs rollout.traffic_percent or rollout.steps")
		}
	default:
		if d.Rollout.Candidate != "" || d.Rollout.TrafficPercent != nil {
			r.errf(CodeRollout, obj, "rollout.strategy", "rollout.candidate and traffic_percent need strategy \"canary\" or \"shadow\"")
		}
	}
	r.progressive(obj, d)
	if d.Target == "batch" && d.Schedule == "" {
		r.errf(CodeSchedule, obj, "target", "a batch deployment needs a schedule (cron)")
	}
	// Combinations no renderer can serve are errors now, not at render time.
	switch {
	case d.Prompt != "" && (d.Target == "sagemaker" || d.Target == "vertex"):
		r.errf(CodeServing, obj, "target", "a %s endpoint serves a model artifact; serve prompt %s with target kubernetes, kserve or batch", d.Target, d.Prompt)
	case d.Kind == "llm" && d.Model != "" && (d.Target == "kserve" || d.Target == "sagemaker" || d.Target == "vertex"):
		r.errf(CodeServing, obj, "target", "models/%s is a hosted LLM (no artifact to deploy on %s); serve it with target kubernetes or batch", d.Model, d.Target)
	case d.Target == "batch" && d.Rollout.Strategy != "direct":
		r.errf(CodeServing, obj, "rollout.strategy", "a batch deployment runs one version; rollout %q needs an online target", d.Rollout.Strategy)
	}
}

// analysisFields are what a rollout query template may name.
var analysisFields = map[string]bool{"version": true, "deployment": true, "namespace": true, "window": true}

// progressive checks a canary's steps and analysis: rising weights, each
// metric with a condition, templates that parse and name known fields.
func (r *resolver) progressive(obj string, d *Deployment) {
	ro := d.Rollout
	if (len(ro.Steps) > 0 || ro.Analysis != nil) && ro.Strategy != "canary" {
		r.errf(CodeRollout, obj, "rollout.steps", "steps and analysis need strategy \"canary\"")
		return
	}
	if len(ro.Steps) > 0 && ro.TrafficPercent != nil {
		r.errf(CodeRollout, obj, "rollout.traffic_percent", "traffic_percent is a fixed split; with steps the analysis sets it (drop one)")
	}
	for i, s := range ro.Steps {
		if i > 0 && s.Weight <= ro.Steps[i-1].Weight {
			r.errf(CodeRollout, obj, fmt.Sprintf("rollout.steps.%d.weight", i), "step weights must rise: %d after %d", s.Weight, ro.Steps[i-1].Weight)
		}
	}
	if len(ro.Steps) > 0 && ro.Analysis == nil {
		r.errf(CodeMissing, obj, "rollout.analysis", "steps advance on an analysis: declare rollout.analysis.metrics")
	}
	if ro.Analysis == nil {
		return
	}
	if len(ro.Steps) == 0 {
		r.errf(CodeMissing, obj, "rollout.steps", "an analysis decides steps: declare rollout.steps")
	}
	if len(ro.Analysis.Metrics) == 0 {
		r.errf(CodeMissing, obj, "rollout.analysis.metrics", "an analysis needs at least one metric")
	}
	for _, name := range slices.Sorted(maps.Keys(ro.Analysis.Metrics)) {
		m := ro.Analysis.Metrics[name]
		field := "rollout.analysis.metrics." + name
		if m.Max == nil && m.Min == nil && m.MaxIncrease == nil && m.MaxDecrease == nil {
			r.errf(CodeMissing, obj, field, "metric %q has no condition: give max, min, max_increase or max_decrease", name)
		}
		if m.MinSamples > 0 && m.Samples == "" {
			r.errf(CodeMissing, obj, field+".samples", "min_samples needs a samples query (the canary's requests in the window)")
		}
		for _, q := range [][2]string{{"query", m.Query}, {"samples", m.Samples}} {
			if q[1] == "" {
				continue
			}
			if bad := templateFields(q[1]); bad != "" {
				r.errf(CodeSchema, obj, field+"."+q[0], "%s", bad)
			}
		}
	}
}

// templateFields parses a query template and says what is wrong with it:
// a syntax error, or a field other than version, deployment, namespace and
// window.
func templateFields(q string) string {
	t, err := template.New("q").Option("missingkey=error").Parse(q)
	if err != nil {
		return "not a template: " + strings.TrimPrefix(err.Error(), "template: q:")
	}
	var bad []string
	var walk func(n parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case *parse.ListNode:
			if n != nil {
				for _, c := range n.Nodes {
					walk(c)
				}
			}
		case *parse.ActionNode:
			for _, c := range n.Pipe.Cmds {
				for _, a := range c.Args {
					if f, ok := a.(*parse.FieldNode); ok && (len(f.Ident) != 1 || !analysisFields[f.Ident[0]]) {
						bad = append(bad, "."+strings.Join(f.Ident, "."))
					} else if !ok {
						bad = append(bad, a.String())
					}
				}
			}
		default:
			if _, text := n.(*parse.TextNode); !text {
				bad = append(bad, n.String())
			}
		}
	}
	walk(t.Tree.Root)
	if len(bad) > 0 {
		return fmt.Sprintf("the template may only fill in {{.version}}, {{.deployment}}, {{.namespace}} and {{.window}}; it has %s", strings.Join(bad, ", "))
	}
	return ""
}
