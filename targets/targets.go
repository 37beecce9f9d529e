// Package targets renders deploy targets (KServe, Kubernetes, Prometheus,
// Terraform, Argo CD, GitHub Actions) from a compiled bundle and the registry
// state. Every renderer is a pure function: the same Input gives the same
// bytes, so `cairn render --check` and the reconciler's render_target actions
// can compare files byte for byte.
package targets

import (
	"fmt"
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
}

// ModelVersion is one registered model version.
type ModelVersion struct {
	Version     string             `json:"version"`
	ArtifactURI string             `json:"artifact_uri"`
	Framework   string             `json:"framework,omitempty"`
	Format      string             `json:"format,omitempty"` // serving format when it differs from the framework ("onnx")
	Metrics     map[string]float64 `json:"metrics,omitempty"`
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
	r := &run{in: in, b: in.Bundle, hash: hash, files: map[string][]byte{}, configMaps: map[string]map[string]any{}}
	for _, rd := range renderers {
		if len(only) > 0 && !slices.Contains(only, rd.name) {
			continue
		}
		if err := rd.fn(r); err != nil {
			return Result{}, err
		}
	}
	// Prompt ConfigMaps are shared by every deployment serving the prompt in
	// a namespace, whichever target renders it.
	for _, p := range sortedKeys(r.configMaps) {
		r.add(p, r.yamlDocs(r.configMaps[p]))
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
	return Result{Files: out, Notes: r.notes}, nil
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
}

// Header is the first line(s) of every rendered file, in the file's comment syntax.
func header(comment, hash string) string {
	return comment + " generated by cairn — do not edit\n" + comment + " bundle " + hash + "\n"
}

func (r *run) add(path string, content []byte) {
	r.files[path] = content
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
	pos, ok := r.b.FieldPos[object+"."+path]
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
	pos, ok := r.b.FieldPos[object+"."+path]
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

// sortedKeys returns a map's keys in order, so every loop over a map is deterministic.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// deployments returns the deployments with the given targets, by name.
func (r *run) deployments(targets ...string) []*compiler.Deployment {
	var out []*compiler.Deployment
	for _, name := range sortedKeys(r.b.Deployments) {
		d := r.b.Deployments[name]
		if slices.Contains(targets, d.Target) {
			out = append(out, d)
		}
	}
	return out
}
