package compliance_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/cairn-dev/cairn/audit"
	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/compliance"
	"github.com/cairn-dev/cairn/data"
	"github.com/cairn-dev/cairn/gitops"
	"github.com/cairn-dev/cairn/internal/chromiumtest"
	"github.com/cairn-dev/cairn/reconciler"
	"github.com/cairn-dev/cairn/state"
)

var update = flag.Bool("update", false, "rewrite the golden reports")

// t0 is when the credit team committed its specs.
var t0 = time.Date(2026, 9, 1, 9, 0, 0, 0, time.UTC)

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// commit commits the work tree of dir at the given time.
func commit(t testing.TB, dir, msg string, at time.Time) {
	t.Helper()
	r, err := git.PlainOpen(dir)
	must(t, err)
	wt, err := r.Worktree()
	must(t, err)
	must(t, wt.AddGlob("."))
	sig := &object.Signature{Name: "Risk Lead", Email: "risk-lead@acme.example", When: at}
	_, err = wt.Commit(msg, &git.CommitOptions{Author: sig, Committer: sig, AllowEmptyCommits: true})
	must(t, err)
}

// credit is the credit example as its team runs it: specs and documents
// committed (t0); the gates applied before training, so the thresholds are
// in force first; version 3 registered with its training run, explained
// and its feature set validated (t0 + 1 day); the documents reviewed for
// it (t0 + 2 days); applied with one approval (t0 + 2 days + 1 h).
func credit(t testing.TB) (*compiler.Bundle, state.Store, string) {
	t.Helper()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "credit")
	must(t, os.CopyFS(dir, os.DirFS(filepath.Join("..", "examples", "credit-scoring"))))
	_, err := git.PlainInit(dir, false)
	must(t, err)
	commit(t, dir, "credit-scoring: specs, gates and documents", t0)
	b, ds := compiler.Compile(dir, compiler.Options{})
	if b == nil || len(ds) > 0 {
		t.Fatal(ds)
	}
	st, err := state.OpenSQLite(ctx, filepath.Join(t.TempDir(), "state.db"))
	must(t, err)
	t.Cleanup(func() { st.Close() })
	apply := func(at time.Time, approvals int) *reconciler.Result {
		n := 0
		opts := reconciler.ApplyOptions{Options: reconciler.Plugins(st, reconciler.PluginOptions{Approvals: approvals}), Actor: "ci", Commit: "c0ffee",
			Now: func() time.Time { n++; return at.Add(time.Duration(n) * time.Second) }}
		res, err := reconciler.PlanAndApply(ctx, b, st, opts)
		must(t, err)
		return res
	}
	if res := apply(t0.Add(time.Hour), 1); len(res.Blocked) != 1 {
		t.Fatalf("the first apply, before version 3 exists, should hold the prod move: %+v", res.Blocked)
	}
	day1 := t0.Add(24 * time.Hour)
	_, err = st.RegisterModelVersion(ctx, state.ModelVersion{Model: "credit-scorer", Version: "3", ArtifactURI: "s3://acme-credit/models/credit-scorer/3",
		Metrics: map[string]float64{"auc": 0.81}, Features: b.Models["credit-scorer"].Features, Commit: "3c1d9e2", RegisteredAt: day1, RegisteredBy: "training",
		Run: &state.TrainingRun{Params: map[string]string{"max_depth": "6", "learning_rate": "0.05"}, RepoURL: "https://github.com/acme/credit-model",
			Inputs: []state.DataInput{{URI: "s3://acme-credit/applications-2026-q2.parquet", Digest: "sha256:" + strings.Repeat("5b", 32)}}}})
	must(t, err)
	raw, err := os.ReadFile(filepath.Join(dir, "explanations", "credit-3.json"))
	must(t, err)
	ex, err := state.ParseExplanation(raw)
	must(t, err)
	_, _, err = state.AttachExplanation(ctx, st, "credit-scorer", "3", ex, day1.Add(time.Minute), "training")
	must(t, err)
	feats := map[string]*compiler.Feature{}
	for _, f := range b.Models["credit-scorer"].Features {
		feats[f] = b.Features[f]
	}
	sample := filepath.Join(dir, "data", "sample.csv")
	r, err := data.Open(sample, nil)
	must(t, err)
	rep, err := data.Validate(feats, r)
	r.Close()
	must(t, err)
	fp, err := data.FingerprintFile(sample)
	must(t, err)
	fp.Path = "data/sample.csv"
	rep.Data, rep.FeatureSet = &fp, "credit-scorer"
	must(t, st.Update(ctx, func(tx state.Ops) error {
		return data.RecordValidation(ctx, tx, rep, "training", day1.Add(2*time.Minute))
	}))
	for _, f := range []string{"instructions-for-use", "fria", "post-market-plan"} {
		p := filepath.Join(dir, "compliance", f+".md")
		old, _ := os.ReadFile(p)
		must(t, os.WriteFile(p, append(old, "\nReviewed against credit-scorer version 3.\n"...), 0o644))
	}
	commit(t, dir, "compliance: documents reviewed for credit-scorer 3", t0.Add(48*time.Hour))
	if b, ds = compiler.Compile(dir, compiler.Options{}); b == nil || len(ds) > 0 {
		t.Fatal(ds)
	}
	if res := apply(t0.Add(49*time.Hour), 1); len(res.Blocked) != 0 {
		t.Fatalf("blocked: %+v", res.Blocked)
	}
	return b, st, dir
}

