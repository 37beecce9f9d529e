package state

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
)

// MemRecords is the record API of the state (PutRecord, GetRecord,
// ListRecords, DeleteRecord, PutRecordOnce) in memory: what the eval cache,
// RAG snapshots and data evidence use when there is no state store (tests,
// dry runs). It is safe for concurrent use; values are copied in and out so
// callers cannot alias stored bytes; a cancelled context is an error, as
// with a real store.
type MemRecords struct {
	mu   sync.Mutex
	data map[string]map[string][]byte
}

// NewMemRecords returns an empty MemRecords.
func NewMemRecords() *MemRecords { return &MemRecords{data: map[string]map[string][]byte{}} }

func (m *MemRecords) PutRecord(ctx context.Context, kind, key string, value []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.put(kind, key, value)
	return nil
}

func (m *MemRecords) put(kind, key string, value []byte) {
	if m.data[kind] == nil {
		m.data[kind] = map[string][]byte{}
	}
	m.data[kind][key] = append([]byte(nil), value...)
}

func (m *MemRecords) GetRecord(ctx context.Context, kind, key string) ([]byte, bool, error) {
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

func (m *MemRecords) ListRecords(ctx context.Context, kind, prefix string) (map[string][]byte, error) {
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

func (m *MemRecords) DeleteRecord(ctx context.Context, kind, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.data[kind], key)
	return nil
}

func (m *MemRecords) DeleteRecords(ctx context.Context, kind, prefix string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.data[kind] {
		if strings.HasPrefix(k, prefix) {
			delete(m.data[kind], k)
		}
	}
	return nil
}

func (m *MemRecords) PutRecordOnce(ctx context.Context, kind, key string, value []byte) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.data[kind][key]; ok {
		return false, nil
	}
	m.put(kind, key, value)
	return true, nil
}

// Kinds returns a copy of every record, by kind (tests compare states with it).
func (m *MemRecords) Kinds() map[string]map[string][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]map[string][]byte{}
	for k, v := range m.data {
		out[k] = maps.Clone(v)
	}
	return out
}

// Keys lists a kind's keys, sorted.
func (m *MemRecords) Keys(kind string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.data[kind]))
}
