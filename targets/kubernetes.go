package targets

import (
	"encoding/json"
	"maps"
	"math"
	"slices"
	"strconv"

	"github.com/cairn-dev/cairn/compiler"
)

const (
	containerPort = 8080
	promptMount   = "/etc/cairn/prompts"
)

func itoa(i int) string { return strconv.Itoa(i) }

// renderKubernetes writes, per kubernetes deployment, a Deployment, a
// Service and (with autoscaling) an autoscaling/v2 HPA; per served prompt and
// namespace a ConfigMap with every label's version, content hash and
// template; and a CronJob per batch deployment. A deployment without an image
// gets only what cairn knows without one (its prompt ConfigMap) and a note.
func renderKubernetes(r *run) error {
	for _, d := range r.deployments("kubernetes") {
		obj := "deployments/" + d.Name
		var docs []any
		switch {
		case d.Prompt != "":
			p, ok := r.servedPrompt(d)
			if !ok {
				continue
			}
			// Built before the image check so that a bad label or candidate
			// is an error with or without an image.
			if docs = r.promptWorkloads(d, p); docs == nil {
				continue
			}
			if d.Image == "" {
				r.notef(obj, "image", "deployment %s has no image: rendered only ConfigMap %s/prompts-%s (the versions each label of prompts/%s serves); set image to the server that reads it to render its Deployment, Service and HPA",
					d.Name, d.Namespace, p.Name, p.Name)
				continue
			}
		case d.Model != "":
			var ok bool
			if docs, ok = r.modelWorkloads(d); !ok {
				continue
			}
			if d.Image == "" {
				r.notef(obj, "image", "deployment %s has no image: rendered nothing for it, since a model server Deployment needs the image that serves models/%s; set image, or use target \"kserve\", which picks a serving runtime from the model format",
					d.Name, d.Model)
				continue
			}
		default:
			r.errorf(obj, "", "deployment %s serves neither a model nor a prompt", d.Name)
			continue
		}
		docs = append(docs, r.service(d))
		if hpa := r.hpa(d); hpa != nil {
			docs = append(docs, hpa)
		}
		r.add("kubernetes/"+d.Namespace+"/"+d.Name+".yaml", r.yamlDocs(docs...))
	}
	for _, d := range r.deployments("batch") {
		if doc, ok := r.cronJob(d); ok {
			r.add("kubernetes/"+d.Namespace+"/"+d.Name+".yaml", r.yamlDocs(doc))
		}
	}
	r.trainingCronJobs()
	return nil
}

// servedPrompt looks up a deployment's prompt and records its ConfigMap
// (every label's registered version) for the namespace.
func (r *run) servedPrompt(d *compiler.Deployment) (*compiler.Prompt, bool) {
	p := r.b.Prompts[d.Prompt]
	if p == nil {
		r.errorf("deployments/"+d.Name, "prompt", "deployment %s serves prompt %q, which is not declared", d.Name, d.Prompt)
		return nil, false
	}
	cm, ok := r.promptConfigMap(d, p)
	if !ok {
		return nil, false
	}
	path := "kubernetes/" + d.Namespace + "/prompts-" + p.Name + ".yaml"
	r.configMaps[path] = cm
	r.own(path)
	return p, true
}

// workload is one Deployment's variable part.
type workload struct {
	name, role, version string
	replicas            *int
	env                 []map[string]any
	configMap           string
	alias, digest       string // what it serves, stamped on the Deployment
}