func build(t testing.TB, b *compiler.Bundle, st state.Store, dir string, at time.Time, o compliance.Options) *compliance.Report {
	t.Helper()
	bounds, err := reconciler.JudgeBounds(context.Background(), b, st, dir, reconciler.SystemObjects(b, false))
	must(t, err)
	o.Bounds, o.Dir, o.Now = bounds, dir, at
	r, err := compliance.Build(context.Background(), b, st, o)
	must(t, err)
	return r
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		must(t, os.WriteFile(p, got, 0o644))
		return
	}
	want, err := os.ReadFile(p)
	must(t, err)
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; run go test ./compliance -update and review the diff", p)
	}
}

// TestGoldenReports: the credit example's report per framework and role.
// Each is built twice, byte-identical (a reviewer diffs reports).
func TestGoldenReports(t *testing.T) {
	b, st, dir := credit(t)
	at := t0.Add(10 * 24 * time.Hour)
	for _, tc := range []struct {
		role, framework string
	}{
		{"both", "eu-ai-act"}, {"provider", "eu-ai-act"}, {"deployer", "eu-ai-act"}, {"both", "nist-ai-rmf"}, {"both", "iso-42001"},
	} {
		t.Run(tc.role+"/"+tc.framework, func(t *testing.T) {
			b.Compliance.Systems["credit-decisioning"].Role = tc.role
			var md [2]bytes.Buffer
			for i := range md {
				r := build(t, b, st, dir, at, compliance.Options{Frameworks: []string{tc.framework}})
				must(t, compliance.Write(&md[i], r, "md"))
			}
			if !bytes.Equal(md[0].Bytes(), md[1].Bytes()) {
				t.Fatal("two builds of the same report differ")
			}
			if bytes.Contains(md[0].Bytes(), []byte(dir)) {
				t.Error("the report names the temporary directory")
			}
			golden(t, "credit-"+tc.role+"."+tc.framework+".md", md[0].Bytes())
		})
	}
	b.Compliance.Systems["credit-decisioning"].Role = "both"
	var js bytes.Buffer
	must(t, compliance.Write(&js, build(t, b, st, dir, at, compliance.Options{}), "json"))
	golden(t, "credit.json", js.Bytes())
}

func rowOf(t testing.TB, r *compliance.Report, framework, ref string) compliance.Row {
	t.Helper()
	for _, s := range r.Systems {
		for _, fw := range s.Frameworks {
			if fw.Framework != framework {
				continue
			}
			for _, row := range fw.Rows {
				if row.Ref == ref {
					return row
				}
			}
		}
	}
	t.Fatalf("no row %s in %s", ref, framework)
	return compliance.Row{}
}

func findings(r compliance.Row) string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, f.What+" → "+f.Fix)
	}
	return strings.Join(out, "\n")
}

