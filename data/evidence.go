package data

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/cairn-dev/cairn/state"
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

// MemStore is the in-memory record store (state.MemRecords), for tests and dry runs.
type MemStore = state.MemRecords

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return state.NewMemRecords() }
