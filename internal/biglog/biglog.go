// Package biglog writes the generated audit log the lineage and operating
// metrics benchmarks read: 1,000,000 hash-chained entries over five years
// for 200 models, each served by its own deployment.
package biglog

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

	"github.com/cairn-dev/cairn/state"
	"github.com/cairn-dev/cairn/targets"
)

const (
	Entries = 1_000_000
	Models  = 200
)

var (
	T0   = time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
	Step = 5 * 365 * 24 * time.Hour / Entries // five years of entries
)

// Write creates the state in a new temporary directory and returns its
// path: every fifth entry a serve entry, then an alias move, the rest eval
// runs; each model's version changes every 5,000 entries. Rows are inserted
// directly (one transaction, the chain computed as AppendAudit computes
// it) to keep generation short. The caller removes filepath.Dir(path).
func Write() (string, error) {
	dir, err := os.MkdirTemp("", "cairn-biglog-*")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "state.db")
	ctx := context.Background()
	st, err := state.Open(ctx, path)
	if err != nil {
		return "", err
	}
	versions := Entries / Models / 25
	err = st.Update(ctx, func(tx state.Ops) error {
		for m := 0; m < Models; m++ {
			for v := 1; v <= versions; v++ {
				if _, err := tx.RegisterModelVersion(ctx, state.ModelVersion{Model: fmt.Sprintf("m-%03d", m), Version: fmt.Sprint(v),
					ArtifactURI: fmt.Sprintf("s3://m/%d/%d", m, v), Features: []string{}, RegisteredAt: T0}); err != nil {
					return err
				}
			}
			// reconciler.RecordServedBy: the deployments that ever served the model.
			if err := tx.PutRecord(ctx, "serve.by", fmt.Sprintf("models/m-%03d d-%03d", m, m), []byte("{}")); err != nil {
				return err
			}
		}
		return nil
	})
	st.Close()
	if err != nil {
		return "", err
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return "", err
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		return "", err
	}
	ins, err := tx.Prepare(`INSERT INTO audit_log (seq, at, actor, git_commit, action, object, before_doc, after_doc, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return "", err
	}
	// The shape of reconciler.ServeEntry (this package sits below it).
	type serve struct {
		Deployment string                 `json:"deployment"`
		Namespace  string                 `json:"namespace,omitempty"`
		Stable     *targets.ServedVersion `json:"stable,omitempty"`
		BundleHash string                 `json:"bundle_hash"`
	}
	prev := state.GenesisHash
	for i := 0; i < Entries; i++ {
		m := (i / 5) % Models // every model gets each kind of entry
		ver := fmt.Sprint(i/(Models*25) + 1)
		e := state.AuditEntry{Seq: int64(i + 1), Time: T0.Add(time.Duration(i) * Step), Actor: "ci", Commit: "c0ffee"}
		switch i % 5 {
		case 0:
			doc, _ := json.Marshal(serve{Deployment: fmt.Sprintf("d-%03d", m), Namespace: "ns",
				Stable:     &targets.ServedVersion{Object: fmt.Sprintf("models/m-%03d", m), Version: ver, Digest: "sha256:00", Percent: 100},
				BundleHash: "sha256:11"})
			e.Action, e.Object, e.After = "serve", fmt.Sprintf("deployments/d-%03d", m), string(doc)
		case 1:
			e.Action, e.Object, e.After = "move_model_alias", fmt.Sprintf("models/m-%03d", m), fmt.Sprintf(`{"name":"prod","version":%q,"gates":[]}`, ver)
		default:
			e.Action, e.Object, e.After = "run_eval", fmt.Sprintf("evals/e-%03d", m), `{"passed":true}`
		}
		e.PrevHash = prev
		e.Hash = state.ChainHash(e, prev)
		prev = e.Hash
		if _, err := ins.Exec(e.Seq, state.FormatTime(e.Time), e.Actor, e.Commit, e.Action, e.Object, e.Before, e.After, e.PrevHash, e.Hash); err != nil {
			return "", err
		}
	}
	return path, tx.Commit()
}

var (
	once     sync.Once
	path     string
	writeErr error
)

// Open writes the log once per test binary and opens it for tb (closed
// when tb ends); Remove, called from TestMain, deletes it.
func Open(tb testing.TB) state.Store {
	tb.Helper()
	once.Do(func() { path, writeErr = Write() })
	if writeErr != nil {
		tb.Fatal(writeErr)
	}
	st, err := state.Open(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

// Remove deletes the log Open wrote (400 MB), if it wrote one.
func Remove() {
	if path != "" {
		os.RemoveAll(filepath.Dir(path))
	}
}
