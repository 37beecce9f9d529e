package lineage

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/reconciler"
	"github.com/cairn-dev/cairn/state"
	"github.com/cairn-dev/cairn/targets"
)

const (
	benchEntries = 1_000_000
	benchModels  = 200
)

var (
	bigOnce sync.Once
	bigPath string
	bigErr  error
	bigT0   = time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
	bigStep = 5 * 365 * 24 * time.Hour / benchEntries // five years of entries
)

// bigLog writes, once per test binary, a state whose audit log holds
// 1,000,000 hash-chained entries over five years for 200 models, each
// served by its own deployment: every fifth entry a serve entry, the rest
// eval runs and alias moves. Rows are inserted directly (one transaction,
// the chain computed as AppendAudit computes it) to keep generation short.
func bigLog(b *testing.B) string {
	bigOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cairn-lineage-*")
		if err != nil {
			bigErr = err
			return
		}
		bigPath = filepath.Join(dir, "state.db")
		ctx := context.Background()
		st, err := state.Open(ctx, bigPath)
		if err != nil {
			bigErr = err
			return
		}
		versions := benchEntries / benchModels / 25
		bigErr = st.Update(ctx, func(tx state.Ops) error {
			for m := 0; m < benchModels; m++ {
				for v := 1; v <= versions; v++ {
					if _, err := tx.RegisterModelVersion(ctx, state.ModelVersion{Model: fmt.Sprintf("m-%03d", m), Version: fmt.Sprint(v),
						ArtifactURI: fmt.Sprintf("s3://m/%d/%d", m, v), Features: []string{}, RegisteredAt: bigT0}); err != nil {
						return err
					}
				}
				if err := tx.PutRecord(ctx, reconciler.RecordServedBy, fmt.Sprintf("models/m-%03d d-%03d", m, m), []byte("{}")); err != nil {
					return err
				}
			}
			return nil
		})
		st.Close()
		if bigErr != nil {
			return
		}
		db, err := sql.Open("sqlite", bigPath)
		if err != nil {
			bigErr = err
			return
		}
		defer db.Close()
		tx, err := db.Begin()
		if err != nil {
			bigErr = err
			return
		}
		ins, err := tx.Prepare(`INSERT INTO audit_log (seq, at, actor, git_commit, action, object, before_doc, after_doc, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			bigErr = err
			return
		}
		prev := state.GenesisHash
		for i := 0; i < benchEntries; i++ {
			m := (i / 5) % benchModels // every model gets each kind of entry
			ver := fmt.Sprint(i/(benchModels*25) + 1)
			e := state.AuditEntry{Seq: int64(i + 1), Time: bigT0.Add(time.Duration(i) * bigStep), Actor: "ci", Commit: "c0ffee"}
			switch i % 5 {
			case 0:
				doc, _ := json.Marshal(reconciler.ServeEntry{Deployment: fmt.Sprintf("d-%03d", m), Namespace: "ns",
					Stable:     &targets.ServedVersion{Object: fmt.Sprintf("models/m-%03d", m), Version: ver, Digest: "sha256:00", Percent: 100},
					BundleHash: "sha256:11"})
				e.Action, e.Object, e.After = reconciler.ActionServe, fmt.Sprintf("deployments/d-%03d", m), string(doc)
			case 1:
				e.Action, e.Object, e.After = string(reconciler.MoveModelAlias), fmt.Sprintf("models/m-%03d", m), fmt.Sprintf(`{"name":"prod","version":%q,"gates":[]}`, ver)
			default:
				e.Action, e.Object, e.After = "run_eval", fmt.Sprintf("evals/e-%03d", m), `{"passed":true}`
			}
			e.PrevHash = prev
			e.Hash = state.ChainHash(e, prev)
			prev = e.Hash
			if _, err := ins.Exec(e.Seq, state.FormatTime(e.Time), e.Actor, e.Commit, e.Action, e.Object, e.Before, e.After, e.PrevHash, e.Hash); err != nil {
				bigErr = err
				return
			}
		}
		bigErr = tx.Commit()
	})
	if bigErr != nil {
		b.Fatal(bigErr)
	}
	return bigPath
}

func openBig(b *testing.B) state.Store {
	st, err := state.Open(context.Background(), bigLog(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// BenchmarkLineageAt1M: what a deployment served at a moment, in a warm
// process, over a 1,000,000-entry log.
//
//	go test ./lineage -run '^$' -bench 'Lineage' -benchtime 200x
func BenchmarkLineageAt1M(b *testing.B) {
	st := openBig(b)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		at := bigT0.Add(time.Duration((i*7919)%benchEntries) * bigStep)
		f, err := At(ctx, st, fmt.Sprintf("d-%03d", i%benchModels), at)
		if err != nil {
			b.Fatal(err)
		}
		if f.Entry == nil && f.First == nil {
			b.Fatal("no answer")
		}
	}
}

// BenchmarkLineageVersion1M: one version's lineage (its moves and the
// intervals it served) over the same log.
func BenchmarkLineageVersion1M(b *testing.B) {
	st := openBig(b)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		v, err := OfVersion(ctx, st, "models", fmt.Sprintf("m-%03d", i%benchModels), fmt.Sprint(1+i%100))
		if err != nil {
			b.Fatal(err)
		}
		if len(v.Served) == 0 || len(v.Moves) == 0 {
			b.Fatalf("version %s of m-%03d: %d intervals, %d moves", v.Version, i%benchModels, len(v.Served), len(v.Moves))
		}
	}
}

// TestMain removes the generated log (400 MB) when the benchmarks are done.
func TestMain(m *testing.M) {
	code := m.Run()
	if bigPath != "" {
		os.RemoveAll(filepath.Dir(bigPath))
	}
	os.Exit(code)
}
