package policies

import (
	"context"
	"fmt"
	"testing"

	"github.com/cairn-dev/cairn/compiler"
)

// bigBundle replicates cleanBundle's objects n times (n models, prompts,
// deployments, SLOs and 2n evals), with one violation in every tenth model so
// the violation path is exercised too.
func bigBundle(n int) *compiler.Bundle {
	base := cleanBundle()
	b := cleanBundle()
	b.Models, b.Prompts, b.Evals, b.SLOs, b.Deployments, b.Gating = map[string]*compiler.Model{}, map[string]*compiler.Prompt{}, map[string]*compiler.Eval{}, map[string]*compiler.SLO{}, map[string]*compiler.Deployment{}, nil
	for i := 0; i < n; i++ {
		s := fmt.Sprintf("-%d", i)
		m := *base.Models["fraud"]
		m.Name = "fraud" + s
		if i%10 == 0 {
			m.Risk = "low"
			m.PIIFeatures = []string{"amount"}
		}
		b.Models[m.Name] = &m
		p := *base.Prompts["answer"]
		p.Name = "answer" + s
		p.Template = fmt.Sprintf("You are support agent %d. Answer {{ question }} politely, citing the help centre.", i)
		p.Gates = map[string]compiler.Gate{"prod": {Evals: []string{"qa" + s}}}
		b.Prompts[p.Name] = &p
		for _, name := range []string{"holdout", "qa"} {
			e := *base.Evals[name]
			e.Name = name + s
			if name == "holdout" {
				e.Target.Model = m.Name
			} else {
				e.Target.Prompt = p.Name
			}
			b.Evals[e.Name] = &e
		}
		for _, name := range []string{"fraud-api", "chat"} {
			d := *base.Deployments[name]
			d.Name = name + s
			if d.Model != "" {
				d.Model = m.Name
			} else {
				d.Prompt = p.Name
			}
			d.SLOs = []string{"slo" + s + name}
			b.Deployments[d.Name] = &d
			slo := *base.SLOs["chat-latency"]
			slo.Name, slo.Deployment = "slo"+s+name, d.Name
			b.SLOs[slo.Name] = &slo
		}
		b.Gating = append(b.Gating,
			compiler.GateRef{Object: "models/" + m.Name, Alias: "prod", Eval: "holdout" + s},
			compiler.GateRef{Object: "prompts/" + p.Name, Alias: "prod", Eval: "qa" + s})
	}
	return b
}

// BenchmarkEvaluate measures one full evaluation (input conversion, every
// built-in policy, waivers) of a bundle with 500 of each object kind.
//
//	go test -run '^$' -bench Evaluate -benchtime 5x ./policies/
func BenchmarkEvaluate(b *testing.B) {
	for _, n := range []int{50, 500} {
		bundle := bigBundle(n)
		e := newEngine(b, Options{})
		b.Run(fmt.Sprintf("objects=%d", n), func(b *testing.B) {
			var found int
			for i := 0; i < b.N; i++ {
				l, err := e.Evaluate(context.Background(), bundle, now, nil)
				if err != nil {
					b.Fatal(err)
				}
				found = len(l)
			}
			if found != n/10 {
				b.Fatalf("want %d violations, got %d", n/10, found)
			}
		})
	}
}

// BenchmarkNew measures parsing and compiling the built-in library and preparing its queries.
func BenchmarkNew(b *testing.B) {
	for i := 0; i < b.N; i++ {
		newEngine(b, Options{})
	}
}

// BenchmarkNewWithCache adds, to BenchmarkNew, what a cache directory costs:
// the reads, clocks and shards analysis and the clocked queries.
func BenchmarkNewWithCache(b *testing.B) {
	d := b.TempDir()
	for b.Loop() {
		newEngine(b, Options{CacheDir: d})
	}
}
