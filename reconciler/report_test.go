package reconciler

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/compiler"
)

func TestReport(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	seed(t, st)
	root := t.TempDir()
	_, err := PlanAndApply(ctx, fullBundle(root), st, fullOptions(&fakeRunner{}))
	must(t, err)
	b := fullBundle(root)
	evil := `<script>alert("x")</script>`
	b.Governance.Waivers = []compiler.Waiver{
		{Policy: "owners", Target: "models/fraud", Reason: evil, Approver: "@lead", Expires: "2026-03-10"},
		{Policy: "slo", Target: "deployments/x", Reason: "r", Approver: "@lead", Expires: "2026-12-31"},
		{Policy: "slo", Target: "deployments/y", Reason: "r", Approver: "@lead", Expires: "2026-01-01"},
		{Policy: "slo", Target: "deployments/z", Reason: "r", Approver: "@lead", Expires: "soon"},
	}
	b.Models["fraud"].Aliases["prod"] = "8" // a difference between specs and state
	r, err := BuildReport(ctx, b, st, t0)
	must(t, err)
	if !r.Audit.Verified || r.Audit.Entries != 9 {
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
	var prodModel *Served
	for i, s := range r.Served {
		if s.Object == "models/fraud" && s.Name == "prod" {
			prodModel = &r.Served[i]
		}
	}
	if prodModel == nil || len(prodModel.Gates) != 4 {
		t.Fatalf("served models/fraud prod = %+v", prodModel)
	}
	for _, g := range prodModel.Gates {
		if g.Status != GatePassed {
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
	if !strings.Contains(md.String(), "| models/fraud | aliases.prod | 8 | 7 |") {
		t.Errorf("markdown lacks the difference row:\n%s", md.String())
	}
	_ = time.Second
}

// The approvals a move had are read from its audit entry, and an alias a
// deployment serves as its canary candidate lists that deployment.
func TestReportApprovalsAndCandidates(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	seed(t, st)
	root := t.TempDir()
	_, err := PlanAndApply(ctx, fullBundle(root), st, fullOptions(&fakeRunner{}))
	must(t, err)
	b := fullBundle(root)
	ten := 10
	b.Deployments = map[string]*compiler.Deployment{
		"answer-api": {Name: "answer-api", Prompt: "answer", Alias: "prod", Rollout: compiler.Rollout{Strategy: "canary", Candidate: "staging", TrafficPercent: &ten}},
		"fraud-api":  {Name: "fraud-api", Model: "fraud", Alias: "prod", Rollout: compiler.Rollout{Strategy: "direct"}},
	}
	b.Models["fraud"].Gates["staging"] = compiler.Gate{Metrics: map[string]string{"auc": ">= 0.90"}, Approvals: 2} // required after the move
	r, err := BuildReport(ctx, b, st, t0)
	must(t, err)
	got := map[string]Served{}
	for _, s := range r.Served {
		got[s.Object+" "+s.Name] = s
	}
	approvals := func(s Served) *GateCheck {
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
		{"prompts/answer prod", "answer-api", GatePassed, "1 of 1 required approvals (recorded at the move by test on 2026-03-01T12:00:"},
		{"prompts/answer staging", "answer-api (canary 10%)", "", ""},
		{"models/fraud prod", "fraud-api", "", ""},
		{"models/fraud staging", "", GateFailed, "2 required; none recorded at the move by test"},
	} {
		s, ok := got[tc.key]
		if !ok {
			t.Fatalf("%s not served: %+v", tc.key, r.Served)
		}
		if d := strings.Join(s.Deployments, ", "); d != tc.deployments {
			t.Errorf("%s deployments = %q, want %q", tc.key, d, tc.deployments)
		}
		g := approvals(s)
		switch {
		case tc.status == "" && g != nil:
			t.Errorf("%s: unexpected approvals gate %+v", tc.key, g)
		case tc.status != "" && (g == nil || g.Status != tc.status || !strings.HasPrefix(g.Detail, tc.detail)):
			t.Errorf("%s approvals = %+v, want %s %q…", tc.key, g, tc.status, tc.detail)
		}
	}
	var md bytes.Buffer
	must(t, WriteReport(&md, r, "md"))
	if !strings.Contains(md.String(), "answer-api (canary 10%)") || !strings.Contains(md.String(), "approvals: 1 of 1 required approvals") {
		t.Errorf("markdown:\n%s", md.String())
	}
}
