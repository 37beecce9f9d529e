package data

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
)

// Store is what data checks need from the state store to record evidence
// (the reconciler's state store implements it). Records are opaque JSON
// values under (kind, key).
type Store interface {
	PutRecord(ctx context.Context, kind, key string, value []byte) error
	GetRecord(ctx context.Context, kind, key string) ([]byte, bool, error)
	ListRecords(ctx context.Context, kind, prefix string) (map[string][]byte, error)
	// PutRecordOnce stores the value only if the key is new; it reports whether it did.
	PutRecordOnce(ctx context.Context, kind, key string, value []byte) (bool, error)
}

// Record kinds written by this package. Keys are documented at each writer.
const (
	KindValidation       = "data.validation"        // key "<feature-set>/<data sha256>"
	KindValidationLatest = "data.validation.latest" // key "<feature-set>"
	KindDrift            = "data.drift"             // key "<model>/<evidence id>"
	KindDriftLatest      = "data.drift.latest"      // key "<model>"
	KindParity           = "data.parity"            // key "<offline sha256>/<online sha256>"
	KindParityLatest     = "data.parity.latest"     // key "<feature-set or *>"
)

// RecordValidation stores a validation report as evidence.
func RecordValidation(ctx context.Context, st Store, r *Report) error {
	if r.Data == nil {
		return fmt.Errorf("record validation: the report has no data fingerprint")
	}
	set := r.FeatureSet
	if set == "" {
		set = "*"
	}
	return putBoth(ctx, st, KindValidation, set+"/"+r.Data.SHA256, KindValidationLatest, set, r)
}

// RecordDrift stores a drift result as evidence, and as the model's latest.
func RecordDrift(ctx context.Context, st Store, r *DriftResult) error {
	return putBoth(ctx, st, KindDrift, r.Model+"/"+r.EvidenceID, KindDriftLatest, r.Model, r)
}

// LatestDrift returns the model's most recently recorded drift result, if any.
func LatestDrift(ctx context.Context, st Store, model string) (*DriftResult, error) {
	b, ok, err := st.GetRecord(ctx, KindDriftLatest, model)
	if err != nil || !ok {
		return nil, err
	}
	var r DriftResult
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("state: %s %s: %w", KindDriftLatest, model, err)
	}
	return &r, nil
}

// RecordParity stores a parity report as evidence.
func RecordParity(ctx context.Context, st Store, r *ParityReport) error {
	set := r.FeatureSet
	if set == "" {
		set = "*"
	}
	return putBoth(ctx, st, KindParity, r.Offline.SHA256+"/"+r.Online.SHA256, KindParityLatest, set, r)
}

func putBoth(ctx context.Context, st Store, kind, key, latestKind, latestKey string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := st.PutRecord(ctx, kind, key, b); err != nil {
		return fmt.Errorf("state: record %s %s: %w", kind, key, err)
	}
	if err := st.PutRecord(ctx, latestKind, latestKey, b); err != nil {
		return fmt.Errorf("state: record %s %s: %w", latestKind, latestKey, err)
	}
	return nil
}

// MemStore is an in-memory Store for tests and dry runs; safe for concurrent use.
type MemStore struct {
	mu sync.Mutex
	m  map[string]map[string][]byte
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{m: map[string]map[string][]byte{}} }

func (s *MemStore) PutRecord(_ context.Context, kind, key string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.put(kind, key, value)
	return nil
}

func (s *MemStore) put(kind, key string, value []byte) {
	if s.m[kind] == nil {
		s.m[kind] = map[string][]byte{}
	}
	s.m[kind][key] = append([]byte(nil), value...)
}

func (s *MemStore) GetRecord(_ context.Context, kind, key string) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[kind][key]
	return append([]byte(nil), v...), ok, nil
}

func (s *MemStore) ListRecords(_ context.Context, kind, prefix string) (map[string][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]byte{}
	for k, v := range s.m[kind] {
		if strings.HasPrefix(k, prefix) {
			out[k] = append([]byte(nil), v...)
		}
	}
	return out, nil
}

func (s *MemStore) PutRecordOnce(_ context.Context, kind, key string, value []byte) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[kind][key]; ok {
		return false, nil
	}
	s.put(kind, key, value)
	return true, nil
}

// Keys lists a kind's keys, sorted (for tests).
func (s *MemStore) Keys(kind string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.m[kind]))
}
