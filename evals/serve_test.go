package evals

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/evals/provider"
)

// oipServer is a KServe v2 model server on loopback: the model scores one
// numeric feature x with a logistic curve whose slope is its version
// number; fault(n) may answer request n itself (a throttle, an error, a
// truncated body).
func oipServer(t *testing.T, fault func(n int64, w http.ResponseWriter) bool) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		if fault != nil && fault(i, w) {
			return
		}
		var req struct {
			ID     string `json:"id"`
			Inputs []struct {
				Name     string    `json:"name"`
				Shape    []int     `json:"shape"`
				Datatype string    `json:"datatype"`
				Data     []float64 `json:"data"`
			} `json:"inputs"`
		}
		slope, version := 3.0, ""
		if p := strings.TrimPrefix(r.URL.Path, "/v2/models/fraud/versions/"); p != r.URL.Path {
			version = strings.TrimSuffix(p, "/infer")
			fmt.Sscan(version, &slope)
		} else if r.URL.Path != "/v2/models/fraud/infer" {
			w.WriteHeader(404)
			fmt.Fprintf(w, `{"error": "model not found"}`)
			return
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Inputs) != 1 || req.Inputs[0].Name != "input-0" ||
			req.Inputs[0].Datatype != "FP64" || len(req.Inputs[0].Shape) != 2 || req.Inputs[0].Shape[1] != 1 {
			w.WriteHeader(400)
			fmt.Fprintf(w, `{"error": "unexpected input: want input-0 FP64 [n, 1]"}`)
			return
		}
		out := make([]float64, len(req.Inputs[0].Data))
		for i, x := range req.Inputs[0].Data {
			out[i] = 1 / (1 + math.Exp(-slope*(x-0.5)))
		}
		json.NewEncoder(w).Encode(map[string]any{"model_name": "fraud", "model_version": version, "id": req.ID,
			"outputs": []map[string]any{{"name": "output-0", "shape": []int{len(out)}, "datatype": "FP64", "data": out}}})
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// servedFixture is a features file of 200 rows (x and a noisy label) and a
// classic eval scoring it on url.
func servedFixture(t *testing.T, url string, versioned bool) *compiler.Bundle {
	root := t.TempDir()
	var b strings.Builder
	b.WriteString("id,x,region,label\n")
	for i := range 200 {
		x := float64(i) / 200
		label := 0
		if (x > 0.5) != (i%7 == 0) {
			label = 1
		}
		fmt.Fprintf(&b, "r%d,%g,%s,%d\n", i, x, []string{"north", "south"}[i%2], label)
	}
	os.WriteFile(filepath.Join(root, "features.csv"), []byte(b.String()), 0o644)
	return &compiler.Bundle{Root: root, Models: map[string]*compiler.Model{"fraud-detector": {Name: "fraud-detector", Kind: "classic", Aliases: map[string]string{"prod": "3", "staging": "9"}}},
		Evals: map[string]*compiler.Eval{"served": {Name: "served", Target: compiler.EvalTarget{Model: "fraud-detector"}, Dataset: "features.csv",
			Predictions: &compiler.Predictions{Label: "label", ID: "id", Sensitive: []string{"region"},
				Server: &compiler.ModelServer{URL: url, Model: "fraud", Versioned: versioned, Inputs: []string{"x"}, BatchSize: 16, Concurrency: 3}},
			Metrics: map[string]compiler.Metric{"auc": {Scorer: "roc_auc", Threshold: 0.8}, "parity": {Scorer: "demographic_parity_difference", Threshold: 0.2}}}}}
}

// The eval scores every row on the server through throttling (a 429 with
// Retry-After), a 500 and a truncated body, and computes exactly what the
// same scores read from a predictions file give.
func TestServedPredictions(t *testing.T) {
	srv, n := oipServer(t, func(i int64, w http.ResponseWriter) bool {
		switch i {
		case 2:
			w.Header().Set("Retry-After", "0.01")
			w.WriteHeader(429)
			fmt.Fprint(w, `{"error": "slow down"}`)
		case 4:
			w.WriteHeader(503)
		case 6:
			fmt.Fprint(w, `{"outputs": [{"name": "output-0", "data": [0.1,`)
		default:
			return false
		}
		return true
	})
	b := servedFixture(t, srv.URL, false)
	run, err := RunPredictions(context.Background(), b, "served", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := n.Load(); got != 13+3 { // 13 batches of 16, and three answered with a fault
		t.Errorf("%d requests, want 16", got)
	}
	// The same scores, as a predictions file.
	var pf strings.Builder
	pf.WriteString("label,score,region\n")
	raw, _ := os.ReadFile(filepath.Join(b.Root, "features.csv"))
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n")[1:] {
		var x float64
		f := strings.Split(line, ",") // id, x, region, label
		fmt.Sscan(f[1], &x)
		fmt.Fprintf(&pf, "%s,%g,%s\n", f[3], 1/(1+math.Exp(-3*(x-0.5))), f[2])
	}
	os.WriteFile(filepath.Join(b.Root, "scored.csv"), []byte(pf.String()), 0o644)
	file := *b.Evals["served"]
	file.Dataset, file.Predictions = "scored.csv", &compiler.Predictions{Label: "label", Score: "score", Sensitive: []string{"region"}}
	b.Evals["file"] = &file
	want, err := RunPredictions(context.Background(), b, "file", "")
	if err != nil {
		t.Fatal(err)
	}
	for i := range want.Metrics {
		if *run.Metrics[i].Value != *want.Metrics[i].Value || *run.Metrics[i].Low != *want.Metrics[i].Low {
			t.Errorf("%s: served %v, file %v", want.Metrics[i].Name, *run.Metrics[i].Value, *want.Metrics[i].Value)
		}
	}
	if run.Classic.Rows != 200 || !run.Passed {
		t.Errorf("served run: %d rows, passed %v", run.Classic.Rows, run.Passed)
	}
}

