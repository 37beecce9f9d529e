package data

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

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

// RecordValidation stores a validation report as evidence and, in a store
// with an audit log, appends its entry (by actor).
func RecordValidation(ctx context.Context, st Store, r *Report, actor string, at time.Time) error {
	if r.Data == nil {
		return fmt.Errorf("record validation: the report has no data fingerprint")
	}
	set := r.FeatureSet
	if set == "" {
		set = "*"
	}
	if err := putBoth(ctx, st, KindValidation, set+"/"+r.Data.SHA256, KindValidationLatest, set, r); err != nil {
		return err
	}
	if a, ok := st.(auditor); ok {
		return appendValidation(ctx, a, set, r, actor, at)
	}
	return nil
}

// auditor is a store with an audit log (a state.Ops), where a validation
// is also an entry: the data's digest, its rows and each feature's nulls,
// the input OpenLineage's dataQualityMetrics facet reports.
type auditor interface {
	AppendAudit(ctx context.Context, e state.AuditEntry) (state.AuditEntry, error)
}

// AuditValidate is the audit action of a recorded validation.
const AuditValidate = "validate_data"

// ValidationEntry is the After of an AuditValidate entry.
type ValidationEntry struct {
	FeatureSet string                 `json:"feature_set"`
	Data       string                 `json:"data"` // sha256 of the file
	Bytes      int64                  `json:"bytes"`
	Rows       int                    `json:"rows"`
	Passed     bool                   `json:"passed"`
	Failures   int                    `json:"failures"`
	Columns    map[string]ColumnNulls `json:"columns"`
}

// ColumnNulls is one feature's null count over the rows checked.
type ColumnNulls struct {
	Rows  int `json:"rows"`
	Nulls int `json:"nulls"`
}

func appendValidation(ctx context.Context, a auditor, set string, r *Report, actor string, at time.Time) error {
	v := ValidationEntry{FeatureSet: set, Data: r.Data.SHA256, Bytes: r.Data.Bytes, Rows: r.Rows, Passed: r.Passed, Failures: r.Failures, Columns: map[string]ColumnNulls{}}
	for _, f := range r.Features {
		v.Columns[f.Feature] = ColumnNulls{Rows: f.Rows, Nulls: f.Nulls}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = a.AppendAudit(ctx, state.AuditEntry{Time: at.UTC(), Actor: actor, Action: AuditValidate, Object: "data/" + set, After: string(b)})
	return err
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
