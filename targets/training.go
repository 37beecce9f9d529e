package targets

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/cairn-dev/cairn/compiler"
)

// DriftMetric is the gauge `cairn drift` evidence is exported as (labels
// model, feature, method), which the drift alerts read.
const DriftMetric = "cairn_feature_drift_score"

// trainingCronJobs renders a CronJob per model whose training has a schedule
// and a kubernetes_job trigger; webhook triggers are fired by the reconciler.
func (r *run) trainingCronJobs() {
	for _, name := range slices.Sorted(maps.Keys(r.b.Models)) {
		m := r.b.Models[name]
		t := m.Training
		if t == nil || t.Schedule == "" || t.Trigger == nil || t.Trigger.KubernetesJob == nil {
			continue
		}
		job := t.Trigger.KubernetesJob
		ns := job.Namespace
		if ns == "" {
			ns = r.modelNamespace(m)
		}
		env := []any{envVar("CAIRN_MODEL", m.Name), envVar("CAIRN_TRAINING_DATA", t.Data)}
		if t.Window != "" {
			env = append(env, envVar("CAIRN_TRAINING_WINDOW", t.Window))
		}
		if len(m.Features) > 0 {
			env = append(env, envVar("CAIRN_FEATURES", joinComma(m.Features)))
		}
		labels := map[string]any{"app.kubernetes.io/managed-by": "cairn", "cairn.dev/model": m.Name, "cairn.dev/role": "training", "cairn.dev/bundle": r.shortHash()}
		doc := map[string]any{
			"apiVersion": "batch/v1",
			"kind":       "CronJob",
			"metadata":   map[string]any{"name": "train-" + m.Name, "namespace": ns, "labels": labels, "annotations": r.annotations(nil)},
			"spec": map[string]any{
				"schedule":          t.Schedule,
				"concurrencyPolicy": "Forbid",
				"jobTemplate": map[string]any{"spec": map[string]any{
					"backoffLimit": 1,
					"template": map[string]any{
						"metadata": map[string]any{"labels": map[string]any{"cairn.dev/model": m.Name, "cairn.dev/role": "training"}},
						"spec": map[string]any{"restartPolicy": "Never", "containers": []any{
							map[string]any{"name": "train", "image": job.Image, "env": env},
						}},
					},
				}},
			},
		}
		r.add("kubernetes/"+ns+"/train-"+m.Name+".yaml", r.yamlDocs(doc))
	}
}

// modelNamespace is where a model's jobs run: the namespace of the first
// deployment serving it, else "default".
func (r *run) modelNamespace(m *compiler.Model) string {
	for _, name := range slices.Sorted(maps.Keys(r.b.Deployments)) {
		if d := r.b.Deployments[name]; d.Model == m.Name {
			return d.Namespace
		}
	}
	return "default"
}

func joinComma(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}

// driftRules renders an alert per model with drift monitoring: any monitored
// feature whose drift score exceeds the declared threshold, with a promtool
// test that a drifted feature fires it and a stable one does not.
func (r *run) driftRules() {
	for _, name := range slices.Sorted(maps.Keys(r.b.Models)) {
		m := r.b.Models[name]
		if m.Monitoring == nil || m.Monitoring.Drift == nil || len(m.Monitoring.Drift.Features) == 0 {
			continue
		}
		d := m.Monitoring.Drift
		th := strconv.FormatFloat(d.Threshold, 'f', -1, 64)
		alert := alertName(m.Name, "FeatureDrift")
		// Only the declared features: feature names are cairn names, free of regex metacharacters.
		sel := fmt.Sprintf(`{model=%q, method=%q, feature=~%q}`, m.Name, d.Method, strings.Join(d.Features, "|"))
		ann := map[string]string{
			"summary":     fmt.Sprintf("Feature {{ $labels.feature }} of model %s drifted: %s score {{ $value }} over %s", m.Name, d.Method, th),
			"description": "Monitored features: " + joinComma(d.Features) + ".",
		}
		labels := map[string]string{"severity": "ticket", "category": "drift", "cairn_project": r.b.Project.Name}
		rf := ruleFile{Groups: []ruleGroup{{Name: "cairn-drift-" + r.b.Project.Name + "-" + m.Name, Rules: []rule{{
			Alert:       alert,
			Expr:        fmt.Sprintf("max by (model, feature) (%s%s) > %s\n", DriftMetric, sel, th),
			Labels:      labels,
			Annotations: ann,
		}}}}}
		base := "prometheus/drift-" + m.Name
		r.add(base+".rules.yaml", r.yamlDocs(rf))

		f := d.Features[0]
		series := fmt.Sprintf(`%s{model=%q,feature=%q,method=%q}`, DriftMetric, m.Name, f, d.Method)
		high := strconv.FormatFloat(d.Threshold*2+1, 'f', -1, 64)
		expLabels := map[string]string{"model": m.Name, "feature": f}
		for k, v := range labels {
			expLabels[k] = v
		}
		expAnn := map[string]string{
			"summary":     fmt.Sprintf("Feature %s of model %s drifted: %s score %s over %s", f, m.Name, d.Method, high, th),
			"description": ann["description"],
		}
		tests := []ruleTest{
			{Name: "a drifted feature fires " + alert, Interval: "1m",
				InputSeries:    []inputSeries{{Series: series, Values: high + "x30"}},
				AlertRuleTests: []alertRuleTest{{EvalTime: "10m", Alertname: alert, ExpAlerts: []expAlert{{ExpLabels: expLabels, ExpAnnotations: expAnn}}}}},
			{Name: "a stable feature fires nothing", Interval: "1m",
				InputSeries:    []inputSeries{{Series: series, Values: "0x30"}},
				AlertRuleTests: []alertRuleTest{{EvalTime: "10m", Alertname: alert, ExpAlerts: []expAlert{}}}},
		}
		r.add(base+".rules.test.yaml", r.yamlDocs(testFile{RuleFiles: []string{"drift-" + m.Name + ".rules.yaml"}, EvaluationInterval: "1m", Tests: tests}))
	}
}
