package gitops

import (
	"context"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/compliance"
	"github.com/cairn-dev/cairn/state"
)

// TestComplianceMetricsAndHeartbeat: a reconcile of specs that declare AI
// systems exports each system's rows by framework and status, and appends
// one heartbeat per UTC day however often it runs.
func TestComplianceMetricsAndHeartbeat(t *testing.T) {
	f := newFixture(t)
	f.repo = newSpecRepo(t, "credit-scoring")
	f.cfg.Source = f.repo.dir
	f.cfg.Metrics = NewMetrics()
	now := fixedNow
	f.cfg.Now = func() time.Time { return now }
	r := f.reconciler(t)
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()

	run := r.RunOnce(context.Background())
	if run.Compliance == nil || len(run.Compliance.Systems) != 1 {
		t.Fatalf("the run has no compliance report: %+v", run.Problems)
	}
	_, metrics := get(t, srv.URL+"/metrics")
	for _, fw := range []string{"eu-ai-act", "nist-ai-rmf", "iso-42001"} {
		re := regexp.MustCompile(`cairn_compliance_items\{framework="` + fw + `",status="missing",system="credit-decisioning"\} [1-9]`)
		if !re.MatchString(metrics) {
			t.Errorf("/metrics lacks the missing rows of %s:\n%s", fw, metrics)
		}
	}
	heartbeats := func() int {
		n := 0
		if err := f.st.ScanAudit(context.Background(), state.AuditQuery{Action: compliance.HeartbeatAction}, func(state.AuditEntry) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	now = now.Add(3 * time.Hour)
	r.RunOnce(context.Background())
	if n := heartbeats(); n != 1 {
		t.Errorf("two runs on one day: %d heartbeats, want 1", n)
	}
	now = now.Add(24 * time.Hour)
	r.RunOnce(context.Background())
	if n := heartbeats(); n != 2 {
		t.Errorf("a run the next day: %d heartbeats, want 2", n)
	}
}
