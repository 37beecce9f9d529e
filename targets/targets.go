// Package targets renders deploy targets (KServe, Kubernetes, Prometheus,
// Terraform, Argo CD, GitHub Actions) from a compiled bundle and the registry
// state. Every renderer is a pure function: the same Input gives the same
// bytes, so `cairn render --check` and the reconciler's render_target actions
// can compare files byte for byte.
package targets

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/internal/diag"
)

// Input is everything a renderer may read.
type Input struct {
	Bundle *compiler.Bundle
	State  View
	// Git names where the rendered tree is committed; the Argo CD Application
	// points at it. Without a RepoURL no Application is rendered.
	Git GitSource
	// CairnRef is the cairn release (a tag such as "v0.3.0") the rendered
	// workflow installs and uses as its action; "" means main.
	CairnRef string
}

// GitSource locates the rendered tree in git.
type GitSource struct {
	RepoURL  string `json:"repo_url,omitempty"`
	Revision string `json:"revision,omitempty"` // default "HEAD"
	Path     string `json:"path,omitempty"`     // default "rendered"
}

// View is the part of the registry state renderers need; the reconciler
// fills it from the state store. It marshals to JSON so a CLI or test can
// load it from a file.
type View struct {
	// Models maps model name → version → registered version.
	Models map[string]map[string]ModelVersion `json:"models,omitempty"`
	// Prompts maps prompt name → version → registered version.
	Prompts map[string]map[string]PromptVersion `json:"prompts,omitempty"`
	// Aliases maps model name → alias → version, and Labels prompt name →
	// label → version: what the state serves, i.e. what passed its gates.
	// Renderers resolve deployments against these, never against the specs'
	// desired aliases and labels: a version the specs name before its gates
	// passed is never rendered. A deployment whose alias or label has no
	// version here is left out, with a note.
	Aliases map[string]map[string]string `json:"aliases,omitempty"`
	Labels  map[string]map[string]string `json:"labels,omitempty"`
	// Rendered are the deployments an apply has rendered before: their
	// first revision exists (or is on its way) in the cluster. KServe gives
	// a first revision all traffic whatever canaryTrafficPercent says, so a
	// canary is rendered only once its stable revision was.
	Rendered map[string]bool `json:"rendered,omitempty"`
	// Canaries are where the recorded analyses took the canaries of
	// deployments with rollout.steps (by deployment): a canary of another
	// version, or none recorded, is at its first step.
	Canaries map[string]CanaryStep `json:"canaries,omitempty"`
}

// CanaryStep is a canary version's traffic share.
type CanaryStep struct {
	Version string `json:"version"`
	Percent int    `json:"percent"`
}

// ModelVersion is one registered model version.
type ModelVersion struct {
	Version     string             `json:"version"`
	ArtifactURI string             `json:"artifact_uri"`
	Framework   string             `json:"framework,omitempty"`
	Format      string             `json:"format,omitempty"` // serving format when it differs from the framework ("onnx")
	Metrics     map[string]float64 `json:"metrics,omitempty"`
	// Digest is the registered version's content hash (what lineage names).
	Digest string `json:"digest,omitempty"`
}

// PromptVersion is one registered prompt version.
type PromptVersion struct {
	Version     string               `json:"version"`
	ContentHash string               `json:"content_hash"`
	Template    string               `json:"template,omitempty"`
	Messages    []compiler.Message   `json:"messages,omitempty"`
	Inputs      []string             `json:"inputs,omitempty"`
	Model       compiler.PromptModel `json:"model"`
}

// File is one rendered file.
type File struct {
	Path    string // relative to rendered/, with forward slashes: "kserve/fraud-detector.yaml"
	Content []byte
}

// Names of the targets, in the order Render runs them.
const (
	TargetKServe        = "kserve"
	TargetKubernetes    = "kubernetes"
	TargetPrometheus    = "prometheus"
	TargetTerraform     = "terraform"
	TargetArgoCD        = "argocd"
	TargetGitHubActions = "github-actions"
	TargetFeast         = "feast"
	TargetExpectations  = "great-expectations"
)

type renderer func(r *run) error

var renderers = []struct {
	name string
	fn   renderer
}{
	{TargetKServe, renderKServe},
	{TargetKubernetes, renderKubernetes},
	{TargetPrometheus, renderPrometheus},
	{TargetTerraform, renderTerraform},
	{TargetArgoCD, renderArgoCD},
	{TargetGitHubActions, renderActions},
	{TargetFeast, renderFeast},
	{TargetExpectations, renderExpectations},
}

// Names lists every target Render knows, for flags and error messages.
func Names() []string {
	out := make([]string, len(renderers))
	for i, r := range renderers {
		out[i] = r.name
	}
	return out
}

// Result is what a render produces: the files, sorted by path, and notes
// (severity warn) on what was left out and why, such as the workloads of a
// deployment without an image. Notes never fail a render; the CLI prints them.
type Result struct {
	Files []File
	Notes diag.List
	// Owners maps each file's path to the targets that wrote it (a prompt
	// ConfigMap is shared by the targets of the deployments serving it).
	Owners map[string][]string
}

