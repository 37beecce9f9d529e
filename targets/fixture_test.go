package targets

import (
	"github.com/cairn-dev/cairn/compiler"
)

func intp(i int) *int           { return &i }
func floatp(f float64) *float64 { return &f }

// fixture is a hand-built bundle covering every target and rollout
// strategy: a KServe canary, a KServe shadow, a direct Kubernetes model, a
// prompt served on Kubernetes with a canary label, a batch job, SageMaker
// canary and shadow, Vertex canary and direct, a prompt on a batch CronJob
// and on a KServe custom predictor (canary), SLOs over 30d and 28d with a
// selector, a query with a literal range and one with {{.window}}.
func fixture() (*compiler.Bundle, View) {
	pos := func(line int) compiler.Position {
		return compiler.Position{File: "specs/deploy.cue", Line: line, Col: 2}
	}
	b := &compiler.Bundle{
		FormatVersion: compiler.FormatVersion,
		Project:       compiler.Project{Name: "acme-ml", Owners: []string{"@acme/ml"}},
		Models: map[string]*compiler.Model{
			"fraud": {Name: "fraud", Kind: "classic", Framework: "xgboost", Owner: "@acme/ml", Risk: "high",
				Aliases: map[string]string{"prod": "7", "staging": "8"}},
			"churn": {Name: "churn", Kind: "classic", Framework: "scikit-learn", Owner: "@acme/ml",
				Features: []string{"tenure", "plan"},
				Training: &compiler.Training{Data: "warehouse.growth.churn_labels", Window: "180d", Schedule: "0 4 * * 0",
					Trigger: &compiler.TrainingTrigger{KubernetesJob: &compiler.KubernetesJobTrigger{Image: "ghcr.io/acme/churn-train:1.0.0"}}},
				Monitoring: &compiler.Monitoring{Drift: &compiler.Drift{Features: []string{"tenure", "plan"}, Method: "psi", Threshold: 0.2}},
				Aliases:    map[string]string{"prod": "3", "next": "4"}},
		},
		Prompts: map[string]*compiler.Prompt{
			"answer": {Name: "answer", Owner: "@acme/support", Version: "1.4.0",
				Template: "Answer {{ question }} using {{ context }}.", Inputs: []string{"context", "question"},
				Model:       compiler.PromptModel{Provider: "openai", ID: "gpt-4o-mini", Temperature: 0, MaxTokens: 512},
				Labels:      map[string]string{"prod": "1.3.0", "canary": "1.4.0"},
				ContentHash: "sha256:1400000000000000000000000000000000000000000000000000000000000000"},
		},
		Deployments: map[string]*compiler.Deployment{
			"fraud-api": {Name: "fraud-api", Model: "fraud", Target: "kserve", Namespace: "risk", Alias: "prod",
				Rollout:     compiler.Rollout{Strategy: "canary", Candidate: "staging", TrafficPercent: intp(10)},
				Autoscaling: &compiler.Autoscaling{Min: 2, Max: 10, Metric: "concurrency", Target: 8},
				Resources:   &compiler.Resources{CPU: "500m", Memory: "1Gi"}, Pos: pos(10)},
			"fraud-shadow": {Name: "fraud-shadow", Model: "fraud", Target: "kserve", Namespace: "risk", Alias: "prod",
				Rollout: compiler.Rollout{Strategy: "shadow", Candidate: "8"}, Pos: pos(20)},
			"churn-svc": {Name: "churn-svc", Model: "churn", Target: "kubernetes", Namespace: "growth", Alias: "prod",
				Image:       "ghcr.io/acme/churn-server:1.2.0",
				Autoscaling: &compiler.Autoscaling{Min: 1, Max: 4, Metric: "cpu", Target: 70}, Pos: pos(30)},
			"churn-nightly": {Name: "churn-nightly", Model: "churn", Target: "batch", Namespace: "growth", Alias: "prod",
				Image: "ghcr.io/acme/churn-batch:1.2.0", Schedule: "0 2 * * *", Pos: pos(40)},
			"support": {Name: "support", Prompt: "answer", Target: "kubernetes", Namespace: "support", Alias: "prod",
				Image:       "ghcr.io/acme/support-gateway:2.0.1",
				Rollout:     compiler.Rollout{Strategy: "canary", Candidate: "canary", TrafficPercent: intp(20)},
				Autoscaling: &compiler.Autoscaling{Min: 2, Max: 6, Metric: "rps", Target: 25.5}, Pos: pos(50)},
			"fraud-sm": {Name: "fraud-sm", Model: "fraud", Target: "sagemaker", Namespace: "risk", Alias: "prod",
				Rollout:     compiler.Rollout{Strategy: "canary", Candidate: "staging", TrafficPercent: intp(10)},
				Autoscaling: &compiler.Autoscaling{Min: 1, Max: 3, Metric: "rps", Target: 100}, Pos: pos(60)},
			"fraud-sm-shadow": {Name: "fraud-sm-shadow", Model: "fraud", Target: "sagemaker", Namespace: "risk", Alias: "prod",
				Image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/xgboost:1.7", Rollout: compiler.Rollout{Strategy: "shadow", Candidate: "staging"}, Pos: pos(70)},
			"churn-vertex": {Name: "churn-vertex", Model: "churn", Target: "vertex", Namespace: "growth", Alias: "prod",
				Rollout: compiler.Rollout{Strategy: "canary", Candidate: "next", TrafficPercent: intp(25)}, Pos: pos(80)},
			"answer-digest": {Name: "answer-digest", Prompt: "answer", Target: "batch", Namespace: "support", Alias: "prod",
				Image: "ghcr.io/acme/support-digest:0.3.0", Schedule: "30 3 * * *", Pos: pos(100)},
			"answer-kserve": {Name: "answer-kserve", Prompt: "answer", Target: "kserve", Namespace: "support", Alias: "prod",
				Image:       "ghcr.io/acme/prompt-server:1.0.0",
				Rollout:     compiler.Rollout{Strategy: "canary", Candidate: "canary", TrafficPercent: intp(10)},
				Autoscaling: &compiler.Autoscaling{Min: 1, Max: 3, Metric: "concurrency", Target: 4}, Pos: pos(110)},
			"churn-vertex-direct": {Name: "churn-vertex-direct", Model: "churn", Target: "vertex", Namespace: "growth", Alias: "prod",
				Rollout: compiler.Rollout{Strategy: "direct"}, Pos: pos(90)},
		},
		SLOs: map[string]*compiler.SLO{
			"fraud-availability": {Name: "fraud-availability", Deployment: "fraud-api", Objective: 99.9, Window: "30d",
				SLI: compiler.SLI{Kind: "availability", Errors: `http_requests_total{job="fraud-api",code=~"5.."}`, Total: `http_requests_total{job="fraud-api"}`}},
			"churn-availability": {Name: "churn-availability", Deployment: "churn-svc", Objective: 99, Window: "30d",
				SLI: compiler.SLI{Kind: "availability", Errors: `sum(rate(http_requests_total{job="churn",code=~"5.."}[5m]))`, Total: `sum(rate(http_requests_total{job="churn"}[5m]))`}},
			"digest-success": {Name: "digest-success", Deployment: "answer-digest", Objective: 95, Window: "28d",
				SLI: compiler.SLI{Kind: "availability", Errors: `sum(increase(digest_failed_total[{{ .window }}]))`, Total: `sum(increase(digest_runs_total[{{.window}}]))`}},
			"support-latency": {Name: "support-latency", Deployment: "support", Objective: 99.5, Window: "28d",
				SLI:    compiler.SLI{Kind: "latency", Metric: `http_request_duration_seconds{service="support"}`, ThresholdMS: 2000},
				Budget: &compiler.Budget{USDPerMonth: floatp(500), USDPer1kRequests: floatp(0.25)}},
		},
		FieldPos: compiler.NewFieldPositions(map[string]compiler.Position{
			"deployments/fraud-api.alias": {File: "specs/deploy.cue", Line: 12, Col: 10},
		}),
	}
	v := View{
		Models: map[string]map[string]ModelVersion{
			"fraud": {
				"7": {Version: "7", ArtifactURI: "s3://acme-models/fraud/7/model.bst", Framework: "xgboost", Metrics: map[string]float64{"auc": 0.91}},
				"8": {Version: "8", ArtifactURI: "s3://acme-models/fraud/8/model.bst", Framework: "xgboost", Metrics: map[string]float64{"auc": 0.93}},
			},
			"churn": {
				"3": {Version: "3", ArtifactURI: "gs://acme-models/churn/3/", Framework: "sklearn"},
				"4": {Version: "4", ArtifactURI: "gs://acme-models/churn/4/", Framework: "sklearn"},
			},
		},
		Prompts: map[string]map[string]PromptVersion{
			"answer": {
				"1.3.0": {Version: "1.3.0", ContentHash: "sha256:1300000000000000000000000000000000000000000000000000000000000000",
					Template: "Answer {{ question }}.\nContext: {{ context }}", Inputs: []string{"context", "question"},
					Model: compiler.PromptModel{Provider: "openai", ID: "gpt-4o-mini", Temperature: 0, MaxTokens: 512}},
			},
		},
	}
	return b, v
}

func fixtureInput() Input {
	b, v := fixture()
	return Input{Bundle: b, State: servedAsDeclared(b, v), Git: GitSource{RepoURL: "https://github.com/acme/ml-specs.git", Revision: "main", Path: "rendered"}}
}