// TestRecordKeeping: cairn's own log is retained when its verified chain
// spans 184 days and reconcile's daily heartbeats leave no gap over
// max_log_gap; younger is partial with "N of 184 days", a gap is partial
// naming it. The system's serving log is shown as declared.
func TestRecordKeeping(t *testing.T) {
	ctx := context.Background()
	b, st, dir := credit(t)
	// Heartbeats, daily, from the first apply on.
	beat := func(from time.Time, days int, skip map[int]bool) {
		for d := 1; d <= days; d++ {
			if skip[d] {
				continue
			}
			_, err := st.AppendAudit(ctx, state.AuditEntry{Time: from.Add(time.Duration(d) * 24 * time.Hour), Actor: "cairn-reconcile", Action: compliance.HeartbeatAction, Object: "cairn"})
			must(t, err)
		}
	}
	young := build(t, b, st, dir, t0.Add(30*24*time.Hour), compliance.Options{})
	if row := rowOf(t, young, "eu-ai-act", "Art 19"); row.Status != compliance.Partial || !strings.Contains(findings(row), "spans 29 of 184 days") {
		t.Errorf("a 29-day log: Art 19 %s\n%s", row.Status, findings(row))
	}
	start := t0.Add(49 * time.Hour)
	beat(start, 200, map[int]bool{90: true, 91: true}) // two days missed
	at := start.Add(200*24*time.Hour + 12*time.Hour)   // half a day after the last heartbeat
	gap := build(t, b, st, dir, at, compliance.Options{})
	row := rowOf(t, gap, "eu-ai-act", "Art 12")
	want := "a gap of 3d between heartbeats from " + state.FormatTime(start.Add(89*24*time.Hour)) + ", over max_log_gap 2d"
	if row.Status != compliance.Partial || !strings.Contains(findings(row), want) {
		t.Errorf("a gap: Art 12 %s\n%s\nwant %q", row.Status, findings(row), want)
	}
	// A max_log_gap the gap fits in: the log is retained, Art 12 evidenced.
	b.Compliance.MaxLogGap = "4d"
	ok := build(t, b, st, dir, at, compliance.Options{})
	if row := rowOf(t, ok, "eu-ai-act", "Art 12"); row.Status != compliance.Evidenced {
		t.Errorf("a %d-day log with no gap over 4d: Art 12 %s\n%s\n%+v", ok.Log.RetainedDays, row.Status, findings(row), ok.Log)
	}
	if !strings.Contains(strings.Join(rowOf(t, ok, "eu-ai-act", "Art 12").Evidence, "\n"), "declared (not verified by cairn): s3://acme-credit-logs/credit-api/") {
		t.Error("the serving log is not shown as declared")
	}
	// No serving log declared: the per-use logs of Art 12, 19 and 26(6) are partial at best.
	b.Compliance.Systems["credit-decisioning"].ServingLog = nil
	none := build(t, b, st, dir, at, compliance.Options{})
	for _, ref := range []string{"Art 12", "Art 19", "Art 26(6)"} {
		if row := rowOf(t, none, "eu-ai-act", ref); row.Status != compliance.Partial || !strings.Contains(findings(row), "does not declare where its per-use serving log lives") {
			t.Errorf("no serving log: %s %s\n%s", ref, row.Status, findings(row))
		}
	}
}

// TestTamperedLogRefused: a report over a log that does not verify is
// refused, naming the entry — whole, and from a checkpoint.
func TestTamperedLogRefused(t *testing.T) {
	ctx := context.Background()
	b, st, dir := credit(t)
	bounds, _ := reconciler.JudgeBounds(ctx, b, st, dir, nil)
	opts := compliance.Options{Now: t0.Add(10 * 24 * time.Hour), Dir: dir, Bounds: bounds}
	db := st.(interface{ DB() *sql.DB }).DB()
	_, err := db.Exec(`UPDATE audit_log SET after_doc = '{"name":"prod","version":"2"}' WHERE seq = 7`)
	must(t, err)
	_, err = compliance.Build(ctx, b, st, opts)
	var te *compliance.TamperedError
	if !errors.As(err, &te) || te.Problem.Seq != 7 || !strings.Contains(err.Error(), "audit log tampered at entry #7") {
		t.Fatalf("Build over an edited entry: %v", err)
	}
	// A checkpoint whose entry no longer has the hash it recorded is refused too.
	cp, _ := json.Marshal(state.Checkpoint{Seq: 20, Hash: "sha256:" + strings.Repeat("0", 64), At: t0})
	must(t, st.PutRecord(ctx, state.CheckpointKind, "head", cp))
	if _, err := compliance.Build(ctx, b, st, opts); !errors.As(err, &te) || te.Problem.Seq != 20 || !strings.Contains(err.Error(), "differs from the checkpoint") {
		t.Fatalf("Build with a checkpoint the log no longer matches: %v", err)
	}
	// From a true checkpoint, an entry edited after it is named.
	var e20 state.AuditEntry
	must(t, st.ScanAudit(ctx, state.AuditQuery{AfterSeq: 19, Limit: 1}, func(e state.AuditEntry) error { e20 = e; return nil }))
	cp, _ = json.Marshal(state.Checkpoint{Seq: 20, Hash: e20.Hash, At: t0})
	must(t, st.PutRecord(ctx, state.CheckpointKind, "head", cp))
	_, err = db.Exec(`UPDATE audit_log SET actor = 'mallory' WHERE seq = 25`)
	must(t, err)
	if _, err := compliance.Build(ctx, b, st, opts); !errors.As(err, &te) || te.Problem.Seq != 25 {
		t.Fatalf("Build with an entry edited after the checkpoint: %v", err)
	}
}