// Render renders every target, or only the named ones, and returns the files
// sorted by path. Errors in the spec or the state (an alias naming an
// unregistered version) come back as a diag.List naming the deployment, the
// field and its position. It drops RenderWithNotes' notes.
func Render(in Input, only ...string) ([]File, error) {
	res, err := RenderWithNotes(in, only...)
	if err != nil {
		return nil, err
	}
	return res.Files, nil
}

// RenderWithNotes is Render with the notes on what was not rendered.
func RenderWithNotes(in Input, only ...string) (Result, error) {
	if in.Bundle == nil {
		return Result{}, fmt.Errorf("targets: no bundle")
	}
	for _, name := range only {
		if !slices.Contains(Names(), name) {
			return Result{}, fmt.Errorf("targets: unknown target %q (known: %s)", name, strings.Join(Names(), ", "))
		}
	}
	hash, err := bundleHash(in.Bundle)
	if err != nil {
		return Result{}, err
	}
	r := &run{in: in, hash: hash, files: map[string][]byte{}, configMaps: map[string]map[string]any{}, owners: map[string][]string{}}
	r.b, r.notes = served(in.Bundle, in.State)
	for _, rd := range renderers {
		if len(only) > 0 && !slices.Contains(only, rd.name) {
			continue
		}
		r.target = rd.name
		if err := rd.fn(r); err != nil {
			return Result{}, err
		}
	}
	r.target = ""
	// Prompt ConfigMaps are shared by every deployment serving the prompt in
	// a namespace, whichever target renders it.
	for _, p := range slices.Sorted(maps.Keys(r.configMaps)) {
		r.files[p] = r.yamlDocs(r.configMaps[p])
	}
	if len(r.errs) > 0 {
		r.errs.Sort()
		return Result{}, r.errs
	}
	out := make([]File, 0, len(r.files))
	for p, c := range r.files {
		out = append(out, File{Path: p, Content: c})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	r.notes.Sort()
	return Result{Files: out, Notes: r.notes, Owners: r.owners}, nil
}

// served returns the bundle as the state serves it: every model's aliases
// and every prompt's labels replaced by the state's pointers, and the
// deployments whose alias or label the state does not serve yet left out
// (a canary or shadow whose candidate is not served renders its stable
// version alone). The notes say what was left out and why. The bundle's own
// identity (its hash, in every file header) is unchanged.
func served(b *compiler.Bundle, v View) (*compiler.Bundle, diag.List) {
	out := *b
	var notes diag.List
	note := func(object, path string, pos diag.Position, format string, args ...any) {
		if p, ok := b.FieldPos.Get(object + "." + path); ok {
			pos = p
		}
		notes = append(notes, diag.Diagnostic{Severity: diag.Warn, Code: "render", Object: object, Path: path, Pos: pos, Message: fmt.Sprintf(format, args...)})
	}
	out.Models = make(map[string]*compiler.Model, len(b.Models))
	for name, m := range b.Models {
		c := *m
		c.Aliases = servedPointers(m.Aliases, v.Aliases[name])
		out.Models[name] = &c
	}
	out.Prompts = make(map[string]*compiler.Prompt, len(b.Prompts))
	for name, p := range b.Prompts {
		c := *p
		c.Labels = servedPointers(p.Labels, v.Labels[name])
		out.Prompts[name] = &c
	}
	out.Deployments = make(map[string]*compiler.Deployment, len(b.Deployments))
	for _, name := range slices.Sorted(maps.Keys(b.Deployments)) {
		d := b.Deployments[name]
		obj := "deployments/" + name
		var ptrs map[string]string
		what, field := "", ""
		switch {
		case d.Model != "" && b.Models[d.Model] != nil:
			ptrs, what, field = out.Models[d.Model].Aliases, "models/"+d.Model, "alias"
		case d.Prompt != "" && b.Prompts[d.Prompt] != nil:
			ptrs, what, field = out.Prompts[d.Prompt].Labels, "prompts/"+d.Prompt, "label"
		default:
			out.Deployments[name] = d // the renderer reports what is wrong with it
			continue
		}
		if !declared(b, d, d.Alias) {
			out.Deployments[name] = d // the renderer reports the undeclared alias
			continue
		}
		if _, ok := ptrs[d.Alias]; !ok {
			note(obj, "alias", d.Pos, "deployment %s left out: %s %s %q has no version that passed its gates in the state (cairn apply moves it once they pass)",
				name, what, field, d.Alias)
			continue
		}
		if s := d.Rollout.Strategy; (s == "canary" || s == "shadow") && d.Rollout.Candidate != "" {
			if _, ok := ptrs[d.Rollout.Candidate]; declared(b, d, d.Rollout.Candidate) && !ok {
				note(obj, "rollout.candidate", d.Pos, "deployment %s: %s candidate %s %q has no version that passed its gates in the state: rendered its stable version alone",
					name, s, field, d.Rollout.Candidate)
				c := *d
				c.Rollout.Strategy, c.Rollout.Candidate, c.Rollout.TrafficPercent = "direct", "", nil
				d = &c
			}
		}
		out.Deployments[name] = d
	}
	return &out, notes
}

// declared reports whether the specs declare the alias or label a
// deployment names on its model or prompt.
func declared(b *compiler.Bundle, d *compiler.Deployment, name string) bool {
	if d.Model != "" {
		_, ok := b.Models[d.Model].Aliases[name]
		return ok
	}
	_, ok := b.Prompts[d.Prompt].Labels[name]
	return ok
}

// servedPointers keeps the declared names (so that a renderer can tell an
// undeclared alias from one not served yet) at the versions the state
// serves; names the state does not serve are dropped.
func servedPointers(declared, state map[string]string) map[string]string {
	out := map[string]string{}
	for name := range declared {
		if v, ok := state[name]; ok {
			out[name] = v
		}
	}
	return out
}

// bundleHash is the bundle's identity for file headers and labels (a
// variable so that a test can pin it).
var bundleHash = func(b *compiler.Bundle) (string, error) {
	h := b.Hash()
	if h == "" {
		return "", fmt.Errorf("targets: the bundle cannot be encoded, so it has no hash")
	}
	return h, nil
}

// run carries one Render call's state.
type run struct {
	in    Input
	b     *compiler.Bundle
	hash  string
	files map[string][]byte
	errs  diag.List
	notes diag.List
	// configMaps holds the prompt ConfigMaps by path, deduplicated.
	configMaps map[string]map[string]any
	target     string              // the renderer running
	owners     map[string][]string // path → targets that wrote it
}

// Header is the first line(s) of every rendered file, in the file's comment syntax.
func header(comment, hash string) string {
	return comment + " generated by cairn — do not edit\n" + comment + " bundle " + hash + "\n"
}

func (r *run) add(path string, content []byte) {
	r.files[path] = content
	r.own(path)
}

func (r *run) own(path string) {
	if r.target != "" && !slices.Contains(r.owners[path], r.target) {
		r.owners[path] = append(r.owners[path], r.target)
	}
}

// shortHash fits a Kubernetes label value (≤63 characters): the first 12 hex digits.
func (r *run) shortHash() string {
	h := strings.TrimPrefix(r.hash, "sha256:")
	if len(h) > 12 {
		h = h[:12]
	}
	return h
}

// errorf records a diagnostic at a deployment's (or other object's) field.
func (r *run) errorf(object, path, format string, args ...any) {
	pos, ok := r.b.FieldPos.Get(object + "." + path)
	if !ok {
		pos = r.objectPos(object)
	}
	r.errs = append(r.errs, diag.Diagnostic{
		Severity: diag.Error,
		Code:     "render",
		Message:  fmt.Sprintf(format, args...),
		Object:   object,
		Path:     path,
		Pos:      pos,
	})
}

// notef records a note (severity warn) on what was not rendered and why.
func (r *run) notef(object, path, format string, args ...any) {
	pos, ok := r.b.FieldPos.Get(object + "." + path)
	if !ok {
		pos = r.objectPos(object)
	}
	r.notes = append(r.notes, diag.Diagnostic{
		Severity: diag.Warn,
		Code:     "render",
		Message:  fmt.Sprintf(format, args...),
		Object:   object,
		Path:     path,
		Pos:      pos,
	})
}

func (r *run) objectPos(object string) diag.Position {
	kind, name, _ := strings.Cut(object, "/")
	switch kind {
	case "deployments":
		if d := r.b.Deployments[name]; d != nil {
			return d.Pos
		}
	case "slos":
		if s := r.b.SLOs[name]; s != nil {
			return s.Pos
		}
	case "prompts":
		if p := r.b.Prompts[name]; p != nil {
			return p.Pos
		}
	case "models":
		if m := r.b.Models[name]; m != nil {
			return m.Pos
		}
	}
	return diag.Position{}
}

// deployments returns the deployments with the given targets, by name.
func (r *run) deployments(targets ...string) []*compiler.Deployment {
	var out []*compiler.Deployment
	for _, name := range slices.Sorted(maps.Keys(r.b.Deployments)) {
		d := r.b.Deployments[name]
		if slices.Contains(targets, d.Target) {
			out = append(out, d)
		}
	}
	return out
}

// DeploymentFiles are the paths (relative to rendered/) a deployment's own
// objects are rendered to by any target, and the ConfigMap of the prompt it
// serves in its namespace (prompt "" for a model deployment). SLO rules are
// their own objects.
func DeploymentFiles(name, namespace, prompt string) []string {
	out := []string{"kserve/" + name + ".yaml", "kubernetes/" + namespace + "/" + name + ".yaml", "terraform/" + name + ".tf", "prometheus/rollout-" + name + ".rules.yaml"}
	if prompt != "" {
		out = append(out, "kubernetes/"+namespace+"/prompts-"+prompt+".yaml")
	}
	return out
}

// Dir is the directory (relative to rendered/, with a trailing slash) that a
// target owns: `render --only T` compares and removes files only there, plus
// the exact files T wrote elsewhere (a prompt ConfigMap under kubernetes/).
func Dir(target string) string {
	if target == TargetExpectations {
		return "great_expectations/"
	}
	return target + "/"
}
