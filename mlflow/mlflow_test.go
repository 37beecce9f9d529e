package mlflow

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/state"
)

// server answers as MLflow 3's REST API documents (../shared/data/mlflow/
// REST.md): runs, a model version, logged models, MLflow's error shape.
func server(t *testing.T) *httptest.Server {
	t.Helper()
	runs := map[string]string{
		"r-finished": `{"run":{"info":{"run_id":"r-finished","status":"FINISHED","artifact_uri":"s3://mlruns/1/r-finished/artifacts"},
			"data":{"metrics":[{"key":"auc","value":0.93,"timestamp":1,"step":3,"dataset_name":"holdout","dataset_digest":"d7a1"},{"key":"loss","value":0.21,"timestamp":1,"step":3}],
				"params":[{"key":"max_depth","value":"6"},{"key":"eta","value":"0.1"}],
				"tags":[{"key":"mlflow.source.git.commit","value":"8e21b40"},{"key":"mlflow.source.git.branch","value":"main"},
					{"key":"mlflow.source.git.repoURL","value":"https://bot:ghp_x@github.com/acme/fraud-train.git"},{"key":"mlflow.user","value":"ana"}]},
			"inputs":{"dataset_inputs":[{"tags":[{"key":"mlflow.data.context","value":"training"}],
				"dataset":{"name":"txns","digest":"a1b2c3","source_type":"s3","source":"{\"uri\": \"s3://acme/txns.parquet\"}"}}]},
			"outputs":{"model_outputs":[{"model_id":"m-1","step":3}]}}}`,
		"r-two": `{"run":{"info":{"run_id":"r-two","status":"FINISHED"},"data":{"metrics":[],"params":[],"tags":[{"key":"mlflow.source.git.dirty","value":"true"},{"key":"mlflow.source.git.commit","value":"abc"}]},
			"inputs":{},"outputs":{"model_outputs":[{"model_id":"m-1"},{"model_id":"m-2"}]}}}`,
		"r-running": `{"run":{"info":{"run_id":"r-running","status":"RUNNING"},"data":{},"inputs":{}}}`,
		"r-old":     `{"run":{"info":{"run_id":"r-old","status":"FINISHED","artifact_uri":"s3://mlruns/0/r-old"},"data":{"metrics":[{"key":"auc","value":0.9}],"params":[{"key":"C","value":"1.0"}],"tags":[]}}}`,
	}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error_code":"UNAUTHENTICATED","message":"You are not authenticated."}`))
			return
		}
		notFound := func(msg string) {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"` + msg + `"}`))
		}
		switch r.URL.Path {
		case "/api/2.0/mlflow/runs/get":
			if body, ok := runs[r.URL.Query().Get("run_id")]; ok {
				w.Write([]byte(body))
				return
			}
			notFound("Run with id=" + r.URL.Query().Get("run_id") + " not found")
		case "/api/2.0/mlflow/model-versions/get":
			if r.URL.Query().Get("name") == "fraud" && r.URL.Query().Get("version") == "4" {
				w.Write([]byte(`{"model_version":{"name":"fraud","version":"4","source":"models:/m-2","run_id":"r-two","status":"READY","model_id":"m-2"}}`))
				return
			}
			notFound("Model Version not found")
		case "/api/2.0/mlflow/logged-models/m-1":
			w.Write([]byte(`{"model":{"info":{"model_id":"m-1","artifact_uri":"s3://mlruns/1/models/m-1/artifacts","status":"LOGGED_MODEL_READY","source_run_id":"r-finished"}}}`))
		default:
			notFound("no route " + r.URL.Path)
		}
	}))
}

func TestImport(t *testing.T) {
	srv := server(t)
	defer srv.Close()
	c := &Client{BaseURL: srv.URL, Token: "tok"}
	ctx := context.Background()

	got, err := c.Import(ctx, "runs:/r-finished", "")
	if err != nil {
		t.Fatal(err)
	}
	v, run := got.Version, got.Version.Run
	if v.ArtifactURI != "s3://mlruns/1/models/m-1/artifacts" || v.Commit != "8e21b40" || v.Metrics["auc"] != 0.93 || v.Metrics["loss"] != 0.21 {
		t.Errorf("version %+v", v)
	}
	if run.Params["max_depth"] != "6" || run.MetricDatasets["auc"] != "d7a1" || run.MetricDatasets["loss"] != "" || run.Branch != "main" ||
		run.RepoURL != "https://github.com/acme/fraud-train.git" || run.Source != "mlflow runs:/r-finished" {
		t.Errorf("run %+v", run)
	}
	if len(run.Inputs) != 1 || run.Inputs[0] != (state.DataInput{Name: "txns", URI: "s3://acme/txns.parquet", Digest: "a1b2c3", Context: "training"}) {
		t.Errorf("inputs %+v", run.Inputs)
	}
	if len(got.Warnings) != 0 {
		t.Errorf("warnings %v", got.Warnings)
	}

	// A model version: its source is the artifact, its run the rest; a dirty tree warns.
	got, err = c.Import(ctx, "models:/fraud/4", "")
	if err != nil || got.Version.ArtifactURI != "models:/m-2" || got.Version.Commit != "abc" || !got.Version.Run.Dirty ||
		len(got.Warnings) != 1 || !strings.Contains(got.Warnings[0], "uncommitted changes") {
		t.Fatalf("model version: %+v %v", got, err)
	}

	// Older servers: no outputs — the artifact must be given, the rest imports.
	var ue *UsageError
	if _, err := c.Import(ctx, "runs:/r-old", ""); !errors.As(err, &ue) || !strings.Contains(err.Error(), "pass --artifact") {
		t.Errorf("old server without --artifact: %v", err)
	}
	if got, err := c.Import(ctx, "runs:/r-old", "s3://m/old"); err != nil || got.Version.ArtifactURI != "s3://m/old" || got.Version.Run.Params["C"] != "1.0" {
		t.Errorf("old server with --artifact: %+v %v", got, err)
	}

	for _, tc := range []struct{ ref, want string }{
		{"runs:/r-two", "logged 2 models (m-1, m-2): pass --artifact"},
		{"runs:/r-running", "run r-running is RUNNING, not FINISHED"},
		{"runs:/nope", "run nope does not exist (RESOURCE_DOES_NOT_EXIST: Run with id=nope not found)"},
		{"models:/fraud/9", "model version fraud/9 does not exist"},
		{"run:/x", "want runs:/RUN_ID or models:/NAME/VERSION"},
		{"models:/fraud", "want models:/NAME/VERSION"},
	} {
		if _, err := c.Import(ctx, tc.ref, ""); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.ref, err, tc.want)
		}
	}

	noAuth := &Client{BaseURL: srv.URL}
	if _, err := noAuth.Import(ctx, "runs:/r-finished", ""); err == nil || !strings.Contains(err.Error(), "refused the credentials (HTTP 401 UNAUTHENTICATED)") {
		t.Errorf("no credentials: %v", err)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	if _, err := (&Client{BaseURL: dead, Token: "tok"}).Import(ctx, "runs:/r-finished", ""); err == nil || !strings.Contains(err.Error(), "cannot reach "+dead) {
		t.Errorf("a dead port: %v", err)
	}
}