func (r *run) modelWorkloads(d *compiler.Deployment) ([]any, bool) {
	m := r.b.Models[d.Model]
	if m == nil {
		r.errorf("deployments/"+d.Name, "model", "deployment %s serves model %q, which is not declared", d.Name, d.Model)
		return nil, false
	}
	if m.Kind == "llm" {
		// A hosted LLM has no artifact: the workload calls the provider.
		ver := m.Aliases[d.Alias]
		digest := r.in.State.Models[m.Name][ver].Digest
		env := append([]map[string]any{
			envVar("CAIRN_MODEL", m.Name), envVar("CAIRN_MODEL_ALIAS", d.Alias),
			envVar("CAIRN_MODEL_VERSION", ver), envVar("CAIRN_MODEL_ID", m.ModelID), envVar("CAIRN_PROVIDER", m.Provider),
		}, stampEnv(m.Name, ver, d.Alias, digest)...)
		return []any{r.deployment(d, workload{name: d.Name, role: "stable", version: ver, env: env, alias: d.Alias, digest: digest})}, true
	}
	_, ro, ok := r.resolveModel(d)
	if !ok {
		return nil, false
	}
	env := func(mv ModelVersion, alias string) []map[string]any {
		return append([]map[string]any{
			envVar("CAIRN_MODEL", m.Name), envVar("CAIRN_MODEL_VERSION", mv.Version),
			envVar("CAIRN_MODEL_URI", mv.ArtifactURI), envVar("CAIRN_MODEL_FORMAT", mv.format(m)),
		}, stampEnv(m.Name, mv.Version, alias, mv.Digest)...)
	}
	stable := workload{name: d.Name, role: "stable", version: ro.Stable.Version, env: env(ro.Stable, d.Alias), alias: d.Alias, digest: ro.Stable.Digest}
	if ro.Candidate == nil {
		return []any{r.deployment(d, stable)}, true
	}
	cand := workload{name: d.Name + "-" + ro.Strategy, role: ro.Strategy, version: ro.Candidate.Version, env: env(*ro.Candidate, d.Rollout.Candidate),
		alias: d.Rollout.Candidate, digest: ro.Candidate.Digest}
	return r.splitWorkloads(d, ro.Strategy, ro.Percent, stable, cand), true
}

func (r *run) promptWorkloads(d *compiler.Deployment, p *compiler.Prompt) []any {
	obj := "deployments/" + d.Name
	ver, ok := p.Labels[d.Alias]
	if !ok {
		r.errorf(obj, "alias", "deployment %s serves label %q, which prompts/%s does not declare", d.Name, d.Alias, p.Name)
		return nil
	}
	cm := "prompts-" + p.Name
	digest := func(v string) string { return r.in.State.Prompts[p.Name][v].ContentHash }
	env := func(label, v string) []map[string]any {
		return append([]map[string]any{
			envVar("CAIRN_PROMPT", p.Name), envVar("CAIRN_PROMPT_LABEL", label), envVar("CAIRN_PROMPT_VERSION", v),
			envVar("CAIRN_PROMPT_FILE", promptMount+"/"+label+".json"),
		}, stampEnv(p.Name, v, label, digest(v))...)
	}
	stable := workload{name: d.Name, role: "stable", version: ver, env: env(d.Alias, ver), configMap: cm, alias: d.Alias, digest: digest(ver)}
	strategy := d.Rollout.Strategy
	if strategy == "" || strategy == "direct" {
		return []any{r.deployment(d, stable)}
	}
	// A prompt's candidate is one of its labels; its version is in the same ConfigMap.
	cver, ok := p.Labels[d.Rollout.Candidate]
	if !ok {
		r.errorf(obj, "rollout.candidate", "deployment %s: rollout candidate %q is not a label of prompts/%s", d.Name, d.Rollout.Candidate, p.Name)
		return nil
	}
	pct := 0
	if strategy == "canary" {
		if pct, ok = r.canaryPercent(d, cver); !ok {
			return nil
		}
	}
	cand := workload{name: d.Name + "-" + strategy, role: strategy, version: cver, env: env(d.Rollout.Candidate, cver), configMap: cm,
		alias: d.Rollout.Candidate, digest: digest(cver)}
	return r.splitWorkloads(d, strategy, pct, stable, cand)
}

