package lineage

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/cairn-dev/cairn/data"
	"github.com/cairn-dev/cairn/reconciler"
	"github.com/cairn-dev/cairn/state"
)

// olHistory appends what two applies, an eval, two training triggers (the
// first superseded) and a registration write to the audit log.
func olHistory(t *testing.T) state.Store {
	t.Helper()
	ctx := context.Background()
	st, err := state.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	at := t0
	add := func(action, object, after string) {
		t.Helper()
		at = at.Add(time.Minute)
		if _, err := st.AppendAudit(ctx, state.AuditEntry{Time: at, Actor: "ci", Action: action, Object: object, After: after}); err != nil {
			t.Fatal(err)
		}
	}
	add(reconciler.AuditPolicy, "bundles/sha256:b1", `{"denials":0}`)                                                                                                 // 1
	add("run_eval", "evals/fraud-holdout", `{"run":1,"target":"models/fraud-detector","version":"7","subject":"sha256:aa","passed":true,"dataset_hash":"sha256:d1"}`) // 2
	add("move_model_alias", "models/fraud-detector", `{"name":"prod","version":"7","gates":[]}`)                                                                      // 3
	add(reconciler.ActionServe, "deployments/fraud-api", `{"deployment":"fraud-api"}`)                                                                                // 4
	add("trigger_training", "models/fraud-detector", `{"trigger":"webhook","evidence_id":"drift:1"}`)                                                                 // 5
	add(reconciler.AuditPolicy, "bundles/sha256:b2", `{"denials":0}`)                                                                                                 // 6
	add("trigger_training", "models/fraud-detector", `{"trigger":"webhook","evidence_id":"drift:2"}`)                                                                 // 7: supersedes 5
	add("register_model_version", "models/fraud-detector", `{"version":"8","trigger_id":"drift:2","data_snapshot":"s3://acme-ml/fraud/train.parquet@sha256:ab"}`)     // 8
	at = at.Add(time.Minute)
	if _, err := st.AppendAudit(ctx, state.AuditEntry{Time: at, Actor: "ci", Commit: "8e21b40", Action: reconciler.AuditPolicy, Object: "bundles/sha256:b3",
		After: `{"denials":0,"approvals":1,"approvals_unattributed":true,"repo_url":"https://github.com/acme/fraud-specs.git"}`}); err != nil { // 9
		t.Fatal(err)
	}
	add("move_model_alias", "models/fraud-detector", `{"name":"staging","version":"8","gates":[]}`)                                                                                                           // 10
	add(reconciler.AuditApplyDone, "bundles/sha256:b3", `{"applied":1,"held":[{"action":"move_model_alias models/fraud-detector prod","status":"blocked: explanation: none attached"}]}`)                     // 11
	add(reconciler.AuditPolicy, "bundles/sha256:b4", `{"denials":0,"approvals":0}`)                                                                                                                           // 12
	add(reconciler.AuditApplyDone, "bundles/sha256:b4", `{"applied":0,"held":[],"error":"run_eval evals/x: provider unreachable"}`)                                                                           // 13
	add(reconciler.AuditApplyDenied, "bundles/sha256:b5", `{"denials":[{"policy":"canary_traffic","target":"deployments/fraud-api","pos":"specs/serving.cue:12:3"}],"approvals":1}`)                          // 14
	add("reconcile", "repos/acme", `{"commit":"c9","result":"applied","reason":""}`)                                                                                                                          // 15: not an apply of its own
	add("reconcile", "repos/acme", `{"commit":"c10","result":"denied","reason":"1 policy denial(s): nothing applied"}`)                                                                                       // 16
	add(data.AuditValidate, "data/fraud-detector", `{"feature_set":"fraud-detector","data":"sha256:dd","bytes":1234,"rows":100,"passed":false,"failures":1,"columns":{"txn-amount":{"rows":100,"nulls":3}}}`) // 17
	return st
}

