package reconciler

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/data"
	"github.com/cairn-dev/cairn/data/training"
	"github.com/cairn-dev/cairn/internal/diag"
	"github.com/cairn-dev/cairn/state"
	"gopkg.in/yaml.v3"
)

// trainingBundle is one classic model "fraud" served at prod = 7, with
// retrain_when auc < 0.9, a PSI drift monitor at 0.2 and the given trigger.
func trainingBundle(root string, trigger *compiler.TrainingTrigger) *compiler.Bundle {
	m := &compiler.Model{Name: "fraud", Kind: "classic", Owner: "@acme/risk", Risk: "high",
		Features: []string{"txn-amount", "merchant-category"},
		Training: &compiler.Training{Data: "warehouse.labelled", Window: "90d", Schedule: "0 3 * * 1",
			RetrainWhen: &compiler.RetrainWhen{Metric: "auc", Below: ptr(0.9)}, Trigger: trigger},
		Monitoring: &compiler.Monitoring{Drift: &compiler.Drift{Features: []string{"txn-amount", "merchant-category"}, Method: "psi", Threshold: 0.2}},
		Aliases:    map[string]string{"prod": "7"},
		Gates:      map[string]compiler.Gate{"prod": {Metrics: map[string]string{"auc": ">= 0.92"}}},
		Pos:        diag.Position{File: "specs/models.cue", Line: 1, Col: 9}}
	return &compiler.Bundle{FormatVersion: compiler.FormatVersion, Root: root,
		Project:     compiler.Project{Name: "demo", Owners: []string{"@acme/risk"}},
		Models:      map[string]*compiler.Model{"fraud": m},
		Deployments: map[string]*compiler.Deployment{"fraud-api": {Name: "fraud-api", Model: "fraud", Target: "kserve", Namespace: "risk", Alias: "prod"}},
		FieldPos: compiler.NewFieldPositions(map[string]diag.Position{
			"models/fraud.training":         {File: "specs/models.cue", Line: 10, Col: 2},
			"models/fraud.training.trigger": {File: "specs/models.cue", Line: 14, Col: 3},
		}),
	}
}

// servedAt7 registers version 7 with the given auc and points prod at it.
func servedAt7(t *testing.T, st state.Store, auc float64) {
	t.Helper()
	registerModel(t, st, "7", auc, 0.01)
	must(t, st.SetPointer(context.Background(), "models/fraud", "prod", "", "7"))
}

func recordDrift(t *testing.T, st state.Store, id string, psi float64) {
	t.Helper()
	must(t, data.RecordDrift(context.Background(), st, &data.DriftResult{Model: "fraud", Method: "psi", Threshold: 0.2,
		Drifted: psi > 0.2, EvidenceID: id,
		Features: []*data.FeatureDrift{
			{Feature: "txn-amount", Statistic: psi, Threshold: 0.2, Drifted: psi > 0.2},
			{Feature: "merchant-category", Statistic: 0.01, Threshold: 0.2},
		}}))
}

func trainingActions(t *testing.T, b *compiler.Bundle, st state.Store) []Action {
	t.Helper()
	p, err := BuildPlan(context.Background(), b, st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out []Action
	for _, a := range p.Actions {
		if a.Type == TriggerTraining {
			out = append(out, a)
		}
	}
	return out
}

func applyOpts() ApplyOptions {
	return ApplyOptions{Actor: "test", Now: fixedClock()}
}

// webhook is a loopback training webhook that fails the first `fail`
// requests with 400 (not retried) and records the rest.
type webhook struct {
	srv   *httptest.Server
	mu    sync.Mutex
	calls int
	fail  int
	got   []training.Payload
	keys  []string
}

func newWebhook(t *testing.T, fail int) *webhook {
	w := &webhook{fail: fail}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.calls++
		if w.calls <= w.fail {
			rw.WriteHeader(http.StatusBadRequest)
			return
		}
		b, _ := io.ReadAll(r.Body)
		var p training.Payload
		if err := json.Unmarshal(b, &p); err != nil {
			t.Errorf("payload: %v: %s", err, b)
		}
		w.got = append(w.got, p)
		w.keys = append(w.keys, r.Header.Get("Idempotency-Key"))
		rw.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(w.srv.Close)
	return w
}

func (w *webhook) delivered() []training.Payload {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]training.Payload(nil), w.got...)
}

