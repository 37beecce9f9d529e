package targets

import (
	"math"

	"github.com/cairn-dev/cairn/compiler"
)

// renderKServe writes one serving.kserve.io/v1beta1 InferenceService per
// kserve deployment. A canary is expressed the way KServe does it: the
// predictor names the candidate and canaryTrafficPercent sends that share to
// it, the rest staying on the last ready revision (the stable version). A
// shadow candidate gets its own InferenceService; mirroring traffic to it is
// the mesh's job, so it is labelled with its role and the stable service.
func renderKServe(r *run) error {
	for _, d := range r.deployments("kserve") {
		if d.Prompt != "" {
			r.kservePrompt(d)
			continue
		}
		if d.Model == "" {
			r.errorf("deployments/"+d.Name, "", "deployment %s serves neither a model nor a prompt", d.Name)
			continue
		}
		m, ro, ok := r.resolveModel(d)
		if !ok {
			continue
		}
		strategy := ro.Strategy
		if strategy == "canary" && !r.firstRevisionDone(d, ro.Stable.Version, ro.Candidate.Version) {
			strategy = "direct"
		}
		var docs []any
		switch strategy {
		case "canary":
			isvc := r.inferenceService(d, m, d.Name, *ro.Candidate, d.Rollout.Candidate, "canary")
			isvc["metadata"].(map[string]any)["annotations"].(map[string]any)["cairn.dev/stable-version"] = ro.Stable.Version
			isvc["spec"].(map[string]any)["predictor"].(map[string]any)["canaryTrafficPercent"] = ro.Percent
			docs = append(docs, isvc)
		case "shadow":
			docs = append(docs, r.inferenceService(d, m, d.Name, ro.Stable, d.Alias, "stable"))
			sh := r.inferenceService(d, m, d.Name+"-shadow", *ro.Candidate, d.Rollout.Candidate, "shadow")
			sh["metadata"].(map[string]any)["annotations"].(map[string]any)["cairn.dev/shadow-of"] = d.Name
			docs = append(docs, sh)
		default:
			docs = append(docs, r.inferenceService(d, m, d.Name, ro.Stable, d.Alias, "stable"))
		}
		r.add("kserve/"+d.Name+".yaml", r.yamlDocs(docs...))
	}
	return nil
}

// firstRevisionDone reports whether a canary may be rendered: KServe sends
// all traffic to an InferenceService's first revision, canaryTrafficPercent
// included, so until an apply has rendered the deployment once its stable
// version is rendered alone, with a note, and the canary follows on the next
// apply or render.
func (r *run) firstRevisionDone(d *compiler.Deployment, stable, candidate string) bool {
	if r.in.State.Rendered[d.Name] {
		return true
	}
	r.notef("deployments/"+d.Name, "rollout", "deployment %s is new: rendered its stable version %s alone (KServe gives a first revision all traffic, canaryTrafficPercent included); the canary to %s starts on the next apply or render, once the stable revision is ready",
		d.Name, stable, candidate)
	return false
}

func (r *run) inferenceService(d *compiler.Deployment, m *compiler.Model, name string, mv ModelVersion, alias, role string) map[string]any {
	labels := r.labels(d, mv.Version)
	labels["cairn.dev/role"] = role
	model := map[string]any{
		"modelFormat": map[string]any{"name": mv.format(m)},
		"storageUri":  mv.ArtifactURI,
		"env":         stampEnv(m.Name, mv.Version, alias, mv.Digest),
	}
	if res := resources(d.Resources); res != nil {
		model["resources"] = res
	}
	predictor := map[string]any{"model": model}
	isvc := r.isvc(d, name, role, labels, predictor)
	stamp(isvc, alias, mv.Digest)
	return isvc
}

