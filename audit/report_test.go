package audit

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/internal/chromiumtest"
	"github.com/cairn-dev/cairn/state/statetest"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/reconciler"
	"github.com/cairn-dev/cairn/state"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// appliedFraud is the fraud example applied with one approval: versions 7
// (prod) and 8 (staging) registered with passing metrics, the hold-out eval
// run offline, both aliases moved and audited.
func appliedFraud(t *testing.T) (*compiler.Bundle, state.Store) {
	t.Helper()
	ctx := context.Background()
	src := filepath.Join("..", "examples", "fraud-detection")
	dir := filepath.Join(t.TempDir(), "repo")
	must(t, os.CopyFS(dir, os.DirFS(src)))
	b, ds := compiler.Compile(dir, compiler.Options{})
	if len(ds) > 0 {
		t.Fatal(ds)
	}
	st, err := state.OpenSQLite(ctx, filepath.Join(t.TempDir(), "state.db"))
	must(t, err)
	t.Cleanup(func() { st.Close() })
	for v, auc := range map[string]float64{"7": 0.94, "8": 0.95} {
		_, err := st.RegisterModelVersion(ctx, state.ModelVersion{Model: "fraud-detector", Version: v, ArtifactURI: "s3://m/" + v,
			Metrics: map[string]float64{"auc": auc, "false_positive_rate": 0.03}, RegisteredAt: t0})
		must(t, err)
	}
	must(t, statetest.Explain(ctx, st, t0, "fraud-detector", "7", "8"))
	n := 0
	opts := reconciler.ApplyOptions{Options: reconciler.Plugins(st, reconciler.PluginOptions{Approvals: 1}), Actor: "test",
		Now: func() time.Time { n++; return t0.Add(time.Duration(n) * time.Second) }}
	res, err := reconciler.PlanAndApply(ctx, b, st, opts)
	must(t, err)
	if len(res.Blocked) > 0 {
		t.Fatalf("blocked: %+v", res.Blocked)
	}
	return b, st
}

func TestReport(t *testing.T) {
	ctx := context.Background()
	b, st := appliedFraud(t)
	evil := `<script>alert("x")</script>`
	b.Governance.Waivers = []compiler.Waiver{
		{Policy: "owners", Target: "models/fraud-detector", Reason: evil, Approver: "@lead", Expires: "2026-03-10"},
		{Policy: "slo", Target: "deployments/x", Reason: "r", Approver: "@lead", Expires: "2026-12-31"},
		{Policy: "slo", Target: "deployments/y", Reason: "r", Approver: "@lead", Expires: "2026-01-01"},
		{Policy: "slo", Target: "deployments/z", Reason: "r", Approver: "@lead", Expires: "soon"},
	}
	b.Models["fraud-detector"].Aliases["prod"] = "8" // a difference between specs and state
	r, err := BuildReport(ctx, b, st, t0)
	must(t, err)
	log, err := st.ListAudit(ctx)
	must(t, err)
	if !r.Audit.Verified || r.Audit.Entries != len(log) || r.Audit.Head != log[len(log)-1].Hash {
		t.Errorf("audit summary = %+v", r.Audit)
	}
	var statuses []string
	for _, w := range r.Waivers {
		statuses = append(statuses, w.Status)
	}
	if strings.Join(statuses, ",") != "expiring,active,expired,invalid" {
		t.Errorf("waiver statuses = %v", statuses)
	}
	if len(r.Differences) != 1 || r.Differences[0].Field != "aliases.prod" || r.Differences[0].Spec != "8" || r.Differences[0].State != "7" {
		t.Errorf("differences = %+v", r.Differences)
	}
	var prod *Served
	for i, s := range r.Served {
		if s.Object == "models/fraud-detector" && s.Name == "prod" {
			prod = &r.Served[i]
		}
	}
	if prod == nil || len(prod.Gates) != 7 || prod.Gates[3].Gate != "explanation" {
		t.Fatalf("served models/fraud-detector prod = %+v", prod)
	}
	for _, g := range prod.Gates {
		if g.Status != reconciler.GatePassed {
			t.Errorf("evidence %s: %s %s", g.Gate, g.Status, g.Detail)
		}
	}
	var html, md bytes.Buffer
	must(t, WriteReport(&html, r, "html"))
	must(t, WriteReport(&md, r, "md"))
	if strings.Contains(html.String(), "<script>") || !strings.Contains(html.String(), "&lt;script&gt;") {
		t.Error("HTML report does not escape a waiver reason")
	}
	if strings.Contains(md.String(), "<script>") {
		t.Error("Markdown report passes raw HTML through")
	}
	// As a reviewer sees it: no console errors or requests, the figures, and
	// the hostile waiver reason as text.
	page := chromiumtest.Open(t, html.Bytes())
	page.Save(t, "audit-report")
	if len(page.Problems) != 0 {
		t.Errorf("problems: %q", page.Problems)
	}
	for _, want := range []string{"cairn audit report: fraud-detection", "chain verified", evil, "models/fraud-detector", "aliases.prod"} {
		if !strings.Contains(page.Text, want) {
			t.Errorf("the audit page does not show %q:\n%s", want, page.Text)
		}
	}
	if !strings.Contains(md.String(), `| models/fraud-detector | aliases.prod | 8 | 7 |`) {
		t.Errorf("markdown lacks the difference row:\n%s", md.String())
	}
}

// The approvals a move had are read from its audit entry, and an alias a
// deployment serves as its canary candidate lists that deployment.
func TestReportApprovalsAndCandidates(t *testing.T) {
	ctx := context.Background()
	b, st := appliedFraud(t)
	b.Models["fraud-detector"].Gates["staging"] = compiler.Gate{Metrics: map[string]string{"auc": ">= 0.90"}, Approvals: 2} // required after the move
	r, err := BuildReport(ctx, b, st, t0)
	must(t, err)
	got := map[string]Served{}
	for _, s := range r.Served {
		got[s.Object+" "+s.Name] = s
	}
	approvals := func(s Served) *reconciler.GateCheck {
		for i, g := range s.Gates {
			if g.Gate == "approvals" {
				return &s.Gates[i]
			}
		}
		return nil
	}
	for _, tc := range []struct {
		key, deployments, status, detail string
	}{
		{"models/fraud-detector prod", "fraud-api", reconciler.GatePassed, "1 of 1 required approvals (recorded at the move by test on 2026-03-01T12:00:"},
		{"models/fraud-detector staging", "fraud-api (canary 10%)", reconciler.GateFailed, "2 required; none recorded at the move by test"},
	} {
		s, ok := got[tc.key]
		if !ok {
			t.Fatalf("%s not served: %+v", tc.key, r.Served)
		}
		if d := strings.Join(s.Deployments, ", "); d != tc.deployments {
			t.Errorf("%s deployments = %q, want %q", tc.key, d, tc.deployments)
		}
		g := approvals(s)
		if g == nil || g.Status != tc.status || !strings.HasPrefix(g.Detail, tc.detail) {
			t.Errorf("%s approvals = %+v, want %s %q…", tc.key, g, tc.status, tc.detail)
		}
	}
	var md bytes.Buffer
	must(t, WriteReport(&md, r, "md"))
	if !strings.Contains(md.String(), "fraud-api (canary 10%)") || !strings.Contains(md.String(), "approvals: 1 of 1 required approvals") {
		t.Errorf("markdown:\n%s", md.String())
	}
}
