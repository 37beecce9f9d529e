package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRegisterFromMLflow: register --from-mlflow against a loopback server
// answering as MLflow's REST API does: a finished run's model version is
// registered with its metrics, parameters, inputs and commit, and audited;
// a missing run, a running one, two logged models, missing credentials and
// a dead port register nothing.
func TestRegisterFromMLflow(t *testing.T) {
	repo := fraudRepo(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "ana" || p != "pw" {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error_code":"UNAUTHENTICATED","message":"Credentials required"}`))
			return
		}
		q := r.URL.Query()
		switch {
		case r.URL.Path == "/api/2.0/mlflow/model-versions/get" && q.Get("name") == "fraud" && q.Get("version") == "12":
			w.Write([]byte(`{"model_version":{"name":"fraud","version":"12","source":"s3://mlflow/fraud/12","run_id":"r1","status":"READY"}}`))
		case r.URL.Path == "/api/2.0/mlflow/runs/get" && q.Get("run_id") == "r1":
			w.Write([]byte(`{"run":{"info":{"run_id":"r1","status":"FINISHED"},"data":{"metrics":[{"key":"auc","value":0.95,"dataset_digest":"d1"},{"key":"false_positive_rate","value":0.03,"dataset_digest":"d1"}],
				"params":[{"key":"max_depth","value":"6"}],"tags":[{"key":"mlflow.source.git.commit","value":"8e21b40"},{"key":"mlflow.source.git.repoURL","value":"https://github.com/acme/fraud-train"}]},
				"inputs":{"dataset_inputs":[{"tags":[{"key":"mlflow.data.context","value":"training"}],"dataset":{"name":"txns","digest":"a1","source_type":"s3","source":"{\"uri\":\"s3://acme/txns.parquet\"}"}}]}}}`))
		case r.URL.Path == "/api/2.0/mlflow/runs/get" && q.Get("run_id") == "r-running":
			w.Write([]byte(`{"run":{"info":{"run_id":"r-running","status":"RUNNING"},"data":{}}}`))
		case r.URL.Path == "/api/2.0/mlflow/runs/get" && q.Get("run_id") == "r-two":
			w.Write([]byte(`{"run":{"info":{"run_id":"r-two","status":"FINISHED"},"data":{},"outputs":{"model_outputs":[{"model_id":"m-1"},{"model_id":"m-2"}]}}}`))
		default:
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"Run with id=` + q.Get("run_id") + ` not found"}`))
		}
	}))
	defer srv.Close()
	t.Setenv("MLFLOW_TRACKING_URI", srv.URL)
	t.Setenv("MLFLOW_TRACKING_USERNAME", "ana")
	t.Setenv("MLFLOW_TRACKING_PASSWORD", "pw")

	nothing := func(what string) {
		t.Helper()
		if _, out, _ := cli(t, "registry", "list", repo); strings.Contains(out, "fraud-detector  1") {
			t.Errorf("%s registered something:\n%s", what, out)
		}
	}
	for _, tc := range []struct {
		ref  string
		code int
		want string
	}{
		{"runs:/gone", exitDenied, "mlflow: run gone does not exist (RESOURCE_DOES_NOT_EXIST: Run with id=gone not found); nothing registered"},
		{"runs:/r-running", exitDenied, "run r-running is RUNNING, not FINISHED"},
		{"runs:/r-two", exitUsage, "logged 2 models (m-1, m-2): pass --artifact URI"},
		{"runs/r1", exitUsage, "want runs:/RUN_ID or models:/NAME/VERSION"},
	} {
		code, _, errOut := cli(t, "registry", "register", "fraud-detector", repo, "--version", "1", "--from-mlflow", tc.ref)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, %s; want %d and %q", tc.ref, code, errOut, tc.code, tc.want)
		}
		nothing(tc.ref)
	}
	t.Setenv("MLFLOW_TRACKING_PASSWORD", "wrong")
	if code, _, errOut := cli(t, "registry", "register", "fraud-detector", repo, "--from-mlflow", "models:/fraud/12"); code != exitDenied || !strings.Contains(errOut, "refused the credentials (HTTP 401 UNAUTHENTICATED)") || strings.Contains(errOut, "wrong") {
		t.Errorf("bad credentials: exit %d, %s", code, errOut)
	}
	t.Setenv("MLFLOW_TRACKING_PASSWORD", "pw")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	t.Setenv("MLFLOW_TRACKING_URI", dead)
	if code, _, errOut := cli(t, "registry", "register", "fraud-detector", repo, "--from-mlflow", "models:/fraud/12"); code != exitDenied || !strings.Contains(errOut, "cannot reach "+dead) {
		t.Errorf("a dead port: exit %d, %s", code, errOut)
	}
	t.Setenv("MLFLOW_TRACKING_URI", "")
	if code, _, errOut := cli(t, "registry", "register", "fraud-detector", repo, "--from-mlflow", "models:/fraud/12"); code != exitUsage || !strings.Contains(errOut, "needs MLFLOW_TRACKING_URI") {
		t.Errorf("no tracking URI: exit %d, %s", code, errOut)
	}
	nothing("the failures")
	// The failures created no state at all, so no audit entry.
	if code, out, errOut := cli(t, "audit", "verify", repo); code != exitDenied || !strings.Contains(errOut, "no state") {
		t.Errorf("after the failures: exit %d %s %s", code, out, errOut)
	}

	t.Setenv("MLFLOW_TRACKING_URI", srv.URL)
	code, out, errOut := cli(t, "registry", "register", "fraud-detector", repo, "--from-mlflow", "models:/fraud/12", "--param", "note=imported")
	if code != 0 || !strings.Contains(out, "registered models/fraud-detector version 12") {
		t.Fatalf("import: exit %d\n%s\n%s", code, out, errOut)
	}
	_, show, _ := cli(t, "registry", "show", "fraud-detector", "12", repo)
	for _, want := range []string{"artifact:      s3://mlflow/fraud/12", "auc=0.95", "commit:        8e21b40", "param:         max_depth = 6", "param:         note = imported",
		"data input:    s3://acme/txns.parquet@a1 (training)", "repository:    https://github.com/acme/fraud-train", "imported from: mlflow models:/fraud/12"} {
		if !strings.Contains(show, want) {
			t.Errorf("registry show lacks %q:\n%s", want, show)
		}
	}
	// One audit entry, with the imported run.
	if code, out, _ := cli(t, "audit", "verify", repo); code != 0 || !strings.Contains(out, "audit log ok: 1 entries") {
		t.Errorf("after the import: %s", out)
	}
	if _, out, _ := cli(t, "lineage", "fraud-detector@12", repo, "--format", "json"); !strings.Contains(out, `"metric_datasets"`) || !strings.Contains(out, `"source": "mlflow models:/fraud/12"`) {
		t.Errorf("lineage of the imported version:\n%s", out)
	}
}
