package targets

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/cairn-dev/cairn/internal/promql"
)

// rolloutRules renders, per deployment whose canary has an analysis and is
// served (a stable and a canary version in the state), alert rules that
// fire when the canary breaks a condition of its analysis: the same
// queries cairn's analysis runs, filled in for both versions, labelled with
// the model so that Alertmanager routes them back to cairn
// (alertmanagerConfig).
func (r *run) rolloutRules() {
	for _, name := range slices.Sorted(maps.Keys(r.b.Deployments)) {
		d := r.b.Deployments[name]
		an := d.Rollout.Analysis
		if an == nil || d.Model == "" {
			continue
		}
		stable, ok1 := r.in.State.Aliases[d.Model][d.Alias]
		canary, ok2 := r.in.State.Aliases[d.Model][d.Rollout.Candidate]
		if !ok1 || !ok2 || stable == canary {
			continue
		}
		fill := func(q, version string) string {
			out, err := promql.FillAnalysis(q, promql.Analysis{Version: version, Deployment: name, Namespace: d.Namespace, Window: an.Window})
			if err != nil {
				return q // the compiler refused it already
			}
			return out
		}
		var rules []rule
		for _, mn := range slices.Sorted(maps.Keys(an.Metrics)) {
			m := an.Metrics[mn]
			c, s := "("+fill(m.Query, canary)+")", "("+fill(m.Query, stable)+")"
			var conds, words []string
			num := func(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
			if m.Max != nil {
				conds, words = append(conds, c+" > "+num(*m.Max)), append(words, "above "+num(*m.Max))
			}
			if m.Min != nil {
				conds, words = append(conds, c+" < "+num(*m.Min)), append(words, "below "+num(*m.Min))
			}
			if m.MaxIncrease != nil {
				conds, words = append(conds, c+" > "+s+" + "+num(*m.MaxIncrease)), append(words, "more than "+num(*m.MaxIncrease)+" above the stable version")
			}
			if m.MaxDecrease != nil {
				conds, words = append(conds, c+" < "+s+" - "+num(*m.MaxDecrease)), append(words, "more than "+num(*m.MaxDecrease)+" below the stable version")
			}
			if len(conds) == 0 {
				continue
			}
			rules = append(rules, rule{
				Alert: alertName(name, "Canary"+alertName(mn, "")),
				Expr:  strings.Join(conds, "\nor\n") + "\n",
				For:   an.Window,
				Labels: map[string]string{"severity": "page", "category": "rollout", "cairn_project": r.b.Project.Name,
					"model": d.Model, "deployment": name, "canary_version": canary, "stable_version": stable},
				Annotations: map[string]string{
					"summary":     fmt.Sprintf("Canary %s of %s: %s is %s ({{ $value }})", canary, name, mn, strings.Join(words, ", or ")),
					"description": fmt.Sprintf("The condition of rollout.analysis.metrics.%s of deployment %s, over %s; cairn's analysis rolls the canary back past its failure limit (%d).", mn, name, an.Window, m.FailureLimit),
				},
			})
		}
		if len(rules) > 0 {
			r.add("prometheus/rollout-"+name+".rules.yaml", r.yamlDocs(ruleFile{Groups: []ruleGroup{{Name: "cairn-rollout-" + r.b.Project.Name + "-" + name, Rules: rules}}}))
		}
	}
}

// alertmanagerConfig renders, when project.alert_webhook names where
// cairn's reconcile receives alerts, an Alertmanager configuration routing
// every alert labelled with one of the project's models to it. The token
// is read from a file on the Alertmanager host: no secret is rendered.
func (r *run) alertmanagerConfig() {
	url := r.b.Project.AlertWebhook
	if url == "" {
		return
	}
	models := slices.Sorted(maps.Keys(r.b.Models))
	cfg := map[string]any{
		"route": map[string]any{
			"receiver": "default",
			"routes": []any{map[string]any{
				"receiver":        "cairn",
				"matchers":        []string{fmt.Sprintf(`model=~"%s"`, strings.Join(models, "|"))},
				"group_by":        []string{"alertname", "model"},
				"group_wait":      "30s",
				"group_interval":  "5m",
				"repeat_interval": "4h",
				"continue":        true,
			}},
		},
		"receivers": []any{
			map[string]any{"name": "default"},
			map[string]any{"name": "cairn", "webhook_configs": []any{map[string]any{
				"url":           url,
				"send_resolved": false,
				"http_config": map[string]any{"authorization": map[string]any{
					"type": "Bearer", "credentials_file": "/etc/alertmanager/secrets/cairn-webhook-token"}},
			}}},
		},
	}
	r.add("alertmanager/cairn.yaml", r.yamlDocs(cfg))
}
