package training

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/data"
)

func model() *compiler.Model {
	return &compiler.Model{Name: "fraud", Kind: "classic",
		Training:   &compiler.Training{Data: "s3://x", RetrainWhen: &compiler.RetrainWhen{Metric: "auc", Below: ptr(0.85)}},
		Monitoring: &compiler.Monitoring{Drift: &compiler.Drift{Features: []string{"amount"}, Method: "psi", Threshold: 0.2}}}
}

func drift(drifted bool, method string, threshold float64) *data.DriftResult {
	return &data.DriftResult{Model: "fraud", Method: method, Threshold: threshold, Drifted: drifted, EvidenceID: "sha256:drift",
		Features: []*data.FeatureDrift{{Feature: "amount", Statistic: 0.31, Threshold: threshold, Drifted: drifted}}}
}

func TestDecide(t *testing.T) {
	auc := func(v float64) map[string]MetricEvidence {
		return map[string]MetricEvidence{"auc": {Value: v, EvidenceID: "eval:run-7"}}
	}
	for _, tc := range []struct {
		name     string
		in       Inputs
		due      bool
		evidence string
	}{
		{"nothing recorded", Inputs{}, false, ""},
		{"metric above bound", Inputs{Metrics: auc(0.9)}, false, ""},
		{"metric at bound is not below", Inputs{Metrics: auc(0.85)}, false, ""},
		{"metric below bound", Inputs{Metrics: auc(0.80)}, true, "eval:run-7"},
		{"drift above threshold", Inputs{Drift: drift(true, "psi", 0.2)}, true, "sha256:drift"},
		{"no drift", Inputs{Drift: drift(false, "psi", 0.2)}, false, ""},
		{"drift judged by another method", Inputs{Drift: drift(true, "ks", 0.2)}, false, ""},
		{"drift judged by another threshold", Inputs{Drift: drift(true, "psi", 0.1)}, false, ""},
		{"both", Inputs{Metrics: auc(0.5), Drift: drift(true, "psi", 0.2)}, true, "sha256:822dcde795f0b4729ae4caa41d737078745047dae5954cd928e0d0ebdec744c4"}, // sha256("eval:run-7\nsha256:drift")
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(model(), tc.in)
			if d.Due != tc.due || !strings.HasPrefix(d.EvidenceID, tc.evidence) || (tc.evidence == "" && d.EvidenceID != "") {
				t.Errorf("decision = %+v, want due=%v evidence %q", d, tc.due, tc.evidence)
			}
			if d.Due && len(d.Reasons) != len(d.Evidence) {
				t.Errorf("reasons %v for evidence %v", d.Reasons, d.Evidence)
			}
		})
	}
	both := Decide(model(), Inputs{Metrics: auc(0.5), Drift: drift(true, "psi", 0.2)})
	if len(both.Evidence) != 2 || both.EvidenceID == "eval:run-7" || both.EvidenceID == "sha256:drift" {
		t.Errorf("combined evidence %+v", both)
	}
	if got := Decide(model(), Inputs{Metrics: auc(0.5), Drift: drift(true, "psi", 0.2)}); got.EvidenceID != both.EvidenceID {
		t.Errorf("combined id is not deterministic")
	}
}