func export(t *testing.T, st state.Ops, since int64) ([]Event, []byte) {
	t.Helper()
	var evs []Event
	var buf bytes.Buffer
	err := Export(context.Background(), st, "fraud-detection", since, func(ev Event) error {
		evs = append(evs, ev)
		b, err := json.Marshal(ev)
		buf.Write(b)
		buf.WriteByte('\n')
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return evs, buf.Bytes()
}

// olSchemas compiles the OpenLineage spec and facet schemas from testdata,
// and cairn's own facets from docs, with formats asserted.
var olSchemas = sync.OnceValues(func() (*jsonschema.Compiler, error) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	files := map[string]string{
		"https://openlineage.io/spec/2-0-2/OpenLineage.json":                                "../testdata/openlineage/OpenLineage.json",
		"https://openlineage.io/spec/facets/2-0-4/JobTypeJobFacet.json":                     "../testdata/openlineage/JobTypeJobFacet.json",
		"https://openlineage.io/spec/facets/1-2-0/ParentRunFacet.json":                      "../testdata/openlineage/ParentRunFacet.json",
		"https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json":          "../testdata/openlineage/DatasetVersionDatasetFacet.json",
		"https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json":                "../testdata/openlineage/ErrorMessageRunFacet.json",
		"https://openlineage.io/spec/facets/1-0-0/ExecutionParametersRunFacet.json":         "../testdata/openlineage/ExecutionParametersRunFacet.json",
		"https://openlineage.io/spec/facets/1-1-0/SourceCodeLocationJobFacet.json":          "../testdata/openlineage/SourceCodeLocationJobFacet.json",
		"https://openlineage.io/spec/facets/1-0-3/DataQualityMetricsInputDatasetFacet.json": "../testdata/openlineage/DataQualityMetricsInputDatasetFacet.json",
		strings.TrimSuffix(CairnFacetSchema, "#"):                                           "../docs/openlineage/CairnFacets.json",
	}
	for url, file := range files {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if err := c.AddResource(url, doc); err != nil {
			return nil, err
		}
	}
	return c, nil
})

func validate(t *testing.T, schemaURL string, v any) {
	t.Helper()
	c, err := olSchemas()
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(schemaURL)
	if err != nil {
		t.Fatalf("%s: %v", schemaURL, err)
	}
	b, _ := json.Marshal(v)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(inst); err != nil {
		t.Errorf("%s:\n%s\n%v", schemaURL, b, err)
	}
}

// TestOpenLineageExport: every event is a valid RunEvent and every facet
// valid against its own schema; the runs mean what the log says; exporting
// twice gives identical bytes; --since leaves out what earlier entries made.
func TestOpenLineageExport(t *testing.T) {
	st := olHistory(t)
	evs, first := export(t, st, 0)
	var got []string
	for _, ev := range evs {
		validate(t, ev.SchemaURL, ev)
		for _, facets := range []map[string]any{ev.Run.Facets, ev.Job.Facets} {
			for _, f := range facets {
				validate(t, f.(map[string]any)["_schemaURL"].(string), f)
			}
		}
		for _, d := range append(append([]olData{}, ev.Inputs...), ev.Outputs...) {
			for _, f := range d.Facets {
				validate(t, f.(map[string]any)["_schemaURL"].(string), f)
			}
			for _, f := range d.InputFacets {
				validate(t, f.(map[string]any)["_schemaURL"].(string), f)
			}
		}
		got = append(got, fmt.Sprintf("#%d %s %s", ev.Seq, ev.EventType, ev.Job.Name))
	}
	want := []string{
		"#1 START apply", "#2 START eval/fraud-holdout", "#2 COMPLETE eval/fraud-holdout", "#5 START train/fraud-detector",
		"#5 COMPLETE apply", "#6 START apply", "#7 ABORT train/fraud-detector", "#7 START train/fraud-detector",
		"#8 COMPLETE train/fraud-detector", "#7 COMPLETE apply",
		"#9 START apply", "#11 COMPLETE apply", "#12 START apply", "#13 FAIL apply", "#14 START apply", "#14 FAIL apply",
		"#16 START apply", "#16 FAIL apply", "#17 START validate/fraud-detector", "#17 COMPLETE validate/fraud-detector",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The eval is a child of its apply; the apply outputs the version it moved;
	// the training run outputs the version registered with its trigger's id.
	if p := evs[1].Run.Facets["parent"].(map[string]any)["run"].(map[string]any)["runId"]; p != evs[0].Run.RunID {
		t.Errorf("eval's parent %v, want the apply %s", p, evs[0].Run.RunID)
	}
	if o := evs[4].Outputs; len(o) != 1 || o[0].Name != "models/fraud-detector" || o[0].Namespace != "cairn://fraud-detection" {
		t.Errorf("apply outputs %+v", o)
	}
	if o := evs[8].Outputs; len(o) != 1 || o[0].Facets["version"].(map[string]any)["datasetVersion"] != "8" || evs[8].Run.RunID != evs[7].Run.RunID {
		t.Errorf("training completion %+v", evs[8])
	}
	if in := evs[8].Inputs; len(in) != 1 || in[0].Namespace != "s3://acme-ml" || in[0].Name != "fraud/train.parquet" || in[0].Facets["version"].(map[string]any)["datasetVersion"] != "sha256:ab" {
		t.Errorf("training inputs %+v, want the data snapshot named by its URI", in)
	}
	if evs[6].Run.RunID != evs[3].Run.RunID {
		t.Error("the ABORT is not of the superseded run")
	}
	if !strings.HasPrefix(evs[0].Run.RunID[14:15], "7") {
		t.Errorf("run id %s is not a UUIDv7", evs[0].Run.RunID)
	}
	if !bytes.Contains(first, []byte(`"datasetVersion":"sha256:d1"`)) || bytes.Contains(first, []byte(`"summary"`)) || bytes.Contains(first, []byte(`"metrics"`)) {
		t.Error("events carry names and digests (the eval dataset's), never results or text")
	}
	_, again := export(t, st, 0)
	if !bytes.Equal(first, again) {
		t.Fatal("exporting twice gave different bytes")
	}
	later, _ := export(t, st, 5)
	for _, ev := range later {
		if ev.Seq <= 5 {
			t.Errorf("--since 5 emitted %s of entry #%d", ev.EventType, ev.Seq)
		}
	}
	if len(later) != 15 {
		t.Errorf("--since 5: %d events, want 15", len(later))
	}
	// An apply says what started it and with what (approvals, the specs'
	// repository and commit), what it held back, and why it failed.
	byIdx := func(i int) Event { return evs[i] }
	start9, done11 := byIdx(10), byIdx(11)
	if loc := start9.Job.Facets["sourceCodeLocation"].(map[string]any); loc["url"] != "https://github.com/acme/fraud-specs.git" || loc["version"] != "8e21b40" {
		t.Errorf("sourceCodeLocation %v", loc)
	}
	if p := start9.Run.Facets["executionParameters"].(map[string]any)["parameters"].([]map[string]any); len(p) != 2 || p[0]["key"] != "approvals" || p[0]["value"] != "1" ||
		p[1]["key"] != "approved_by" || !strings.Contains(p[1]["value"].(string), "unattributed") {
		t.Errorf("executionParameters %v", p)
	}
	if h := done11.Run.Facets["cairn_held"].(map[string]any)["held"].([]map[string]any); len(h) != 1 || h[0]["action"] != "move_model_alias models/fraud-detector prod" {
		t.Errorf("held %v", h)
	}
	if _, ok := start9.Run.Facets["cairn_held"]; ok {
		t.Error("the START event gained the COMPLETE's facet")
	}
	if _, ok := byIdx(12).Job.Facets["sourceCodeLocation"]; ok {
		t.Error("sourceCodeLocation without a known repository URL")
	}
	if m := byIdx(13).Run.Facets["errorMessage"].(map[string]any)["message"]; m != "run_eval evals/x: provider unreachable" {
		t.Errorf("failed apply's errorMessage %v", m)
	}
	if m := byIdx(15).Run.Facets["errorMessage"].(map[string]any)["message"]; m != "denied by the policy check: canary_traffic on deployments/fraud-api (specs/serving.cue:12:3)" {
		t.Errorf("denied apply's errorMessage %v", m)
	}
	if m := byIdx(17).Run.Facets["errorMessage"].(map[string]any)["message"]; m != "reconcile: denied by the policy check: 1 policy denial(s): nothing applied" {
		t.Errorf("denied reconcile's errorMessage %v", m)
	}
	dq := byIdx(19).Inputs[0].InputFacets["dataQualityMetrics"].(map[string]any)
	if dq["rowCount"] != 100 || dq["columnMetrics"].(map[string]any)["txn-amount"].(map[string]any)["nullCount"] != 3 || byIdx(19).Inputs[0].Name != "data/fraud-detector" {
		t.Errorf("validation input %+v", byIdx(19).Inputs[0])
	}
}

// TestOpenLineageDelivery: a Marquez-compatible server that answers 201
// gets every event and delivery reaches the head; a 400 stops it at the
// event, naming it, and only what came before counts as delivered; a dead
// server delivers nothing.
func TestOpenLineageDelivery(t *testing.T) {
	st := olHistory(t)
	evs, _ := export(t, st, 0)
	var mu sync.Mutex
	var bodies []string
	failAt := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path != "/api/v1/lineage" || r.Header.Get("Authorization") != "Bearer t0ken" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		var b bytes.Buffer
		b.ReadFrom(r.Body)
		if failAt > 0 && len(bodies)+1 == failAt {
			http.Error(w, `{"code":400,"message":"eventType must be one of ..."}`, http.StatusBadRequest)
			return
		}
		bodies = append(bodies, b.String())
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	ctx := context.Background()
	done, err := Deliver(ctx, srv.Client(), srv.URL, "t0ken", evs, 0, 8)
	if err != nil || done != 8 || len(bodies) != len(evs) {
		t.Fatalf("all 201: delivered to #%d, %d bodies, err %v", done, len(bodies), err)
	}
	bodies, failAt = nil, 5 // the 5th event: COMPLETE apply of entry #5
	done, err = Deliver(ctx, srv.Client(), srv.URL, "t0ken", evs, 0, 8)
	if err == nil || !strings.Contains(err.Error(), "event 5 (COMPLETE apply of entry #5) answered 400") {
		t.Fatalf("a 400: %v", err)
	}
	if done != 4 { // the events still to send begin with entry #5's
		t.Fatalf("after a 400 at entry #5's event: delivered to #%d, want #4", done)
	}
	srv.Close()
	done, err = Deliver(ctx, http.DefaultClient, srv.URL, "t0ken", evs, 3, 8)
	if err == nil || done != 3 {
		t.Fatalf("a dead server: delivered to #%d, err %v", done, err)
	}
	var ue interface{ Unwrap() error }
	_ = errors.As(err, &ue)
}

// TestOpenLineageTampered: an edited entry stops the export, named.
func TestOpenLineageTampered(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := state.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := 0; i < 3; i++ {
		if _, err := st.AppendAudit(ctx, state.AuditEntry{Time: t0.Add(time.Duration(i) * time.Minute), Actor: "ci", Action: "move_model_alias",
			Object: "models/m", After: fmt.Sprintf(`{"name":"prod","version":"%d"}`, i)}); err != nil {
			t.Fatal(err)
		}
	}
	db, _ := sql.Open("sqlite", path)
	db.Exec(`UPDATE audit_log SET after_doc = '{"name":"prod","version":"9"}' WHERE seq = 2`)
	db.Close()
	err = Export(ctx, st, "p", 0, func(Event) error { return nil })
	var te *TamperedError
	if !errors.As(err, &te) || te.Problem.Seq != 2 {
		t.Fatalf("err = %v, want entry #2 named", err)
	}
}