// TestJSONSchema: the JSON report validates against its documented schema.
func TestJSONSchema(t *testing.T) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	sch, err := c.Compile(filepath.Join("..", "docs", "compliance-report.schema.json"))
	must(t, err)
	raw, err := os.ReadFile(filepath.Join("testdata", "credit.json"))
	must(t, err)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	must(t, err)
	if err := sch.Validate(doc); err != nil {
		t.Fatalf("testdata/credit.json does not follow docs/compliance-report.schema.json: %v", err)
	}
	// The schema is not vacuous: an unknown status is refused.
	bad := bytes.Replace(raw, []byte(`"status": "evidenced"`), []byte(`"status": "fine"`), 1)
	doc, _ = jsonschema.UnmarshalJSON(bytes.NewReader(bad))
	if sch.Validate(doc) == nil {
		t.Fatal("the schema accepts status \"fine\"")
	}
}

// TestHTMLInChromium: the HTML report — alone and inside the audit
// report — loads in headless Chromium with no console error and no
// network request, and shows hostile strings from the specs as text.
func TestHTMLInChromium(t *testing.T) {
	chromiumtest.Chromium(t)
	ctx := context.Background()
	b, st, dir := credit(t)
	evil := `<script>alert(1)</script><img src=http://evil.example/x.png>`
	s := b.Compliance.Systems["credit-decisioning"]
	s.IntendedPurpose = "Score applicants " + evil
	s.Oversight.Who = `officers" onmouseover="alert(1)`
	r := build(t, b, st, dir, t0.Add(10*24*time.Hour), compliance.Options{Frameworks: []string{"eu-ai-act", "nist-ai-rmf"}})
	var alone bytes.Buffer
	must(t, compliance.Write(&alone, r, "html"))
	ar, err := audit.BuildReport(ctx, b, st, t0.Add(10*24*time.Hour))
	must(t, err)
	var embedded bytes.Buffer
	must(t, (&gitops.AuditReport{Report: ar, Source: "credit", Compliance: r}).Write(&embedded, "html"))
	for name, html := range map[string][]byte{"compliance-report": alone.Bytes(), "audit-report-with-compliance": embedded.Bytes()} {
		t.Run(name, func(t *testing.T) {
			if bytes.Contains(html, []byte("<script>")) || bytes.Contains(html, []byte(`<img src=http`)) {
				t.Fatal("a spec's string reached the HTML unescaped")
			}
			page := chromiumtest.Open(t, html)
			page.Save(t, name)
			if len(page.Problems) != 0 {
				t.Errorf("problems: %q", page.Problems)
			}
			for _, want := range []string{"System credit-decisioning", "Evidence for a reviewer, not legal advice", "Annex IV 2(g)", "MEASURE 2.11",
				`Score applicants <script>alert(1)</script><img src=http://evil.example/x.png>`, `officers" onmouseover="alert(1)`} {
				if !strings.Contains(page.Text, want) {
					t.Errorf("the page does not show %q", want)
				}
			}
		})
	}
}