// splitWorkloads renders a stable and a candidate Deployment. Plain
// Kubernetes splits traffic by replicas behind one Service, so a canary's
// share is approximated by its replica count; a shadow runs one replica that
// the Service does not select (the mesh mirrors traffic to it).
func (r *run) splitWorkloads(d *compiler.Deployment, strategy string, pct int, stable, cand workload) []any {
	one := 1
	if strategy == "shadow" {
		cand.replicas = &one
		return []any{r.deployment(d, stable), r.deployment(d, cand)}
	}
	total := 10
	if d.Autoscaling != nil {
		total = max(d.Autoscaling.Min, 1)
	}
	n := max(int(math.Round(float64(total)*float64(pct)/100)), 1)
	if pct == 0 {
		n = 0
	}
	cand.replicas = &n
	c := r.deployment(d, cand)
	c["metadata"].(map[string]any)["annotations"].(map[string]any)["cairn.dev/canary-traffic-percent"] = itoa(pct)
	return []any{r.deployment(d, stable), c}
}

func envVar(name, value string) map[string]any { return map[string]any{"name": name, "value": value} }

func (r *run) deployment(d *compiler.Deployment, w workload) map[string]any {
	labels := r.labels(d, w.version)
	labels["cairn.dev/role"] = w.role
	podLabels := map[string]any{"cairn.dev/deployment": LabelValue(d.Name), "cairn.dev/role": w.role, "cairn.dev/version": LabelValue(w.version)}
	if w.role != "shadow" {
		// Only stable and canary pods receive the Service's traffic.
		podLabels["cairn.dev/serves"] = d.Name
	}
	container := map[string]any{
		"name":  "server",
		"image": d.Image,
		"ports": []any{map[string]any{"name": "http", "containerPort": containerPort}},
		"env":   w.env,
	}
	if res := resources(d.Resources); res != nil {
		container["resources"] = res
	}
	pod := map[string]any{"containers": []any{container}}
	if w.configMap != "" {
		container["volumeMounts"] = []any{map[string]any{"name": "prompts", "mountPath": promptMount, "readOnly": true}}
		pod["volumes"] = []any{map[string]any{"name": "prompts", "configMap": map[string]any{"name": w.configMap}}}
	}
	spec := map[string]any{
		"selector": map[string]any{"matchLabels": map[string]any{"cairn.dev/deployment": d.Name, "cairn.dev/role": w.role}},
		"template": map[string]any{
			// No bundle hash here: an edit elsewhere in the specs must not
			// restart pods (the Deployment's own metadata carries it).
			"metadata": map[string]any{"labels": podLabels},
			"spec":     pod,
		},
	}
	switch {
	case w.replicas != nil:
		spec["replicas"] = *w.replicas
	case d.Autoscaling == nil:
		spec["replicas"] = 1
	}
	// With autoscaling, replicas is left to the HPA so that applying the manifest does not fight it.
	obj := map[string]any{
		"apiVersion": "apps/v1",
		"kind":       "Deployment",
		"metadata": map[string]any{
			"name": w.name, "namespace": d.Namespace, "labels": labels,
			"annotations": r.annotations(map[string]any{"cairn.dev/rollout": w.role}),
		},
		"spec": spec,
	}
	stamp(obj, w.alias, w.digest)
	return obj
}

func (r *run) service(d *compiler.Deployment) map[string]any {
	return map[string]any{
		"apiVersion": "v1",
		"kind":       "Service",
		"metadata":   map[string]any{"name": d.Name, "namespace": d.Namespace, "labels": r.labels(d, ""), "annotations": r.annotations(nil)},
		"spec": map[string]any{
			// Stable and canary pods share this selector; a shadow's does not match it.
			"selector": map[string]any{"cairn.dev/serves": d.Name},
			"ports":    []any{map[string]any{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}},
		},
	}
}

