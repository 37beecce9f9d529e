package statetest

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/state"
)

// Explanation is a valid explanation over the given features, for tests
// that need a version explained to promote it.
func Explanation(features ...string) state.Explanation {
	e := state.Explanation{Format: state.ExplanationFormat, Method: "shap", SampleSize: 1000}
	for i, f := range features {
		e.Features = append(e.Features, state.FeatureImportance{Name: f, Importance: 1 / float64(i+2)})
	}
	if len(e.Features) == 0 {
		e.Features = []state.FeatureImportance{{Name: "txn-amount", Importance: 0.4}}
	}
	return e
}

// Explain attaches Explanation() to each registered version of model, at
// time at or just after the audit log's head when that is later (a
// high-risk model in a sensitive domain needs one for prod).
func Explain(ctx context.Context, st state.Store, at time.Time, model string, versions ...string) error {
	return st.Update(ctx, func(tx state.Ops) error {
		for _, v := range versions {
			if h, ok, err := tx.AuditHead(ctx); err != nil {
				return err
			} else if ok && !h.Time.Before(at) {
				at = h.Time.Add(time.Millisecond)
			}
			if _, _, err := state.AttachExplanation(ctx, tx, model, v, Explanation(), at, "test"); err != nil {
				return err
			}
		}
		return nil
	})
}

func testExplanations(t *testing.T, s state.Store) {
	ctx := context.Background()
	if _, err := s.RegisterModelVersion(ctx, state.ModelVersion{Model: "m", Version: "1", ArtifactURI: "s3://m/1", RegisteredAt: t0,
		Features: []string{"amount", "age"}}); err != nil {
		t.Fatal(err)
	}
	before, err := s.GetModelVersion(ctx, "m", "1")
	if err != nil {
		t.Fatal(err)
	}
	attach := func(v string, e state.Explanation) (bool, error) {
		var created bool
		err := s.Update(ctx, func(tx state.Ops) error {
			var err error
			_, created, err = state.AttachExplanation(ctx, tx, "m", v, e, t0.Add(time.Minute), "ana")
			return err
		})
		return created, err
	}
	e := Explanation("amount", "age")
	if created, err := attach("1", e); err != nil || !created {
		t.Fatalf("first attach: created %v, %v", created, err)
	}
	if created, err := attach("1", e); err != nil || created {
		t.Fatalf("the same explanation again: created %v, %v; want a no-op", created, err)
	}
	other := Explanation("age", "amount")
	if _, err := attach("1", other); err == nil || !strings.Contains(err.Error(), "already has an explanation") {
		t.Fatalf("a different explanation: %v; want refused", err)
	}
	if _, err := attach("2", e); err == nil {
		t.Fatal("an unregistered version: want an error")
	}
	if _, err := attach("1", Explanation("zip-code")); err == nil {
		t.Fatal("a feature the version does not read: want an error")
	}
	got, ok, err := state.GetExplanation(ctx, s, "m", "1")
	if err != nil || !ok || got.Digest != e.Digest() || got.AttachedBy != "ana" || got.Explanation.Features[0].Name != "amount" {
		t.Fatalf("GetExplanation = %+v, %v, %v", got, ok, err)
	}
	after, err := s.GetModelVersion(ctx, "m", "1")
	if err != nil || after.ContentHash() != before.ContentHash() {
		t.Fatalf("attaching changed the version's content hash: %s → %s (%v)", before.ContentHash(), after.ContentHash(), err)
	}
	var n int
	err = s.ScanAudit(ctx, state.AuditQuery{Action: state.AuditAttachExplanation}, func(a state.AuditEntry) error {
		n++
		if a.Object != "models/m" || !strings.Contains(a.After, e.Digest()) {
			t.Errorf("audit entry %+v", a)
		}
		return nil
	})
	if err != nil || n != 1 {
		t.Fatalf("%d attach_explanation entries (%v), want 1: refused and repeated attaches write none", n, err)
	}
}

func testTrainingRuns(t *testing.T, s state.Store) {
	ctx := context.Background()
	run := &state.TrainingRun{Params: map[string]string{"max_depth": "6", "eta": "0.1"}, RepoURL: "https://github.com/acme/fraud-train",
		Inputs:  []state.DataInput{{Name: "txns", URI: "s3://acme/txns.parquet", Digest: "sha256:" + strings.Repeat("a", 64), Context: "training"}},
		CostUSD: 12.5, MetricDatasets: map[string]string{"auc": "d1"}, Branch: "main", Dirty: true, Source: "mlflow runs:/r1"}
	mv := state.ModelVersion{Model: "m", Version: "1", ArtifactURI: "s3://m/1", Metrics: map[string]float64{"auc": 0.9}, RegisteredAt: t0, Run: run}
	if created, err := s.RegisterModelVersion(ctx, mv); err != nil || !created {
		t.Fatalf("register: %v %v", created, err)
	}
	got, err := s.GetModelVersion(ctx, "m", "1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Run, run) || got.ContentHash() != mv.ContentHash() {
		t.Fatalf("round trip: %+v (%s), want %+v (%s)", got.Run, got.ContentHash(), run, mv.ContentHash())
	}
	bare := mv
	bare.Run = nil
	if bare.ContentHash() == mv.ContentHash() {
		t.Fatal("the training run is not in the content hash")
	}
	empty := bare
	empty.Run = &state.TrainingRun{}
	if empty.ContentHash() != bare.ContentHash() {
		t.Fatal("an empty training run changed the content hash")
	}
	if created, err := s.RegisterModelVersion(ctx, mv); err != nil || created {
		t.Fatalf("the same again: %v %v, want a no-op", created, err)
	}
	other := mv
	other.Run = &state.TrainingRun{Params: map[string]string{"max_depth": "8"}}
	if _, err := s.RegisterModelVersion(ctx, other); err == nil || !strings.Contains(err.Error(), "training run") {
		t.Fatalf("other parameters under the same version: %v, want a conflict naming the training run", err)
	}
	if _, err := s.RegisterModelVersion(ctx, state.ModelVersion{Model: "m", Version: "2", ArtifactURI: "s3://m/2", RegisteredAt: t0}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetModelVersion(ctx, "m", "2"); err != nil || got.Run != nil {
		t.Fatalf("a version without a run: %+v, %v", got.Run, err)
	}
}

func testFirstSeqAt(t *testing.T, s state.Store) {
	ctx := context.Background()
	if seq, err := state.FirstSeqAt(ctx, s, t0); err != nil || seq != 1 {
		t.Fatalf("empty log: %d, %v; want 1", seq, err)
	}
	for i := 0; i < 7; i++ { // entries at t0, t0+2m, …, t0+12m
		if _, err := s.AppendAudit(ctx, state.AuditEntry{Time: t0.Add(time.Duration(2*i) * time.Minute), Actor: "a", Action: "x", Object: "o"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		at   time.Duration
		want int64
	}{{-time.Hour, 1}, {0, 1}, {time.Minute, 2}, {2 * time.Minute, 2}, {11 * time.Minute, 7}, {12 * time.Minute, 7}, {13 * time.Minute, 8}} {
		if seq, err := state.FirstSeqAt(ctx, s, t0.Add(tc.at)); err != nil || seq != tc.want {
			t.Errorf("FirstSeqAt(t0%+v) = %d, %v; want %d", tc.at, seq, err, tc.want)
		}
	}
}