func applied(t *testing.T, res *Result, typ ActionType) []Action {
	t.Helper()
	var out []Action
	for _, a := range res.Applied {
		if a.Type == typ {
			out = append(out, a)
		}
	}
	return out
}

// TestTrainingWebhookFiresOncePerEvidence goes plan → apply → plan → apply
// against a webhook on loopback: drift fires it once; the same evidence never
// again; new drift evidence fires it again; a prod version whose metric is
// below the bound fires it for that evidence alone.
func TestTrainingWebhookFiresOncePerEvidence(t *testing.T) {
	ctx := context.Background()
	wh := newWebhook(t, 0)
	b := trainingBundle(t.TempDir(), &compiler.TrainingTrigger{Webhook: wh.srv.URL + "/train?token=s3cret"})
	st := newStore(t)
	servedAt7(t, st, 0.95)

	// Nothing recorded: the schedule alone does not trigger from the plan.
	if acts := trainingActions(t, b, st); len(acts) != 0 {
		t.Fatalf("no evidence, yet %+v", acts)
	}

	drift1 := "sha256:" + strings.Repeat("d1", 32)
	recordDrift(t, st, drift1, 0.46)
	acts := trainingActions(t, b, st)
	if len(acts) != 1 {
		t.Fatalf("want one trigger_training, got %+v", acts)
	}
	a := acts[0]
	if a.Status != StatusReady || a.Name != TriggerWebhook || a.After != drift1 || a.Object != "models/fraud" {
		t.Errorf("action %+v", a)
	}
	if a.Pos.Line != 14 {
		t.Errorf("position %v, want the training.trigger field", a.Pos)
	}
	wantEv := []TrainingEvidence{{Kind: "drift", Feature: "txn-amount", Method: "psi", Value: 0.46, Op: ">", Bound: 0.2, EvidenceID: drift1}}
	if got, _ := json.Marshal(a.Training.Evidence); string(got) != string(jsonBytes(wantEv)) {
		t.Errorf("evidence %s, want %s", got, jsonBytes(wantEv))
	}
	for _, want := range []string{"drift: txn-amount psi 0.46 > 0.2", "evidence " + drift1, `the schedule "0 3 * * 1" is not triggered from the plan`} {
		if !strings.Contains(a.Reason, want) {
			t.Errorf("reason %q lacks %q", a.Reason, want)
		}
	}
	var plan bytes.Buffer
	p, _ := BuildPlan(ctx, b, st, Options{})
	must(t, WritePlan(&plan, p, FormatJSON))
	must(t, WritePlan(&plan, p, FormatText))
	if strings.Contains(plan.String(), "s3cret") || strings.Contains(plan.String(), wh.srv.URL) {
		t.Errorf("the plan shows the webhook URL:\n%s", plan.String())
	}

	res, err := PlanAndApply(ctx, b, st, applyOpts())
	must(t, err)
	if n := len(applied(t, res, TriggerTraining)); n != 1 {
		t.Fatalf("first apply fired %d triggers", n)
	}
	got := wh.delivered()
	if len(got) != 1 || got[0].EvidenceID != drift1 || got[0].Model != "fraud" || got[0].TrainingData != "warehouse.labelled" || got[0].BundleHash != b.Hash() {
		t.Fatalf("delivered %+v", got)
	}
	if wh.keys[0] != drift1 {
		t.Errorf("Idempotency-Key %q", wh.keys[0])
	}

	// Same evidence: the plan is empty and a second apply posts nothing.
	if acts := trainingActions(t, b, st); len(acts) != 0 {
		t.Fatalf("second plan: %+v", acts)
	}
	res, err = PlanAndApply(ctx, b, st, applyOpts())
	must(t, err)
	if len(res.Applied) != 0 || len(wh.delivered()) != 1 {
		t.Fatalf("second apply: applied %+v, %d delivered", res.Applied, len(wh.delivered()))
	}

	// New drift evidence fires again, for that evidence.
	drift2 := "sha256:" + strings.Repeat("d2", 32)
	recordDrift(t, st, drift2, 0.31)
	_, err = PlanAndApply(ctx, b, st, applyOpts())
	must(t, err)
	if got := wh.delivered(); len(got) != 2 || got[1].EvidenceID != drift2 {
		t.Fatalf("after new drift: %+v", got)
	}

	// The served version's metric falls below the bound (a newer prod
	// version): that is new evidence; the consumed drift does not join it.
	mv := registerModel(t, st, "6", 0.85, 0.01)
	must(t, st.SetPointer(ctx, "models/fraud", "prod", "7", "6"))
	b.Models["fraud"].Aliases["prod"] = "6"
	acts = trainingActions(t, b, st)
	if len(acts) != 1 || acts[0].After != mv.ContentHash() || len(acts[0].Training.Evidence) != 1 ||
		acts[0].Training.Evidence[0].Kind != "metric" || acts[0].Training.Evidence[0].Version != "6" {
		t.Fatalf("metric evidence: %+v", acts)
	}
	if !strings.Contains(acts[0].Reason, "metric auc = 0.85 is below 0.9") {
		t.Errorf("reason %q", acts[0].Reason)
	}
	_, err = PlanAndApply(ctx, b, st, applyOpts())
	must(t, err)
	_, err = PlanAndApply(ctx, b, st, applyOpts())
	must(t, err)
	if got := wh.delivered(); len(got) != 3 || got[2].EvidenceID != mv.ContentHash() {
		t.Fatalf("after metric evidence: %d delivered %+v", len(got), got)
	}

	// Each firing is in the audit log, without the URL.
	entries, err := st.ListAudit(ctx)
	must(t, err)
	n := 0
	for _, e := range entries {
		if e.Action == string(TriggerTraining) {
			n++
			if strings.Contains(e.After, "s3cret") || !strings.Contains(e.After, `"trigger":"webhook"`) {
				t.Errorf("audit entry %s", e.After)
			}
		}
	}
	if n != 3 {
		t.Errorf("%d trigger_training audit entries, want 3", n)
	}
}

