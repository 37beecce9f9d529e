package state

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/internal/jsonpos"
)

// ExplanationFormat names the JSON format of a global explanation
// (docs/explanation.md).
const ExplanationFormat = "cairn.explanation/v1"

// AuditAttachExplanation is the audit action of registry attach.
const AuditAttachExplanation = "attach_explanation"

// KindExplanation is the record kind holding attached explanations, keyed
// "<model>@<version>".
const KindExplanation = "explanation"

// Explanation is a model version's global explanation: how much each
// feature moves its predictions, and how that was measured. It is attached
// to a registered version once (registry attach) and never enters the
// version's content hash, so versions stay immutable and their evidence
// keeps its hashes.
type Explanation struct {
	Format     string `json:"format"`
	Method     string `json:"method"`      // shap, lime, permutation, …
	SampleSize int    `json:"sample_size"` // rows the importances were computed on
	// Dataset says what the sample was drawn from (a URI, URI@sha256:HEX
	// or a snapshot id); optional.
	Dataset  string              `json:"dataset,omitempty"`
	Features []FeatureImportance `json:"features"`
}

// FeatureImportance is one feature's global importance (for SHAP, the
// mean absolute SHAP value).
type FeatureImportance struct {
	Name       string  `json:"name"`
	Importance float64 `json:"importance"`
}

// AttachedExplanation is an explanation as the state holds it.
type AttachedExplanation struct {
	Model       string      `json:"model"`
	Version     string      `json:"version"`
	Digest      string      `json:"digest"` // sha256 of the canonical explanation
	AttachedAt  time.Time   `json:"attached_at"`
	AttachedBy  string      `json:"attached_by"`
	Explanation Explanation `json:"explanation"`
}

// Summary is the explanation in one line: method, sample and the top
// features.
func (a AttachedExplanation) Summary() string {
	e := a.Explanation
	var top []string
	for i, f := range e.Features {
		if i == 3 {
			top = append(top, "…")
			break
		}
		top = append(top, fmt.Sprintf("%s %.4g", f.Name, f.Importance))
	}
	return fmt.Sprintf("%s on %d rows, %d features (%s), %s", e.Method, e.SampleSize, len(e.Features), strings.Join(top, ", "), short(strings.TrimPrefix(a.Digest, "sha256:")))
}

// ParseExplanation reads an explanation file strictly: unknown fields,
// a missing method or sample size, no features, a feature named twice or
// an importance that is not a finite number are errors naming the field
// and value (and the line and column of a syntax error).
func ParseExplanation(data []byte) (Explanation, error) {
	var e Explanation
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return e, jsonpos.Error(data, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return e, fmt.Errorf("more than one JSON value: an explanation is one object")
	}
	switch {
	case e.Format != ExplanationFormat:
		return e, fmt.Errorf("format: %q: want %q", e.Format, ExplanationFormat)
	case strings.TrimSpace(e.Method) == "":
		return e, fmt.Errorf("method: missing: name how the importances were computed (shap, lime, permutation, …)")
	case e.SampleSize < 1:
		return e, fmt.Errorf("sample_size: %d: want the number of rows the importances were computed on (≥ 1)", e.SampleSize)
	case len(e.Features) == 0:
		return e, fmt.Errorf("features: empty: list each feature with its importance")
	}
	seen := map[string]bool{}
	for i, f := range e.Features {
		switch {
		case strings.TrimSpace(f.Name) == "":
			return e, fmt.Errorf("features[%d].name: missing", i)
		case seen[f.Name]:
			return e, fmt.Errorf("features[%d].name: %q is listed twice", i, f.Name)
		case math.IsNaN(f.Importance) || math.IsInf(f.Importance, 0):
			return e, fmt.Errorf("features[%d].importance: %v: want a finite number", i, f.Importance)
		}
		seen[f.Name] = true
	}
	return e, nil
}

// Digest is the sha256 of the explanation's canonical JSON.
func (e Explanation) Digest() string {
	b, _ := json.Marshal(e)
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// AttachExplanation attaches e to a registered model version within tx and
// appends its audit entry. A version has at most one explanation: the same
// one again is a no-op (attached false), a different one is an error.
// Features the version was registered with bound the names e may use.
func AttachExplanation(ctx context.Context, tx Ops, model, version string, e Explanation, at time.Time, actor string) (AttachedExplanation, bool, error) {
	a := AttachedExplanation{Model: model, Version: version, Digest: e.Digest(), AttachedAt: at.UTC(), AttachedBy: actor, Explanation: e}
	mv, err := tx.GetModelVersion(ctx, model, version)
	if err != nil {
		return a, false, err
	}
	if len(mv.Features) > 0 {
		reads := map[string]bool{}
		for _, f := range mv.Features {
			reads[f] = true
		}
		for i, f := range e.Features {
			if !reads[f.Name] {
				return a, false, fmt.Errorf("features[%d].name: %q: models/%s version %s was registered reading %s", i, f.Name, model, version, strings.Join(mv.Features, ", "))
			}
		}
	}
	raw, err := json.Marshal(a)
	if err != nil {
		return a, false, err
	}
	key := model + "@" + version
	inserted, err := tx.PutRecordOnce(ctx, KindExplanation, key, raw)
	if err != nil {
		return a, false, err
	}
	if !inserted {
		old, ok, err := GetExplanation(ctx, tx, model, version)
		if err != nil || !ok {
			return a, false, err
		}
		if old.Digest == a.Digest {
			return old, false, nil
		}
		return old, false, fmt.Errorf("models/%s version %s already has an explanation (%s, attached %s by %s): a version's explanation is attached once; register a new version to explain it differently", model, version, short(strings.TrimPrefix(old.Digest, "sha256:")), FormatTime(old.AttachedAt), old.AttachedBy)
	}
	after, _ := json.Marshal(map[string]any{"version": version, "digest": a.Digest, "method": e.Method, "sample_size": e.SampleSize, "features": len(e.Features)})
	_, err = tx.AppendAudit(ctx, AuditEntry{Time: a.AttachedAt, Actor: actor, Action: AuditAttachExplanation, Object: "models/" + model, After: string(after)})
	return a, true, err
}

// GetExplanation returns the explanation attached to a model version.
func GetExplanation(ctx context.Context, st Ops, model, version string) (AttachedExplanation, bool, error) {
	var a AttachedExplanation
	raw, ok, err := st.GetRecord(ctx, KindExplanation, model+"@"+version)
	if err != nil || !ok {
		return a, ok, err
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return a, false, fmt.Errorf("models/%s version %s: recorded explanation: %w", model, version, err)
	}
	return a, true, nil
}
