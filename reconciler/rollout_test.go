package reconciler

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/data/training"
	"github.com/cairn-dev/cairn/internal/promtest"
	"github.com/cairn-dev/cairn/internal/tooltest"
	"github.com/cairn-dev/cairn/state"
	"github.com/cairn-dev/cairn/state/statetest"
)

// Alert-driven retraining with the real Alertmanager: an alert fed through
// its API is delivered to cairn's receiver (bearer token), becomes evidence
// for retrain_when.alert, and fires the training trigger once; the resends
// Alertmanager makes every second fire nothing more.
func TestAlertmanagerRetraining(t *testing.T) {
	ctx := context.Background()
	dir := copyExample(t, "fraud-detection")
	b := compileExample(t, dir)
	b.Models["fraud-detector"].Training.RetrainWhen = &compiler.RetrainWhen{Alert: "FraudModelDegraded"}
	st := newStore(t)
	_, err := st.RegisterModelVersion(ctx, state.ModelVersion{Model: "fraud-detector", Version: "7", ArtifactURI: "s3://m/7",
		Metrics: map[string]float64{"auc": 0.94, "false_positive_rate": 0.03}, RegisteredAt: t0})
	must(t, err)
	must(t, statetest.Explain(ctx, st, t0, "fraud-detector", "7"))

	var deliveries atomic.Int64
	rc := &training.AlertReceiver{Store: st, Token: "am-token", Actor: "alertmanager"}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		deliveries.Add(1)
		rc.ServeHTTP(w, r)
	}))
	defer hook.Close()
	am, config := promtest.StartAlertmanager(t, hook.URL, "am-token")
	amtool := tooltest.Find(t, "apt-get install prometheus-alertmanager (make tools)", "amtool")
	if out, err := exec.Command(amtool, "check-config", config).CombinedOutput(); err != nil {
		t.Fatalf("amtool check-config: %v\n%s", err, out)
	}
	promtest.FireAlert(t, am, map[string]string{"alertname": "FraudModelDegraded", "model": "fraud-detector", "severity": "page"})

	// Delivered, then resent at least twice.
	deadline := time.Now().Add(30 * time.Second)
	for deliveries.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("alertmanager delivered %d times in 30 s", deliveries.Load())
		}
		time.Sleep(100 * time.Millisecond)
	}
	evs, err := training.Alerts(ctx, st, "fraud-detector")
	if err != nil || len(evs) != 1 || evs[0].Alert != "FraudModelDegraded" {
		t.Fatalf("evidence after %d deliveries: %+v, %v", deliveries.Load(), evs, err)
	}

	// The alert is received at the real time: the apply's clock is real too.
	opts := ApplyOptions{Options: Plugins(st, PluginOptions{Approvals: 1}), Actor: "test", Now: time.Now}
	fired := func() int {
		res, err := PlanAndApply(ctx, b, st, opts)
		must(t, err)
		n := 0
		for _, a := range res.Applied {
			if a.Type == TriggerTraining {
				n++
				if a.Training == nil || len(a.Training.Evidence) != 1 || a.Training.Evidence[0].Kind != "alert" || a.Training.EvidenceID != evs[0].EvidenceID {
					t.Errorf("trigger evidence %+v", a.Training)
				}
			}
		}
		return n
	}
	if n := fired(); n != 1 {
		t.Fatalf("first apply fired %d triggers, want 1", n)
	}
	// More resends arrive; nothing new is recorded and nothing fires again.
	before := deliveries.Load()
	for deliveries.Load() < before+2 {
		if time.Now().After(deadline.Add(30 * time.Second)) {
			t.Fatal("no resend")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := fired(); n != 0 {
		t.Errorf("after resends, apply fired %d triggers, want 0", n)
	}
	if evs, _ := training.Alerts(ctx, st, "fraud-detector"); len(evs) != 1 {
		t.Errorf("evidence after resends: %d", len(evs))
	}
}

// The alias a progressive canary deployment serves moves to the canary's
// version only once the analysis promoted it; a rolled-back version never.
func TestPromotionWaitsForTheCanary(t *testing.T) {
	ctx := context.Background()
	dir := copyExample(t, "fraud-detection")
	b := compileExample(t, dir)
	st := newStore(t)
	for _, v := range []string{"7", "8"} {
		_, err := st.RegisterModelVersion(ctx, state.ModelVersion{Model: "fraud-detector", Version: v, ArtifactURI: "s3://m/" + v,
			Metrics: map[string]float64{"auc": 0.95, "false_positive_rate": 0.03}, RegisteredAt: t0})
		must(t, err)
		must(t, statetest.Explain(ctx, st, t0, "fraud-detector", v))
	}
	// The alert is received at the real time: the apply's clock is real too.
	opts := ApplyOptions{Options: Plugins(st, PluginOptions{Approvals: 1}), Actor: "test", Now: time.Now}
	_, err := PlanAndApply(ctx, b, st, opts)
	must(t, err)
	b.Models["fraud-detector"].Aliases["prod"] = "8"
	for _, c := range []struct {
		progress string
		moved    bool
		why      string
	}{
		{"", false, "canary 8 has not been analysed yet"},
		{`{"canary": "8", "stable": "7", "step": 1, "weight": 50}`, false, "canary 8 is at step 2 of 2 (50%)"},
		{`{"canary": "8", "stable": "7", "step": 0, "weight": 0, "done": "rolled_back"}`, false, "rolled 8 back"},
		{`{"canary": "8", "stable": "7", "step": 1, "weight": 100, "done": "promoted"}`, true, ""},
	} {
		if c.progress != "" {
			must(t, st.PutRecord(ctx, "rollout.progress", "fraud-api", []byte(c.progress)))
		}
		res, err := PlanAndApply(ctx, b, st, opts)
		must(t, err)
		v, _, _ := st.GetPointer(ctx, "models/fraud-detector", "prod")
		if (v == "8") != c.moved {
			t.Fatalf("progress %s: prod at %s", c.progress, v)
		}
		if !c.moved && (len(res.Blocked) != 1 || !strings.Contains(res.Blocked[0].Status, c.why)) {
			t.Errorf("progress %s: blocked %+v", c.progress, res.Blocked)
		}
	}
}

// The same gate holds a prompt label a progressive canary serves.
func TestPromotionGateOnPromptLabels(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	b := testBundle("1.0.0")
	_, err := st.RegisterPromptVersion(ctx, promptVersionOf(t, b))
	must(t, err)
	must(t, st.SetPointer(ctx, "prompts/answer", "prod", "", "1.0.0"))
	b = testBundle("1.1.0")
	_, err = st.RegisterPromptVersion(ctx, promptVersionOf(t, b))
	must(t, err)
	must(t, st.SetPointer(ctx, "prompts/answer", "staging", "", "1.1.0"))
	b.Prompts["answer"].Labels = map[string]string{"prod": "1.1.0", "staging": "1.1.0"}
	b.Deployments = map[string]*compiler.Deployment{"chat": {Name: "chat", Prompt: "answer", Alias: "prod", Namespace: "ai",
		Rollout: compiler.Rollout{Strategy: "canary", Candidate: "staging", Steps: []compiler.RolloutStep{{Weight: 10, Pause: "1h"}}}}}
	p, err := BuildPlan(ctx, b, st, Options{Approvals: 1})
	must(t, err)
	var found bool
	for _, a := range p.Actions {
		if a.Type == MovePromptLabel && a.Name == "prod" {
			found = true
			if a.Ready() || !strings.Contains(a.Status, "rollout chat: canary 1.1.0 has not been analysed yet") {
				t.Errorf("prod label move: %s", a.Status)
			}
		}
	}
	if !found {
		t.Fatalf("no prod label move in %+v", p.Actions)
	}
}
