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
		if d.Prompt != "" || d.Model == "" {
			r.errorf("deployments/"+d.Name, "target", "deployment %s: target kserve serves models; a prompt is served by a kubernetes target", d.Name)
			continue
		}
		m, ro, ok := r.resolveModel(d)
		if !ok {
			continue
		}
		var docs []any
		switch ro.Strategy {
		case "canary":
			isvc := r.inferenceService(d, m, d.Name, *ro.Candidate, "canary")
			isvc["metadata"].(map[string]any)["annotations"].(map[string]any)["cairn.dev/stable-version"] = ro.Stable.Version
			isvc["spec"].(map[string]any)["predictor"].(map[string]any)["canaryTrafficPercent"] = ro.Percent
			docs = append(docs, isvc)
		case "shadow":
			docs = append(docs, r.inferenceService(d, m, d.Name, ro.Stable, "stable"))
			sh := r.inferenceService(d, m, d.Name+"-shadow", *ro.Candidate, "shadow")
			sh["metadata"].(map[string]any)["annotations"].(map[string]any)["cairn.dev/shadow-of"] = d.Name
			docs = append(docs, sh)
		default:
			docs = append(docs, r.inferenceService(d, m, d.Name, ro.Stable, "stable"))
		}
		r.add("kserve/"+d.Name+".yaml", r.yamlDocs(docs...))
	}
	return nil
}

func (r *run) inferenceService(d *compiler.Deployment, m *compiler.Model, name string, mv ModelVersion, role string) map[string]any {
	labels := r.labels(d, mv.Version)
	labels["cairn.dev/role"] = role
	model := map[string]any{
		"modelFormat": map[string]any{"name": mv.format(m)},
		"storageUri":  mv.ArtifactURI,
	}
	if res := resources(d.Resources); res != nil {
		model["resources"] = res
	}
	predictor := map[string]any{"model": model}
	if a := d.Autoscaling; a != nil {
		predictor["minReplicas"] = a.Min
		predictor["maxReplicas"] = a.Max
		predictor["scaleMetric"] = a.Metric
		// scaleTarget is an integer in the CRD (a percentage for cpu).
		predictor["scaleTarget"] = int(math.Round(a.Target))
	}
	return map[string]any{
		"apiVersion": "serving.kserve.io/v1beta1",
		"kind":       "InferenceService",
		"metadata": map[string]any{
			"name":        name,
			"namespace":   d.Namespace,
			"labels":      labels,
			"annotations": r.annotations(map[string]any{"cairn.dev/rollout": role}),
		},
		"spec": map[string]any{"predictor": predictor},
	}
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
