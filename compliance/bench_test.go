package compliance_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/compliance"
	"github.com/cairn-dev/cairn/internal/biglog"
	"github.com/cairn-dev/cairn/reconciler"
	"github.com/cairn-dev/cairn/state"
)

// BenchmarkReport1M: the EU AI Act report of 100 high-risk systems over
// the generated 1,000,000-entry audit log, the chain verified from the
// checkpoint `cairn audit verify` recorded. Memory must not grow with the
// log: every read is an indexed query, streamed.
//
//	go test ./compliance -run '^$' -bench Report1M -benchtime 3x -benchmem
func BenchmarkReport1M(b *testing.B) {
	ctx := context.Background()
	st := biglog.Open(b)
	head, _, err := st.AuditHead(ctx)
	if err != nil {
		b.Fatal(err)
	}
	cp, _ := json.Marshal(state.Checkpoint{Seq: head.Seq, Hash: head.Hash, At: head.Time})
	if err := st.PutRecord(ctx, state.CheckpointKind, "head", cp); err != nil {
		b.Fatal(err)
	}
	const systems = 100
	last := fmt.Sprint(biglog.Entries / (biglog.Models * 25))
	bd := &compiler.Bundle{Project: compiler.Project{Name: "big", AlertWebhook: "https://am.example/v1/alertmanager"},
		Models: map[string]*compiler.Model{}, Deployments: map[string]*compiler.Deployment{}, Features: map[string]*compiler.Feature{},
		Evals: map[string]*compiler.Eval{}, Prompts: map[string]*compiler.Prompt{}, RAG: map[string]*compiler.RAG{}, Files: map[string]string{},
		Compliance: &compiler.Compliance{Frameworks: []string{"eu-ai-act"}, Dates: "enacted", MaxLogGap: "48h", Systems: map[string]*compiler.System{}}}
	for i := 0; i < systems; i++ {
		m, d := fmt.Sprintf("m-%03d", i), fmt.Sprintf("d-%03d", i)
		bd.Models[m] = &compiler.Model{Name: m, Kind: "classic", Aliases: map[string]string{"prod": last},
			Gates: map[string]compiler.Gate{"prod": {Metrics: map[string]string{"auc": ">= 0.8"}}}}
		bd.Deployments[d] = &compiler.Deployment{Name: d, Model: m, Alias: "prod", Kind: "classic", Target: "kserve", Namespace: "ns"}
		bd.Compliance.Systems["s-"+d] = &compiler.System{Name: "s-" + d, Deployments: []string{d}, Role: "both", AnnexIII: "5b", Profiling: true,
			HighRisk: true, IntendedPurpose: "p", Responsible: []string{"@a"}, Oversight: &compiler.Oversight{Who: "w", Override: "o", Stop: "s"}}
		if err := st.SetPointer(ctx, "models/"+m, "prod", "", last); err != nil {
			b.Fatal(err)
		}
	}
	now := biglog.T0.Add(biglog.Entries * biglog.Step)
	b.ReportAllocs()
	for b.Loop() {
		bounds, err := reconciler.JudgeBounds(ctx, bd, st, "", reconciler.SystemObjects(bd, false))
		if err != nil {
			b.Fatal(err)
		}
		r, err := compliance.Build(ctx, bd, st, compliance.Options{Now: now, Bounds: bounds})
		if err != nil {
			b.Fatal(err)
		}
		if len(r.Systems) != systems || r.Log.VerifiedFrom == "whole" || r.Log.Entries != biglog.Entries {
			b.Fatalf("%d systems, log %+v", len(r.Systems), r.Log)
		}
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	biglog.Remove()
	os.Exit(code)
}
