package targets

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/cairn-dev/cairn/compiler"
	"gopkg.in/yaml.v3"
)

// rollout is what a deployment serves once its aliases are resolved against the registry.
type rollout struct {
	Strategy  string // direct | canary | shadow
	Stable    ModelVersion
	Candidate *ModelVersion // canary and shadow only
	Percent   int           // canary: traffic to the candidate
}

// resolveModel resolves a model deployment's alias (and rollout candidate)
// to registered versions. It records a diagnostic and returns false when any
// of them is not registered: a manifest with an empty storage URI must never
// be rendered.
func (r *run) resolveModel(d *compiler.Deployment) (*compiler.Model, rollout, bool) {
	obj := "deployments/" + d.Name
	m := r.b.Models[d.Model]
	if m == nil {
		r.errorf(obj, "model", "deployment %s serves model %q, which is not declared", d.Name, d.Model)
		return nil, rollout{}, false
	}
	ver, ok := m.Aliases[d.Alias]
	if !ok {
		r.errorf(obj, "alias", "deployment %s serves alias %q, which models/%s does not declare", d.Name, d.Alias, m.Name)
		return nil, rollout{}, false
	}
	ro := rollout{Strategy: d.Rollout.Strategy}
	if ro.Strategy == "" {
		ro.Strategy = "direct"
	}
	stable, ok := r.registered(d, m, "alias", d.Alias, ver)
	if !ok {
		return nil, rollout{}, false
	}
	ro.Stable = stable
	switch ro.Strategy {
	case "direct":
	case "canary", "shadow":
		if d.Rollout.Candidate == "" {
			r.errorf(obj, "rollout.candidate", "deployment %s: a %s rollout needs rollout.candidate (an alias of models/%s or a version)", d.Name, ro.Strategy, m.Name)
			return nil, rollout{}, false
		}
		// The candidate names an alias ("staging") or, failing that, a version ("8").
		cver := d.Rollout.Candidate
		if v, ok := m.Aliases[d.Rollout.Candidate]; ok {
			cver = v
		}
		cand, ok := r.registered(d, m, "rollout.candidate", d.Rollout.Candidate, cver)
		if !ok {
			return nil, rollout{}, false
		}
		ro.Candidate = &cand
		if ro.Strategy == "canary" {
			if ro.Percent, ok = r.canaryPercent(d, cand.Version); !ok {
				return nil, rollout{}, false
			}
		}
	default:
		r.errorf(obj, "rollout.strategy", "deployment %s: unknown rollout strategy %q", d.Name, ro.Strategy)
		return nil, rollout{}, false
	}
	return m, ro, true
}

// registered looks a model version up in the registry state.
func (r *run) registered(d *compiler.Deployment, m *compiler.Model, field, name, ver string) (ModelVersion, bool) {
	obj := "deployments/" + d.Name
	what := fmt.Sprintf("alias %q", name)
	if field == "rollout.candidate" {
		what = fmt.Sprintf("rollout candidate %q", name)
	}
	versions := r.in.State.Models[m.Name]
	mv, ok := versions[ver]
	if !ok {
		reg := slices.Sorted(maps.Keys(versions))
		list := "none"
		if len(reg) > 0 {
			list = strings.Join(reg, ", ")
		}
		r.errorf(obj, field, "deployment %s: %s points at version %q of models/%s, which is not registered (registered: %s)",
			d.Name, what, ver, m.Name, list)
		return ModelVersion{}, false
	}
	if mv.ArtifactURI == "" {
		r.errorf(obj, field, "deployment %s: version %q of models/%s (%s) has no artifact URI in the registry", d.Name, ver, m.Name, what)
		return ModelVersion{}, false
	}
	if mv.Version == "" {
		mv.Version = ver
	}
	return mv, true
}

// promptVersion returns the registered prompt version a label names. A
// version that is not registered is never rendered: the plan's projection
// of a version it registers puts it in the View itself.
func (r *run) promptVersion(p *compiler.Prompt, ver string) (PromptVersion, bool) {
	if pv, ok := r.in.State.Prompts[p.Name][ver]; ok {
		if pv.Version == "" {
			pv.Version = ver
		}
		return pv, true
	}
	return PromptVersion{}, false
}