// A failed delivery does not stop the apply: it is recorded in state and in
// the audit log, and a later apply retries it after a back-off, saying so.
func TestTrainingWebhookFailureIsRetried(t *testing.T) {
	ctx := context.Background()
	wh := newWebhook(t, 1)
	b := trainingBundle(t.TempDir(), &compiler.TrainingTrigger{Webhook: wh.srv.URL + "/?token=s3cret"})
	st := newStore(t)
	servedAt7(t, st, 0.95)
	recordDrift(t, st, "sha256:"+strings.Repeat("e1", 32), 0.5)

	res, err := PlanAndApply(ctx, b, st, applyOpts())
	must(t, err)
	if len(res.Failed) != 1 || !strings.Contains(res.Failed[0].Status, "400") || strings.Contains(res.Failed[0].Status, "s3cret") {
		t.Fatalf("first apply: failed %+v (must name the status, never the URL)", res.Failed)
	}
	log, err := st.ListAudit(ctx)
	must(t, err)
	last := log[len(log)-1]
	for i := len(log) - 1; i > 0 && last.Action == ActionServe; i-- { // what the deployment serves follows the apply's own entries
		last = log[i-1]
	}
	if last.Action != "trigger_training_failed" || !strings.Contains(last.After, "400") || strings.Contains(last.After, "s3cret") {
		t.Fatalf("audit: %+v", last)
	}
	// Within the back-off the trigger waits; after it, it is retried.
	failed := last.Time
	p, err := BuildPlan(ctx, b, st, Options{Now: func() time.Time { return failed.Add(30 * time.Second) }})
	must(t, err)
	if len(p.Actions) != 1 || !strings.Contains(p.Actions[0].Status, "back-off 1m0s") {
		t.Fatalf("within the back-off: %+v", p.Actions)
	}
	acts := trainingActions(t, b, st)
	if len(acts) != 1 || !acts[0].Ready() || !strings.Contains(acts[0].Reason, "retrying: delivery 1 failed") {
		t.Fatalf("after the back-off: %+v", acts)
	}
	later := ApplyOptions{Actor: "test", Now: func() time.Time { return failed.Add(2 * time.Minute) }}
	_, err = PlanAndApply(ctx, b, st, later)
	must(t, err)
	if len(wh.delivered()) != 1 || wh.calls != 2 {
		t.Errorf("delivered %d in %d calls", len(wh.delivered()), wh.calls)
	}
	if acts := trainingActions(t, b, st); len(acts) != 0 {
		t.Errorf("after delivery: %+v", acts)
	}
}

