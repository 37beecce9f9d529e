package evals

import (
	"context"
	"strings"
	"sync"
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

// MemStore is an in-memory Store.
type MemStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func NewMemStore() *MemStore { return &MemStore{m: map[string][]byte{}} }

func (s *MemStore) PutRecord(_ context.Context, kind, key string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[kind+"\x00"+key] = append([]byte(nil), value...)
	return nil
}

func (s *MemStore) GetRecord(_ context.Context, kind, key string) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[kind+"\x00"+key]
	return v, ok, nil
}

func (s *MemStore) ListRecords(_ context.Context, kind, prefix string) (map[string][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]byte{}
	for k, v := range s.m {
		if key, ok := strings.CutPrefix(k, kind+"\x00"); ok && strings.HasPrefix(key, prefix) {
			out[key] = v
		}
	}
	return out, nil
}

func (s *MemStore) PutRecordOnce(_ context.Context, kind, key string, value []byte) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[kind+"\x00"+key]; ok {
		return false, nil
	}
	s.m[kind+"\x00"+key] = append([]byte(nil), value...)
	return true, nil
}