// format is the model format a serving runtime expects.
func (mv ModelVersion) format(m *compiler.Model) string {
	f := mv.Format
	if f == "" {
		f = mv.Framework
	}
	if f == "" {
		f = m.Framework
	}
	f = strings.ToLower(f)
	switch f {
	case "scikit-learn", "scikit_learn":
		return "sklearn"
	case "torch":
		return "pytorch"
	case "hf", "transformers":
		return "huggingface"
	}
	return f
}

// yamlDocs encodes documents as one YAML stream under the cairn header.
// yaml.v3 sorts map keys, so maps are deterministic; structs keep field order.
func (r *run) yamlDocs(docs ...any) []byte {
	var buf bytes.Buffer
	buf.WriteString(header("#", r.hash))
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	for _, d := range docs {
		if err := enc.Encode(d); err != nil {
			// Only plain maps, slices and scalars are encoded here.
			panic(fmt.Sprintf("targets: encoding YAML: %v", err))
		}
	}
	_ = enc.Close()
	return buf.Bytes()
}

// labels are the labels every rendered Kubernetes object carries.
func (r *run) labels(d *compiler.Deployment, version string) map[string]any {
	l := map[string]any{
		"app.kubernetes.io/name":       d.Name,
		"app.kubernetes.io/managed-by": "cairn",
		"cairn.dev/deployment":         d.Name,
		"cairn.dev/bundle":             r.shortHash(),
	}
	if d.Model != "" {
		l["cairn.dev/model"] = d.Model
	}
	if d.Prompt != "" {
		l["cairn.dev/prompt"] = d.Prompt
	}
	if version != "" {
		l["cairn.dev/version"] = version
	}
	for k, v := range l {
		l[k] = LabelValue(v.(string))
	}
	return l
}

// stamp says on a top-level object which version it serves: the alias
// label and the digest annotation. Never on a pod template or a KServe
// predictor, so that nothing restarts unless what it serves changed.
func stamp(obj map[string]any, alias, digest string) {
	md := obj["metadata"].(map[string]any)
	if alias != "" {
		md["labels"].(map[string]any)["cairn.dev/alias"] = LabelValue(alias)
	}
	if digest != "" {
		md["annotations"].(map[string]any)["cairn.dev/digest"] = digest
	}
}

// stampEnv is what a server can return with each prediction (the Open
// Inference Protocol response's model_version): every value changes only
// when the served version does.
func stampEnv(name, version, alias, digest string) []map[string]any {
	return []map[string]any{envVar("CAIRN_NAME", name), envVar("CAIRN_VERSION", version), envVar("CAIRN_ALIAS", alias), envVar("CAIRN_DIGEST", digest)}
}

// LabelValue makes s a valid Kubernetes label value: at most 63
// characters, alphanumerics and '-', '_', '.' inside, alphanumeric at both
// ends. Other characters become '_'; a longer value keeps its first 54
// characters and a short hash of the whole, so two values stay apart.
func LabelValue(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	out := string(b)
	if len(out) > 63 {
		sum := sha256.Sum256([]byte(s))
		out = out[:54] + "-" + hex.EncodeToString(sum[:4])
	}
	trim := func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') }
	return strings.TrimFunc(out, trim)
}

func (r *run) annotations(extra map[string]any) map[string]any {
	a := map[string]any{"cairn.dev/bundle-hash": r.hash}
	for k, v := range extra {
		a[k] = v
	}
	return a
}

// canaryPercent is the canary's share: the step its analysis reached
// (View.CanaryWeights; the first step before any), or the fixed
// traffic_percent.
func (r *run) canaryPercent(d *compiler.Deployment, version string) (int, bool) {
	if len(d.Rollout.Steps) > 0 {
		if c, ok := r.in.State.Canaries[d.Name]; ok && c.Version == version {
			return c.Percent, true
		}
		return d.Rollout.Steps[0].Weight, true
	}
	if d.Rollout.TrafficPercent == nil {
		r.errorf("deployments/"+d.Name, "rollout.traffic_percent", "deployment %s: a canary rollout needs rollout.traffic_percent or rollout.steps", d.Name)
		return 0, false
	}
	return *d.Rollout.TrafficPercent, true
}