// A trigger to a closed port or to a server that never answers fails within
// its bound, is recorded, and never blocks the other actions of the apply.
func TestTrainingTriggerNeverWedges(t *testing.T) {
	ctx := context.Background()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // never answers until the client gives up
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	}))
	t.Cleanup(func() { silent.CloseClientConnections(); silent.Close() })
	for name, url := range map[string]string{"closed port": closedURL, "never answers": silent.URL} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			b := trainingBundle(root, &compiler.TrainingTrigger{Webhook: url})
			st := newStore(t)
			servedAt7(t, st, 0.95)
			recordDrift(t, st, "sha256:"+strings.Repeat("c3", 32), 0.5)
			opts := applyOpts()
			opts.Renderer = &filesRenderer{paths: []string{"rendered/kubernetes/risk/other.yaml"}}
			opts.TriggerTimeout = 500 * time.Millisecond
			start := time.Now()
			res, err := PlanAndApply(ctx, b, st, opts)
			must(t, err)
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("apply took %s with a %s trigger bound", took, opts.TriggerTimeout)
			}
			if len(res.Failed) != 1 || len(applied(t, res, RenderTarget)) != 1 || strings.Contains(res.Failed[0].Status, "record:") {
				t.Fatalf("failed %+v, applied %+v: the trigger must fail alone", res.Failed, res.Applied)
			}
			raw, ok, err := st.GetRecord(ctx, training.KindTrigger, "fraud/sha256:"+strings.Repeat("c3", 32))
			must(t, err)
			if !ok || !strings.Contains(string(raw), `"status":"failed"`) || !strings.Contains(string(raw), `"failures":1`) {
				t.Fatalf("trigger record %s", raw)
			}
		})
	}
}

// kubernetes_job writes the Job manifest once per evidence, outside the
// files `cairn render` manages, and records the trigger.
func TestTrainingKubernetesJob(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	b := trainingBundle(root, &compiler.TrainingTrigger{KubernetesJob: &compiler.KubernetesJobTrigger{Image: "ghcr.io/acme/train:1"}})
	st := newStore(t)
	servedAt7(t, st, 0.95)
	id := "sha256:" + strings.Repeat("ab", 32)
	recordDrift(t, st, id, 0.4)

	acts := trainingActions(t, b, st)
	if len(acts) != 1 || acts[0].Name != TriggerKubernetesJob {
		t.Fatalf("plan: %+v", acts)
	}
	manifest := "rendered/kubernetes/risk/train-fraud-ababababab.yaml"
	if acts[0].Training.Manifest != manifest || !strings.Contains(acts[0].Reason, "write the Job "+manifest) {
		t.Errorf("manifest %q, reason %q", acts[0].Training.Manifest, acts[0].Reason)
	}
	res, err := PlanAndApply(ctx, b, st, applyOpts())
	must(t, err)
	if len(applied(t, res, TriggerTraining)) != 1 {
		t.Fatalf("applied %+v", res.Applied)
	}
	content, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(manifest)))
	must(t, err)
	if bytes.Contains(content, []byte("generated by cairn — do not edit")) {
		t.Error("the Job carries the render marker: cairn render would delete it as stale")
	}
	var job map[string]any
	must(t, yaml.Unmarshal(content, &job))
	meta := job["metadata"].(map[string]any)
	if job["kind"] != "Job" || job["apiVersion"] != "batch/v1" || meta["name"] != "train-fraud-ababababab" || meta["namespace"] != "risk" {
		t.Errorf("job %v", job)
	}
	if !strings.Contains(string(content), "value: "+id) || !strings.Contains(string(content), "image: ghcr.io/acme/train:1") {
		t.Errorf("job lacks the evidence id or image:\n%s", content)
	}
	rec, ok, err := st.GetRecord(ctx, training.KindTrigger, "fraud/"+id)
	if err != nil || !ok || !strings.Contains(string(rec), `"status":"fired"`) {
		t.Errorf("trigger record %s %v %v", rec, ok, err)
	}

	// Same evidence: nothing to do, the file is left as written.
	must(t, os.WriteFile(filepath.Join(root, filepath.FromSlash(manifest)), []byte("# applied by kubectl\n"), 0o644))
	res, err = PlanAndApply(ctx, b, st, applyOpts())
	must(t, err)
	if len(res.Applied) != 0 {
		t.Errorf("second apply: %+v", res.Applied)
	}
	if got, _ := os.ReadFile(filepath.Join(root, filepath.FromSlash(manifest))); string(got) != "# applied by kubectl\n" {
		t.Errorf("second apply rewrote the Job")
	}
	entries, _ := filepath.Glob(filepath.Join(root, "rendered", "kubernetes", "risk", "*.yaml"))
	if len(entries) != 1 {
		t.Errorf("Job manifests: %v", entries)
	}
}