// versioned: true calls each version's endpoint, so challenger and
// champion are scored by their own models on the same rows.
func TestServedVersions(t *testing.T) {
	srv, _ := oipServer(t, nil)
	b := servedFixture(t, srv.URL, true)
	if got := SpecVersions(b, "served"); strings.Join(got, ",") != "3,9" {
		t.Errorf("spec versions %v", got)
	}
	if _, err := RunPredictions(context.Background(), b, "served", ""); err == nil || !strings.Contains(err.Error(), "name the version") {
		t.Errorf("no version: %v", err)
	}
	c, err := ComparePredictions(context.Background(), b, "served", "auc", "9", "3")
	if err != nil {
		t.Fatal(err)
	}
	// A steeper logistic ranks the rows the same way: the same AUC, paired difference exactly 0.
	if c.Diff != 0 || c.Pairs != 200 || *c.Low != 0 {
		t.Errorf("comparison %+v", c)
	}
}

// Faults a person must fix are not retried: they stop the eval with a code
// and say what to check.
func TestServedErrors(t *testing.T) {
	ctx := context.Background()
	srv, n := oipServer(t, func(i int64, w http.ResponseWriter) bool {
		w.WriteHeader(400)
		fmt.Fprint(w, `{"error": "unexpected input: want 4 features"}`)
		return true
	})
	_, err := RunPredictions(ctx, servedFixture(t, srv.URL, false), "served", "")
	if err == nil || !strings.Contains(err.Error(), "HTTP 400: unexpected input: want 4 features") || !strings.Contains(err.Error(), ", rows ") || n.Load() > 3 {
		t.Errorf("400: %v after %d requests", err, n.Load())
	}

	wrong := servedFixture(t, srv.URL, false)
	wrong.Evals["served"].Predictions.Server.Model = "nope"
	ok, okRequests := oipServer(t, nil)
	wrong.Evals["served"].Predictions.Server.URL = ok.URL
	var ce *provider.ConfigError
	if _, err := RunPredictions(ctx, wrong, "served", ""); !errors.As(err, &ce) || ce.Code != "provider_not_found" {
		t.Errorf("unknown model: %v", err)
	}

	gone := httptest.NewServer(http.NotFoundHandler())
	url := gone.URL
	gone.Close()
	if _, err := RunPredictions(ctx, servedFixture(t, url, false), "served", ""); !errors.As(err, &ce) || ce.Code != "provider_unreachable" {
		t.Errorf("closed server: %v", err)
	}

	lying, _ := oipServer(t, func(i int64, w http.ResponseWriter) bool {
		fmt.Fprint(w, `{"model_name": "fraud", "model_version": "8", "outputs": [{"name": "o", "data": [0.5]}]}`)
		return true
	})
	if _, err := RunPredictions(ctx, servedFixture(t, lying.URL, true), "served", "9"); err == nil || !strings.Contains(err.Error(), "asked for version 9, the server answered with model_version 8") {
		t.Errorf("wrong version: %v", err)
	}

	// Found before any request, at the first row, whichever batch a worker takes first.
	text := servedFixture(t, ok.URL, false)
	text.Evals["served"].Predictions.Server.Inputs = []string{"region"}
	before := okRequests.Load()
	if _, err := RunPredictions(ctx, text, "served", ""); err == nil || !strings.Contains(err.Error(), `row 1: feature "region" is "north", not a number`) {
		t.Errorf("text in a matrix: %v", err)
	}
	if sent := okRequests.Load() - before; sent != 0 {
		t.Errorf("text in a matrix: %d requests sent before the refusal", sent)
	}
}
