package rag

import (
	"context"
	"maps"
	"strings"
	"sync"
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

// MemStore is a goroutine-safe in-memory Store. Values are copied in and out
// so callers cannot alias stored bytes.
type MemStore struct {
	mu   sync.Mutex
	data map[string]map[string][]byte
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{data: map[string]map[string][]byte{}} }

func (m *MemStore) PutRecord(ctx context.Context, kind, key string, value []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.data[kind] == nil {
		m.data[kind] = map[string][]byte{}
	}
	m.data[kind][key] = append([]byte(nil), value...)
	return nil
}

func (m *MemStore) GetRecord(ctx context.Context, kind, key string) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.data[kind][key]
	if !ok {
		return nil, false, nil
	}
	return append([]byte(nil), v...), true, nil
}

func (m *MemStore) ListRecords(ctx context.Context, kind, prefix string) (map[string][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string][]byte{}
	for k, v := range m.data[kind] {
		if strings.HasPrefix(k, prefix) {
			out[k] = append([]byte(nil), v...)
		}
	}
	return out, nil
}

func (m *MemStore) DeleteRecord(ctx context.Context, kind, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.data[kind], key)
	return nil
}

// Kinds returns a copy of every record, by kind; tests use it to compare states.
func (m *MemStore) Kinds() map[string]map[string][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]map[string][]byte{}
	for k, v := range m.data {
		out[k] = maps.Clone(v)
	}
	return out
}