// TestScope: a system not listed in Annex III gets no high-risk rows, an
// Art 6(3) exemption likewise; Art 50 and AI 600-1's generative-AI risks
// apply to a system that serves prompts, judged by the disclosure.
func TestScope(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "support")
	must(t, os.CopyFS(dir, os.DirFS(filepath.Join("..", "examples", "support-assistant"))))
	must(t, os.WriteFile(filepath.Join(dir, "specs", "compliance.cue"), []byte(`package support

compliance: {
	frameworks: ["eu-ai-act", "nist-ai-rmf"]
	systems: "support-chat": {
		deployments: ["support-bot"]
		role:        "deployer"
		annex_iii:   "not_listed"
		profiling:   false
	}
}
`), 0o644))
	b, ds := compiler.Compile(dir, compiler.Options{})
	if b == nil || len(ds) > 0 {
		t.Fatal(ds)
	}
	st, err := state.OpenSQLite(ctx, filepath.Join(t.TempDir(), "state.db"))
	must(t, err)
	defer st.Close()
	at := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	r := build(t, b, st, dir, at, compliance.Options{})
	if row := rowOf(t, r, "eu-ai-act", "Art 26(2)"); row.Status != compliance.NotApplicable || row.Reason != "not a high-risk system (Annex III: not listed)" {
		t.Errorf("Art 26(2) of a system not listed: %s %q", row.Status, row.Reason)
	}
	art50 := rowOf(t, r, "eu-ai-act", "Art 50(1)")
	if art50.Status != compliance.Missing || !strings.Contains(findings(art50), "prompts served to people without an AI disclosure: support-answer") {
		t.Errorf("Art 50 without a disclosure: %s\n%s", art50.Status, findings(art50))
	}
	// The support example gates prod on a factuality eval: confabulation is measured.
	if row := rowOf(t, r, "nist-ai-rmf", "AI 600-1 Confabulation"); row.Status != compliance.Evidenced || !strings.Contains(strings.Join(row.Evidence, "\n"), "support-quality") {
		t.Errorf("GAI confabulation: %s %v", row.Status, row.Evidence)
	}
	// The deployment declares it does not talk to people: Art 50 holds.
	f := false
	b.Deployments["support-bot"].InteractsWithPeople = &f
	r = build(t, b, st, dir, at, compliance.Options{})
	if row := rowOf(t, r, "eu-ai-act", "Art 50(1)"); row.Status != compliance.Evidenced {
		t.Errorf("Art 50 with interacts_with_people: false: %s\n%s", row.Status, findings(row))
	}
	// An exempted listed system: the high-risk rows say so.
	s := b.Compliance.Systems["support-chat"]
	s.AnnexIII, s.HighRisk, s.Exemption63 = "4a", false, &compiler.Exemption63{AssessmentFile: "README.md"}
	r = build(t, b, st, dir, at, compliance.Options{})
	if row := rowOf(t, r, "eu-ai-act", "Art 26(5)"); row.Status != compliance.NotApplicable || row.Reason != "exempted under Art 6(3)" {
		t.Errorf("Art 26(5) of an exempted system: %s %q", row.Status, row.Reason)
	}
	if _, err := compliance.Build(ctx, b, st, compliance.Options{Now: at, Frameworks: []string{"sox"}}); err == nil || !strings.Contains(err.Error(), `unknown framework "sox"`) {
		t.Errorf("an unknown framework: %v", err)
	}
}

