// Package specgen writes large, valid spec repos for benchmarks: the shape
// of a platform team's repo, scaled up, deterministic for a given Size.
package specgen

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Size says how many objects of each kind to generate.
type Size struct {
	Models, Prompts, Evals, Deployments, Features int
}

// Large is the size issue #2 benchmarks: 1,000 models, 2,000 prompts,
// 500 eval suites, 500 deployments, 300 features.
var Large = Size{Models: 1000, Prompts: 2000, Evals: 500, Deployments: 500, Features: 300}

// Small is for quick tests of the generator itself.
var Small = Size{Models: 20, Prompts: 40, Evals: 10, Deployments: 10, Features: 12}

const perFile = 100 // objects per spec file, as teams split them

// Write generates the repo into dir (which should be empty).
func Write(dir string, s Size) error {
	w := &writer{dir: dir}
	w.file("cairn.cue", `package bench

project: {name: "bench", owners: ["@acme/platform"]}

providers: {
	openai: {kind: "openai", rate_limit: {requests_per_minute: 1000}}
	logged: {kind: "replay", prices: "gpt-4o-mini": {input_usd_per_mtok: 0.15, output_usd_per_mtok: 0.6}}
}

governance: waivers: []
`)
	dtypes := []string{"float", "int", "string", "bool"}
	chunks(s.Features, func(lo, hi int) {
		var b strings.Builder
		b.WriteString("package bench\n\nfeatures: {\n")
		for i := lo; i < hi; i++ {
			fmt.Fprintf(&b, "\t\"f-%04d\": {owner: \"@acme/team-%d\", entity: \"entity-%d\", source: \"warehouse.t%d\", dtype: %q, pii: %v, quality: {not_null: true}}\n",
				i, i%20, i%10, i%50, dtypes[i%4], i%37 == 0)
		}
		b.WriteString("}\n")
		w.file(fmt.Sprintf("specs/features-%03d.cue", lo/perFile), b.String())
	})
	// Evals alternate between models and prompts; each has a small dataset.
	evalFor := func(i int) string { return fmt.Sprintf("e-%04d", i) }
	chunks(s.Models, func(lo, hi int) {
		var b strings.Builder
		b.WriteString("package bench\n\nmodels: {\n")
		for i := lo; i < hi; i++ {
			f1, f2 := fmt.Sprintf("f-%04d", i%s.Features), fmt.Sprintf("f-%04d", (i*7+1)%s.Features)
			if f1 == f2 {
				f2 = fmt.Sprintf("f-%04d", (i+1)%s.Features)
			}
			gate := `metrics: auc: ">= 0.9"`
			if e := i * 2; e < s.Evals && i%2 == 0 {
				gate += fmt.Sprintf(`, evals: [%q]`, evalFor(e))
			}
			fmt.Fprintf(&b, `	"m-%04d": {
		kind: "classic", owner: "@acme/team-%d", description: "Model %d", risk: "medium"
		task: "classification", framework: "xgboost"
		features: [%q, %q]
		explainability: method: "shap"
		monitoring: drift: {features: [%q], method: "psi", threshold: 0.2}
		aliases: {prod: "%d", staging: "%d"}
		gates: prod: {%s}
	}
`, i, i%20, i, f1, f2, f1, 1+i%5, 2+i%5, gate)
		}
		b.WriteString("}\n")
		w.file(fmt.Sprintf("specs/models-%03d.cue", lo/perFile), b.String())
	})
	chunks(s.Prompts, func(lo, hi int) {
		var b strings.Builder
		b.WriteString("package bench\n\nprompts: {\n")
		for i := lo; i < hi; i++ {
			gate := ""
			if e := i*2 + 1; e < s.Evals && e/2 < s.Prompts {
				gate = fmt.Sprintf(`gates: prod: evals: [%q]`, evalFor(e))
			}
			tmpl := fmt.Sprintf(`template: "You are assistant %d. Answer the {{ topic }} question briefly: {{ question }}"`, i)
			if i%4 == 0 {
				tmpl = fmt.Sprintf("template_file: \"prompts/p-%04d.tmpl\"", i)
				w.file(fmt.Sprintf("prompts/p-%04d.tmpl", i), fmt.Sprintf("You are assistant %d.\nTopic: {{ topic }}\nQuestion: {{ question }}\n", i))
			}
			fmt.Fprintf(&b, `	"p-%04d": {
		owner: "@acme/team-%d", version: "1.%d.0"
		%s
		inputs: ["topic", "question"]
		model: {provider: "logged", id: "gpt-4o-mini", max_tokens: 256}
		labels: {prod: "1.%d.0"}
		%s
	}
`, i, i%20, i%3, tmpl, i%3, gate)
		}
		b.WriteString("}\n")
		w.file(fmt.Sprintf("specs/prompts-%03d.cue", lo/perFile), b.String())
	})
	chunks(s.Evals, func(lo, hi int) {
		var b strings.Builder
		b.WriteString("package bench\n\nevals: {\n")
		for i := lo; i < hi; i++ {
			target := fmt.Sprintf("model: \"m-%04d\"", i/2)
			metric := `acc: {scorer: "exact", threshold: 0.8, aggregate: "pass_rate"}`
			if i%2 == 1 {
				target = fmt.Sprintf("prompt: \"p-%04d\"", i/2)
				metric = `fact: {scorer: "factuality", threshold: 0.7}, tox: {scorer: "toxicity", threshold: 0.1, aggregate: "max"}`
			}
			fmt.Fprintf(&b, "\t\"e-%04d\": {target: %s, dataset: \"evals/e-%04d.jsonl\", metrics: {%s}}\n", i, target, i, metric)
			var d strings.Builder
			for r := 0; r < 5; r++ {
				fmt.Fprintf(&d, `{"id": "c%d", "vars": {"topic": "billing", "question": "How do refunds work %d?"}, "reference": "Refunds take 5 days.", "output": "Refunds take 5 days."}`+"\n", r, r)
			}
			w.file(fmt.Sprintf("evals/e-%04d.jsonl", i), d.String())
		}
		b.WriteString("}\n")
		w.file(fmt.Sprintf("specs/evals-%03d.cue", lo/perFile), b.String())
	})
	chunks(s.Deployments, func(lo, hi int) {
		var b strings.Builder
		b.WriteString("package bench\n\ndeployments: {\n")
		var slo strings.Builder
		slo.WriteString("package bench\n\nslos: {\n")
		for i := lo; i < hi; i++ {
			if i%2 == 0 {
				fmt.Fprintf(&b, "\t\"d-%04d\": {model: \"m-%04d\", target: \"kserve\", namespace: \"ns-%d\", autoscaling: {min: 1, max: 4, metric: \"rps\", target: 20}}\n", i, i%s.Models, i%10)
			} else {
				fmt.Fprintf(&b, "\t\"d-%04d\": {prompt: \"p-%04d\", target: \"kubernetes\", namespace: \"ns-%d\", traffic: {requests_per_day: %d}}\n", i, i%s.Prompts, i%10, 1000*(1+i%7))
			}
			fmt.Fprintf(&slo, "\t\"s-%04d\": {deployment: \"d-%04d\", objective: 99.9, sli: {kind: \"availability\", errors: \"sum(rate(errors_total{d=\\\"%d\\\"}[5m]))\", total: \"sum(rate(requests_total{d=\\\"%d\\\"}[5m]))\"}, budget: usd_per_month: 1000}\n", i, i, i, i)
		}
		b.WriteString("}\n")
		slo.WriteString("}\n")
		w.file(fmt.Sprintf("specs/deployments-%03d.cue", lo/perFile), b.String())
		w.file(fmt.Sprintf("specs/slos-%03d.cue", lo/perFile), slo.String())
	})
	return w.err
}

func chunks(n int, f func(lo, hi int)) {
	for lo := 0; lo < n; lo += perFile {
		f(lo, min(lo+perFile, n))
	}
}

type writer struct {
	dir string
	err error
}

func (w *writer) file(rel, content string) {
	if w.err != nil {
		return
	}
	p := filepath.Join(w.dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		w.err = err
		return
	}
	w.err = os.WriteFile(p, []byte(content), 0o644)
}