// hook is a loopback webhook that fails the first `fail` requests with 503.
func hook(t *testing.T, fail int32) (*httptest.Server, *atomic.Int32, *atomic.Int32, chan Payload) {
	var calls, ok atomic.Int32
	got := make(chan Payload, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Idempotency-Key") == "" {
			t.Errorf("headers: %v", r.Header)
		}
		if n <= fail {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		b, _ := io.ReadAll(r.Body)
		var p Payload
		if err := json.Unmarshal(b, &p); err != nil {
			t.Errorf("body: %v", err)
		}
		got <- p
		ok.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls, &ok, got
}

func TestFireWebhookExactlyOnce(t *testing.T) {
	srv, calls, ok, got := hook(t, 2)
	st := data.NewMemStore()
	f := &Firer{Store: st, Client: srv.Client(), Backoff: 1}
	d := Decide(model(), Inputs{Drift: drift(true, "psi", 0.2)})
	p := PayloadFor(d, model().Training, "sha256:bundle")
	ctx := context.Background()

	r1, err := f.FireWebhook(ctx, srv.URL+"/train?token=s3cret", p)
	if err != nil || !r1.Fired || r1.Attempts != 3 {
		t.Fatalf("first call: %+v %v", r1, err)
	}
	r2, err := f.FireWebhook(ctx, srv.URL+"/train?token=s3cret", p)
	if err != nil || r2.Fired || r2.Already != "fired" {
		t.Fatalf("second call: %+v %v", r2, err)
	}
	if calls.Load() != 3 || ok.Load() != 1 {
		t.Errorf("server saw %d requests, %d delivered; want 3 and exactly 1", calls.Load(), ok.Load())
	}
	if pl := <-got; pl.EvidenceID != "sha256:drift" || pl.Model != "fraud" || pl.TrainingData != "s3://x" {
		t.Errorf("payload %+v", pl)
	}
	b, _, _ := st.GetRecord(ctx, KindTrigger, "fraud/sha256:drift")
	var rec TriggerRecord
	json.Unmarshal(b, &rec)
	if rec.Status != "fired" || rec.Attempts != 3 || rec.HTTPStatus != 202 {
		t.Errorf("record %+v", rec)
	}
	// New evidence fires again.
	p.EvidenceID = "sha256:other"
	if r3, err := f.FireWebhook(ctx, srv.URL, p); err != nil || !r3.Fired || ok.Load() != 2 {
		t.Errorf("new evidence: %+v %v", r3, err)
	}
}

func TestFireWebhookFailureIsRetriedLater(t *testing.T) {
	srv, calls, ok, _ := hook(t, 4)
	st := data.NewMemStore()
	f := &Firer{Store: st, Client: srv.Client(), Backoff: 1, Attempts: 2}
	p := Payload{Model: "fraud", EvidenceID: "sha256:e"}
	ctx := context.Background()
	_, err := f.FireWebhook(ctx, srv.URL+"/?token=s3cret", p)
	if err == nil || !strings.Contains(err.Error(), "503") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("err = %v (must name the status, never the URL)", err)
	}
	_, err = f.FireWebhook(ctx, srv.URL, p) // calls 3 and 4 fail again
	if err == nil {
		t.Fatal("want failure")
	}
	r, err := f.FireWebhook(ctx, srv.URL, p)
	if err != nil || !r.Fired || calls.Load() != 5 || ok.Load() != 1 {
		t.Errorf("third call: %+v %v calls=%d", r, err, calls.Load())
	}
}

func TestFireWebhookNoRetryOn4xxAndNoURLInErrors(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusBadRequest)
	}))
	defer srv.Close()
	f := &Firer{Store: data.NewMemStore(), Client: srv.Client(), Backoff: 1}
	_, err := f.FireWebhook(context.Background(), srv.URL+"/?token=s3cret", Payload{Model: "m", EvidenceID: "e"})
	if err == nil || calls.Load() != 1 || !strings.Contains(err.Error(), "not retried") {
		t.Errorf("err %v calls %d", err, calls.Load())
	}
	srv.Close()
	_, err = f.FireWebhook(context.Background(), srv.URL+"/?token=s3cret", Payload{Model: "m", EvidenceID: "e2"})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("closed server err = %v", err)
	}
	if _, err := f.FireWebhook(context.Background(), "http://x", Payload{Model: "m"}); err == nil {
		t.Errorf("missing evidence id accepted")
	}
}

func ptr(f float64) *float64 { return &f }

// retrain_when above: a metric where higher is worse (a fairness gap, a log
// loss) makes retraining due strictly above its bound.
func TestDecideAbove(t *testing.T) {
	m := model()
	m.Training.RetrainWhen = &compiler.RetrainWhen{Metric: "fairness.parity", Above: ptr(0.1)}
	for _, c := range []struct {
		v   float64
		due bool
	}{{0.05, false}, {0.1, false}, {0.27, true}} {
		d := Decide(m, Inputs{Metrics: map[string]MetricEvidence{"fairness.parity": {Value: c.v, EvidenceID: "sha256:v7:run-3"}}})
		if d.Due != c.due || c.due && d.Reasons[0] != "metric fairness.parity = 0.27 is above 0.1" {
			t.Errorf("parity %v: %+v, want due=%v", c.v, d, c.due)
		}
	}
}