// Without a trigger, due retraining is a blocked action that says why.
func TestTrainingWithoutTriggerIsBlocked(t *testing.T) {
	b := trainingBundle(t.TempDir(), nil)
	st := newStore(t)
	servedAt7(t, st, 0.8)
	acts := trainingActions(t, b, st)
	if len(acts) != 1 || acts[0].Ready() || !strings.Contains(acts[0].Status, "declares no trigger") || acts[0].Pos.Line != 10 {
		t.Fatalf("%+v", acts)
	}
	res, err := PlanAndApply(context.Background(), b, st, applyOpts())
	must(t, err)
	if len(res.Applied) != 0 || len(res.Blocked) != 1 {
		t.Errorf("apply: %+v", res)
	}
}

// Drift judged against another threshold, a metric at its bound and an LLM
// model trigger nothing.
func TestTrainingNotDue(t *testing.T) {
	b := trainingBundle(t.TempDir(), &compiler.TrainingTrigger{Webhook: "http://127.0.0.1:1/never"})
	st := newStore(t)
	servedAt7(t, st, 0.9)
	must(t, data.RecordDrift(context.Background(), st, &data.DriftResult{Model: "fraud", Method: "psi", Threshold: 0.1, Drifted: true,
		EvidenceID: "sha256:old", Features: []*data.FeatureDrift{{Feature: "txn-amount", Statistic: 0.15, Threshold: 0.1, Drifted: true}}}))
	if acts := trainingActions(t, b, st); len(acts) != 0 {
		t.Errorf("%+v", acts)
	}
	b.Models["fraud"].Kind = "llm"
	servedLow := newStore(t)
	servedAt7(t, servedLow, 0.5)
	if acts := trainingActions(t, b, servedLow); len(acts) != 0 {
		t.Errorf("llm model: %+v", acts)
	}
}

// A retrained version registered after the trigger fired still has to pass
// the alias gates before prod moves to it: nothing about training skips them.
func TestRetrainedVersionGoesThroughGates(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	b := trainingBundle(root, &compiler.TrainingTrigger{KubernetesJob: &compiler.KubernetesJobTrigger{Image: "ghcr.io/acme/train:1"}})
	st := newStore(t)
	servedAt7(t, st, 0.95)
	recordDrift(t, st, "sha256:"+strings.Repeat("cd", 32), 0.4)
	_, err := PlanAndApply(ctx, b, st, applyOpts())
	must(t, err)

	// The pipeline registers version 8 (auc 0.91, under the prod gate's 0.92)
	// and the spec points prod at it.
	registerModel(t, st, "8", 0.91, 0.01)
	b.Models["fraud"].Aliases["prod"] = "8"
	res, err := PlanAndApply(ctx, b, st, applyOpts())
	must(t, err)
	if len(res.Applied) != 0 || len(res.Blocked) != 1 || res.Blocked[0].Type != MoveModelAlias ||
		!strings.Contains(res.Blocked[0].Status, "metric auc: auc = 0.91, needs >= 0.92") {
		t.Fatalf("retrained version under the gate: %+v", res)
	}
	if v, _, _ := st.GetPointer(ctx, "models/fraud", "prod"); v != "7" {
		t.Errorf("prod moved to %s", v)
	}

	// Version 9 passes the gate and moves; no trigger fires on the way.
	registerModel(t, st, "9", 0.94, 0.01)
	b.Models["fraud"].Aliases["prod"] = "9"
	res, err = PlanAndApply(ctx, b, st, applyOpts())
	must(t, err)
	if len(res.Applied) != 1 || res.Applied[0].Type != MoveModelAlias || res.Applied[0].After != "9" {
		t.Fatalf("gated move: %+v", res.Applied)
	}
	if acts := trainingActions(t, b, st); len(acts) != 0 {
		t.Errorf("after the move: %+v", acts)
	}
}

func ptr(f float64) *float64 { return &f }
