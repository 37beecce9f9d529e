package operating

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/internal/biglog"
)

// BenchmarkOperating1M: every operating metric for 200 models, over a
// 90-day window and over the whole five years, on the generated
// 1,000,000-entry log.
//
//	go test ./operating -run '^$' -bench Operating -benchtime 3x -benchmem
func BenchmarkOperating1M(b *testing.B) {
	ctx := context.Background()
	st := biglog.Open(b)
	bd := &compiler.Bundle{Models: map[string]*compiler.Model{}, Deployments: map[string]*compiler.Deployment{}}
	for m := 0; m < biglog.Models; m++ {
		name := fmt.Sprintf("m-%03d", m)
		bd.Models[name] = &compiler.Model{Name: name, Aliases: map[string]string{"prod": "1"}}
		bd.Deployments[fmt.Sprintf("d-%03d", m)] = &compiler.Deployment{Name: fmt.Sprintf("d-%03d", m), Model: name, Alias: "prod"}
	}
	end := biglog.T0.Add(biglog.Entries * biglog.Step)
	for _, w := range []struct {
		name   string
		window time.Duration
	}{{"90d", 90 * 24 * time.Hour}, {"5y", end.Sub(biglog.T0) + time.Hour}} {
		b.Run(w.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r, err := Compute(ctx, bd, st, Options{Now: end, Window: w.window})
				if err != nil {
					b.Fatal(err)
				}
				if len(r.Deployments) == 0 {
					b.Fatal("no deployments")
				}
			}
		})
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	biglog.Remove()
	os.Exit(code)
}