// kservePrompt serves a prompt from a custom predictor: the deployment's
// image with the prompt ConfigMap mounted and the label in its environment.
// A canary is the candidate label at canaryTrafficPercent; a shadow is a
// second InferenceService. Without an image only the ConfigMap is rendered.
func (r *run) kservePrompt(d *compiler.Deployment) {
	obj := "deployments/" + d.Name
	p, ok := r.servedPrompt(d)
	if !ok {
		return
	}
	ver, ok := p.Labels[d.Alias]
	if !ok {
		r.errorf(obj, "alias", "deployment %s serves label %q, which prompts/%s does not declare", d.Name, d.Alias, p.Name)
		return
	}
	strategy := d.Rollout.Strategy
	if strategy == "" {
		strategy = "direct"
	}
	var cand, cver string
	pct := 0
	switch strategy {
	case "direct":
	case "canary", "shadow":
		cand = d.Rollout.Candidate
		if cver, ok = p.Labels[cand]; !ok {
			r.errorf(obj, "rollout.candidate", "deployment %s: rollout candidate %q is not a label of prompts/%s", d.Name, cand, p.Name)
			return
		}
		if strategy == "canary" {
			if pct, ok = r.canaryPercent(d, cver); !ok {
				return
			}
		}
	default:
		r.errorf(obj, "rollout.strategy", "deployment %s: unknown rollout strategy %q", d.Name, strategy)
		return
	}
	if d.Image == "" {
		r.notef(obj, "image", "deployment %s has no image: rendered only ConfigMap %s/prompts-%s (the versions each label of prompts/%s serves); set image to the server that reads it to render its InferenceService",
			d.Name, d.Namespace, p.Name, p.Name)
		return
	}
	if strategy == "canary" && !r.firstRevisionDone(d, ver, cver) {
		strategy = "direct"
	}
	var docs []any
	switch strategy {
	case "canary":
		isvc := r.promptInferenceService(d, p, d.Name, cand, cver, "canary")
		isvc["metadata"].(map[string]any)["annotations"].(map[string]any)["cairn.dev/stable-version"] = ver
		isvc["spec"].(map[string]any)["predictor"].(map[string]any)["canaryTrafficPercent"] = pct
		docs = append(docs, isvc)
	case "shadow":
		docs = append(docs, r.promptInferenceService(d, p, d.Name, d.Alias, ver, "stable"))
		sh := r.promptInferenceService(d, p, d.Name+"-shadow", cand, cver, "shadow")
		sh["metadata"].(map[string]any)["annotations"].(map[string]any)["cairn.dev/shadow-of"] = d.Name
		docs = append(docs, sh)
	default:
		docs = append(docs, r.promptInferenceService(d, p, d.Name, d.Alias, ver, "stable"))
	}
	r.add("kserve/"+d.Name+".yaml", r.yamlDocs(docs...))
}

func (r *run) promptInferenceService(d *compiler.Deployment, p *compiler.Prompt, name, label, version, role string) map[string]any {
	labels := r.labels(d, version)
	labels["cairn.dev/role"] = role
	digest := r.in.State.Prompts[p.Name][version].ContentHash
	container := map[string]any{
		// KServe's name for a custom predictor's serving container.
		"name":  "kserve-container",
		"image": d.Image,
		"ports": []any{map[string]any{"containerPort": containerPort, "protocol": "TCP"}},
		"env": append([]map[string]any{
			envVar("CAIRN_PROMPT", p.Name), envVar("CAIRN_PROMPT_LABEL", label), envVar("CAIRN_PROMPT_VERSION", version),
			envVar("CAIRN_PROMPT_FILE", promptMount+"/"+label+".json"),
		}, stampEnv(p.Name, version, label, digest)...),
		"volumeMounts": []any{map[string]any{"name": "prompts", "mountPath": promptMount, "readOnly": true}},
	}
	if res := resources(d.Resources); res != nil {
		container["resources"] = res
	}
	predictor := map[string]any{
		"containers": []any{container},
		"volumes":    []any{map[string]any{"name": "prompts", "configMap": map[string]any{"name": "prompts-" + p.Name}}},
	}
	isvc := r.isvc(d, name, role, labels, predictor)
	stamp(isvc, label, digest)
	return isvc
}

// resources maps a deployment's resources to Kubernetes requests and limits.
// Quantities stay strings: a bare YAML number is not a valid quantity everywhere.
func resources(res *compiler.Resources) map[string]any {
	if res == nil || (res.CPU == "" && res.Memory == "" && res.GPU == 0) {
		return nil
	}
	req := map[string]any{}
	lim := map[string]any{}
	if res.CPU != "" {
		req["cpu"] = res.CPU
		lim["cpu"] = res.CPU
	}
	if res.Memory != "" {
		req["memory"] = res.Memory
		lim["memory"] = res.Memory
	}
	if res.GPU > 0 {
		lim["nvidia.com/gpu"] = itoa(res.GPU)
	}
	out := map[string]any{"limits": lim}
	if len(req) > 0 {
		out["requests"] = req
	}
	return out
}

// isvc wraps a predictor in an InferenceService; autoscaling is the
// deployment's. scaleTarget is an integer in the CRD (a percentage for cpu).
func (r *run) isvc(d *compiler.Deployment, name, role string, labels map[string]any, predictor map[string]any) map[string]any {
	if a := d.Autoscaling; a != nil {
		predictor["minReplicas"] = a.Min
		predictor["maxReplicas"] = a.Max
		predictor["scaleMetric"] = a.Metric
		predictor["scaleTarget"] = int(math.Round(a.Target))
	}
	return map[string]any{
		"apiVersion": "serving.kserve.io/v1beta1",
		"kind":       "InferenceService",
		"metadata": map[string]any{
			"name":      name,
			"namespace": d.Namespace,
			"labels":    labels,
			// canaryTrafficPercent needs Knative revisions: the mode is
			// stated, never left to the cluster's default (which may be
			// RawDeployment, where a canary would silently not split).
			"annotations": r.annotations(map[string]any{"cairn.dev/rollout": role, "serving.kserve.io/deploymentMode": "Serverless"}),
		},
		"spec": map[string]any{"predictor": predictor},
	}
}