// hpa scales the stable Deployment on CPU utilisation or a per-pod metric.
func (r *run) hpa(d *compiler.Deployment) map[string]any {
	a := d.Autoscaling
	if a == nil {
		return nil
	}
	var metric map[string]any
	switch a.Metric {
	case "cpu":
		metric = map[string]any{"type": "Resource", "resource": map[string]any{
			"name": "cpu", "target": map[string]any{"type": "Utilization", "averageUtilization": int(math.Round(a.Target))},
		}}
	default:
		// rps and concurrency come from the metrics adapter as per-pod metrics.
		name := map[string]string{"rps": "http_requests_per_second", "concurrency": "http_requests_in_flight"}[a.Metric]
		metric = map[string]any{"type": "Pods", "pods": map[string]any{
			"metric": map[string]any{"name": name},
			"target": map[string]any{"type": "AverageValue", "averageValue": strconv.FormatFloat(a.Target, 'f', -1, 64)},
		}}
	}
	return map[string]any{
		"apiVersion": "autoscaling/v2",
		"kind":       "HorizontalPodAutoscaler",
		"metadata":   map[string]any{"name": d.Name, "namespace": d.Namespace, "labels": r.labels(d, ""), "annotations": r.annotations(nil)},
		"spec": map[string]any{
			"scaleTargetRef": map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": d.Name},
			"minReplicas":    max(a.Min, 1),
			"maxReplicas":    a.Max,
			"metrics":        []any{metric},
		},
	}
}

// promptEntry is one label's file in the prompts ConfigMap.
type promptEntry struct {
	Prompt      string               `json:"prompt"`
	Label       string               `json:"label"`
	Version     string               `json:"version"`
	ContentHash string               `json:"content_hash"`
	Template    string               `json:"template,omitempty"`
	Messages    []compiler.Message   `json:"messages,omitempty"`
	Inputs      []string             `json:"inputs"`
	Model       compiler.PromptModel `json:"model"`
}

// promptConfigMap carries every label of a served prompt, so the application
// serves exactly the reviewed, registered versions.
func (r *run) promptConfigMap(d *compiler.Deployment, p *compiler.Prompt) (map[string]any, bool) {
	data := map[string]any{}
	ok := true
	for _, label := range slices.Sorted(maps.Keys(p.Labels)) {
		ver := p.Labels[label]
		pv, found := r.promptVersion(p, ver)
		if !found {
			r.errorf("prompts/"+p.Name, "labels."+label, "prompts/%s: label %q points at version %q, which is not registered (served by deployments/%s)", p.Name, label, ver, d.Name)
			ok = false
			continue
		}
		inputs := pv.Inputs
		if inputs == nil {
			inputs = []string{}
		}
		e := promptEntry{Prompt: p.Name, Label: label, Version: pv.Version, ContentHash: pv.ContentHash,
			Template: pv.Template, Messages: pv.Messages, Inputs: inputs, Model: pv.Model}
		js, err := json.MarshalIndent(e, "", "  ")
		if err != nil {
			r.errorf("prompts/"+p.Name, "labels."+label, "prompts/%s: encoding label %q: %v", p.Name, label, err)
			ok = false
			continue
		}
		data[label+".json"] = string(js) + "\n"
	}
	if !ok {
		return nil, false
	}
	return map[string]any{
		"apiVersion": "v1",
		"kind":       "ConfigMap",
		"metadata": map[string]any{
			"name": "prompts-" + p.Name, "namespace": d.Namespace,
			"labels":      map[string]any{"app.kubernetes.io/managed-by": "cairn", "cairn.dev/prompt": p.Name, "cairn.dev/bundle": r.shortHash()},
			"annotations": r.annotations(nil),
		},
		"data": data,
	}, true
}

