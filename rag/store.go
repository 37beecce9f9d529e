package rag

import (
	"context"

	"github.com/cairn-dev/cairn/state"
)

// Store is the slice of the state store that rag needs. The state store
// (state) implements it; MemStore is an in-memory one for tests
// and one-shot tools. Values are opaque bytes; a missing key is not an error.
type Store interface {
	PutRecord(ctx context.Context, kind, key string, value []byte) error
	GetRecord(ctx context.Context, kind, key string) ([]byte, bool, error)
	ListRecords(ctx context.Context, kind, prefix string) (map[string][]byte, error)
	DeleteRecord(ctx context.Context, kind, key string) error
}

// Record kinds written by this package. Keys are "<source>" for the current
// pointer and "<source>@<snapshot id>" for everything belonging to a snapshot.
const (
	KindCurrent  = "rag_current"  // source → snapshot id
	KindSnapshot = "rag_snapshot" // manifest JSON (documents, chunk ids, totals, lineage)
	KindChunks   = "rag_chunks"   // chunk texts JSON, in index order
	KindVectors  = "rag_vectors"  // float32 little-endian vectors, in index order
)

// MemStore is the in-memory record store (state.MemRecords), for tests and
// runs without a state store.
type MemStore = state.MemRecords

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return state.NewMemRecords() }