// TestIncidentsAndApprovals: Art 73 lists each rollback and alert with its
// 15/10/2-day deadlines, and an incident register older than the last of
// them is partial; approvals named by the pull request make the approvals
// evidence whole, a count (--approvals N) only partial; a waiver on the
// system's objects is shown with approver and expiry.
func TestIncidentsAndApprovals(t *testing.T) {
	ctx := context.Background()
	b, st, dir := credit(t)
	rb := t0.Add(5 * 24 * time.Hour)
	_, err := st.AppendAudit(ctx, state.AuditEntry{Time: rb, Actor: "cairn-reconcile", Action: "rollout_rollback", Object: "deployments/credit-api", After: `{"reason":"error-rate"}`})
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "compliance", "incidents.md"), []byte("# Incident register\n"), 0o644))
	commit(t, dir, "incident register", t0.Add(72*time.Hour))
	b.Compliance.Systems["credit-decisioning"].Files.IncidentRegister = "compliance/incidents.md"
	b.Files["compliance/incidents.md"] = "sha256:" + strings.Repeat("ab", 32)
	b.Governance.Waivers = []compiler.Waiver{{Policy: "prod_slo", Target: "deployments/credit-api", Reason: "SLO agreed next quarter", Approver: "@acme/sre", Expires: "2026-12-31"}}
	r := build(t, b, st, dir, t0.Add(10*24*time.Hour), compliance.Options{Frameworks: []string{"eu-ai-act"}})
	row := rowOf(t, r, "eu-ai-act", "Art 73")
	ev := strings.Join(row.Evidence, "\n")
	if row.Status != compliance.Partial || !strings.Contains(ev, "rollback of credit-api at 2026-09-06T09:00:00Z") ||
		!strings.Contains(ev, "report by 2026-09-21 (15 days; 10 if a death, by 2026-09-16; 2 if widespread, by 2026-09-08)") ||
		!strings.Contains(findings(row), "older than the last rollback or alert (2026-09-06T09:00:00Z)") {
		t.Errorf("Art 73: %s\n%s\n%s", row.Status, ev, findings(row))
	}
	if row := rowOf(t, r, "eu-ai-act", "Annex IV 6"); !strings.Contains(findings(row), "1 approval(s) given as a count, naming nobody") {
		t.Errorf("counted approvals: %s", findings(row))
	}
	if row := rowOf(t, r, "eu-ai-act", "Art 9"); !strings.Contains(strings.Join(row.Evidence, "\n"), "waiver of prod_slo on deployments/credit-api, approved by @acme/sre, expires 2026-12-31: SLO agreed next quarter") {
		t.Errorf("the waiver is not evidence: %v", row.Evidence)
	}

	// Version 4, moved by an apply that names its reviewers.
	_, err = st.RegisterModelVersion(ctx, state.ModelVersion{Model: "credit-scorer", Version: "4", ArtifactURI: "s3://m/4", Metrics: map[string]float64{"auc": 0.82},
		RegisteredAt: t0.Add(6 * 24 * time.Hour)})
	must(t, err)
	raw, _ := os.ReadFile(filepath.Join(dir, "explanations", "credit-3.json"))
	ex, _ := state.ParseExplanation(raw)
	_, _, err = state.AttachExplanation(ctx, st, "credit-scorer", "4", ex, t0.Add(6*24*time.Hour), "training")
	must(t, err)
	b.Models["credit-scorer"].Aliases["prod"] = "4"
	lines := "application_id,model_version,defaulted,score,age_band\n"
	old, _ := os.ReadFile(filepath.Join(dir, "evals", "holdout-predictions.csv"))
	for _, l := range strings.Split(strings.TrimSpace(string(old)), "\n")[1:] {
		lines += l + "\n" + strings.Replace(l, ",3,", ",4,", 1) + "\n"
	}
	must(t, os.WriteFile(filepath.Join(dir, "evals", "holdout-predictions.csv"), []byte(lines), 0o644))
	b, ds := compiler.Compile(dir, compiler.Options{})
	if b == nil || len(ds) > 0 {
		t.Fatal(ds)
	}
	b.Models["credit-scorer"].Aliases["prod"] = "4"
	n := 0
	opts := reconciler.ApplyOptions{Options: reconciler.Plugins(st, reconciler.PluginOptions{Approvals: 1}), Actor: "ci",
		ApprovedBy: []reconciler.Approver{{Login: "risk-lead", At: t0.Add(7 * 24 * time.Hour)}},
		Now:        func() time.Time { n++; return t0.Add(7*24*time.Hour + time.Duration(n)*time.Second) }}
	res, err := reconciler.PlanAndApply(ctx, b, st, opts)
	must(t, err)
	if len(res.Blocked) > 0 {
		t.Fatalf("blocked: %+v", res.Blocked)
	}
	r = build(t, b, st, dir, t0.Add(10*24*time.Hour), compliance.Options{Frameworks: []string{"eu-ai-act"}})
	row = rowOf(t, r, "eu-ai-act", "Annex IV 6")
	if row.Status != compliance.Evidenced || !strings.Contains(strings.Join(row.Evidence, "\n"), "approved by risk-lead at 2026-09-08T09:00:00Z") {
		t.Errorf("named approvals: %s\n%v\n%s", row.Status, row.Evidence, findings(row))
	}
}

// TestEmbeddedHead: every written report names the head it was built on,
// with or without a compliance section, in each format.
func TestEmbeddedHead(t *testing.T) {
	h := "sha256:" + strings.Repeat("ab", 32)
	for _, doc := range []string{
		"Audit log: 12 entries, chain verified (head `" + h + "`) <!-- cairn-audit-head: #12 " + h + " -->.",
		`<code data-cairn-audit-head="cairn-audit-head: #12 ` + h + `">`,
		`{"format_version": 1, "audit": {"entries": 12, "head": "` + h + `", "verified": true}}`,
		`{"compliance": {"cairn_audit_head": "#12 ` + h + `"}}`,
	} {
		if seq, head, ok := compliance.EmbeddedHead([]byte(doc)); !ok || seq != 12 || head != h {
			t.Errorf("EmbeddedHead(%.60q) = %d %s %t", doc, seq, head, ok)
		}
	}
	if _, _, ok := compliance.EmbeddedHead([]byte("no head here")); ok {
		t.Error("a document without a head has one")
	}
}