// cronJob runs a batch deployment on its schedule: the image with the model
// version the alias names, or with the prompt ConfigMap mounted and the
// label's version in its environment. Without an image only the prompt's
// ConfigMap is rendered, with a note.
func (r *run) cronJob(d *compiler.Deployment) (map[string]any, bool) {
	obj := "deployments/" + d.Name
	bad := false
	if d.Schedule == "" {
		r.errorf(obj, "schedule", "deployment %s: target batch needs a schedule (cron)", d.Name)
		bad = true
	}
	if s := d.Rollout.Strategy; s != "" && s != "direct" {
		r.errorf(obj, "rollout.strategy", "deployment %s: target batch supports only a direct rollout, not %s", d.Name, s)
		bad = true
	}
	if bad {
		return nil, false
	}
	var (
		version, configMap string
		env                []map[string]any
	)
	switch {
	case d.Prompt != "":
		p, ok := r.servedPrompt(d)
		if !ok {
			return nil, false
		}
		ver, ok := p.Labels[d.Alias]
		if !ok {
			r.errorf(obj, "alias", "deployment %s serves label %q, which prompts/%s does not declare", d.Name, d.Alias, p.Name)
			return nil, false
		}
		version, configMap = ver, "prompts-"+p.Name
		env = []map[string]any{
			envVar("CAIRN_PROMPT", p.Name), envVar("CAIRN_PROMPT_LABEL", d.Alias), envVar("CAIRN_PROMPT_VERSION", ver),
			envVar("CAIRN_PROMPT_FILE", promptMount+"/"+d.Alias+".json"),
		}
		if d.Image == "" {
			r.notef(obj, "image", "deployment %s has no image: rendered only ConfigMap %s/prompts-%s (the versions each label of prompts/%s serves); set image to the job that reads it to render its CronJob",
				d.Name, d.Namespace, p.Name, p.Name)
			return nil, false
		}
	case d.Model != "":
		m := r.b.Models[d.Model]
		if m == nil {
			r.errorf(obj, "model", "deployment %s serves model %q, which is not declared", d.Name, d.Model)
			return nil, false
		}
		if m.Kind == "llm" {
			// A hosted LLM has no artifact: the job calls the provider.
			ver, ok := m.Aliases[d.Alias]
			if !ok {
				r.errorf(obj, "alias", "deployment %s serves alias %q, which models/%s does not declare", d.Name, d.Alias, m.Name)
				return nil, false
			}
			version = ver
			env = []map[string]any{
				envVar("CAIRN_MODEL", m.Name), envVar("CAIRN_MODEL_ALIAS", d.Alias),
				envVar("CAIRN_MODEL_VERSION", ver), envVar("CAIRN_MODEL_ID", m.ModelID), envVar("CAIRN_PROVIDER", m.Provider),
			}
		} else {
			_, ro, ok := r.resolveModel(d)
			if !ok {
				return nil, false
			}
			version = ro.Stable.Version
			env = []map[string]any{
				envVar("CAIRN_MODEL", m.Name), envVar("CAIRN_MODEL_VERSION", ro.Stable.Version),
				envVar("CAIRN_MODEL_URI", ro.Stable.ArtifactURI), envVar("CAIRN_MODEL_FORMAT", ro.Stable.format(m)),
			}
		}
		if d.Image == "" {
			r.notef(obj, "image", "deployment %s has no image: rendered nothing for it, since its CronJob needs the image that runs models/%s; set image to render it",
				d.Name, d.Model)
			return nil, false
		}
	default:
		r.errorf(obj, "", "deployment %s serves neither a model nor a prompt", d.Name)
		return nil, false
	}
	container := map[string]any{"name": "batch", "image": d.Image, "env": env}
	if res := resources(d.Resources); res != nil {
		container["resources"] = res
	}
	pod := map[string]any{"restartPolicy": "OnFailure", "containers": []any{container}}
	if configMap != "" {
		container["volumeMounts"] = []any{map[string]any{"name": "prompts", "mountPath": promptMount, "readOnly": true}}
		pod["volumes"] = []any{map[string]any{"name": "prompts", "configMap": map[string]any{"name": configMap}}}
	}
	return map[string]any{
		"apiVersion": "batch/v1",
		"kind":       "CronJob",
		"metadata":   map[string]any{"name": d.Name, "namespace": d.Namespace, "labels": r.labels(d, version), "annotations": r.annotations(nil)},
		"spec": map[string]any{
			"schedule":          d.Schedule,
			"concurrencyPolicy": "Forbid",
			"jobTemplate": map[string]any{"spec": map[string]any{
				"backoffLimit": 2,
				"template": map[string]any{
					"metadata": map[string]any{"labels": map[string]any{"cairn.dev/deployment": d.Name, "cairn.dev/version": version}},
					"spec":     pod,
				},
			}},
		},
	}, true
}
