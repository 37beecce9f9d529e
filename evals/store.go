package evals

import (
	"context"

	"github.com/cairn-dev/cairn/state"
)

// Store persists the result cache, per-case results and runs. The state
// store implements it; MemStore is for tests and --no-state runs.
type Store interface {
	PutRecord(ctx context.Context, kind, key string, value []byte) error
	GetRecord(ctx context.Context, kind, key string) ([]byte, bool, error)
	ListRecords(ctx context.Context, kind, prefix string) (map[string][]byte, error)
	PutRecordOnce(ctx context.Context, kind, key string, value []byte) (bool, error)
}

// Record kinds written by the runner.
const (
	KindGen   = "eval.gen"   // cache: generation key → provider response
	KindScore = "eval.score" // cache: score key → metric score
	KindCase  = "eval.case"  // "<run id>/<case id>#<repeat>" → CaseResult
	KindRun   = "eval.run"   // run id → Run without its cases (RunRecord)
)

// MemStore is the in-memory record store (state.MemRecords).
type MemStore = state.MemRecords

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return state.NewMemRecords() }
