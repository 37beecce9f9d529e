package rag

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cairn-dev/cairn/compiler"
)

func TestHashEmbedder(t *testing.T) {
	ctx := context.Background()
	h, err := NewHashEmbedder("")
	if err != nil || h.Dim != 384 {
		t.Fatalf("default model: %v %v", h, err)
	}
	a, _ := h.EmbedQuery(ctx, "Refunds are issued to the original payment method.")
	b, _ := h.EmbedQuery(ctx, "Refunds are issued to the original payment method.")
	c, _ := h.EmbedQuery(ctx, "REFUND issued to original payment METHOD")
	d, _ := h.EmbedQuery(ctx, "Push notifications can be muted per project.")
	if len(a) != 384 {
		t.Fatalf("dim %d", len(a))
	}
	if dot(a, b) != dot(a, a) {
		t.Error("not deterministic")
	}
	if n := dot(a, a); math.Abs(float64(n)-1) > 1e-5 {
		t.Errorf("norm² = %v, want 1", n)
	}
	if !(dot(a, c) > 0.6 && dot(a, d) < 0.2) {
		t.Errorf("similar %.3f (want > 0.6), unrelated %.3f (want < 0.2)", dot(a, c), dot(a, d))
	}
	z, _ := h.EmbedQuery(ctx, "the and of")
	if dot(z, z) != 0 {
		t.Error("stop words only should embed to the zero vector")
	}
	for _, bad := range []string{"hash-8", "hash-x", "text-embedding-3-small", "hash-100000"} {
		if _, err := NewHashEmbedder(bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("%s: %v", bad, err)
		}
	}
	if got := Tokens("Ça va? The Companies' refunds, policies & cafés"); strings.Join(got, " ") != "ça va company refund policy café" {
		t.Errorf("tokens = %q", got)
	}
}

func dot(a, b []float32) float32 {
	var s float32
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// fakeEmbeddings is a minimal OpenAI-compatible /v1/embeddings server that
// answers with hash-embedder vectors, in reverse order to check that the
// client reorders by index.
type fakeEmbeddings struct {
	requests atomic.Int64
	inputs   atomic.Int64
	status   int
	lastAuth atomic.Value
}

func (f *fakeEmbeddings) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	f.lastAuth.Store(r.Header.Get("Authorization"))
	if r.URL.Path != "/v1/embeddings" || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	if f.status != 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.status)
		w.Write([]byte(`{"error":{"message":"model overloaded","type":"server_error"}}`))
		return
	}
	var req struct {
		Input []string `json:"input"`
		Model string   `json:"model"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Model != "fake-embed-64" {
		http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
		return
	}
	f.inputs.Add(int64(len(req.Input)))
	h := &HashEmbedder{Dim: 64}
	type item struct {
		Object    string    `json:"object"`
		Embedding []float32 `json:"embedding"`
		Index     int       `json:"index"`
	}
	var data []item
	for i := len(req.Input) - 1; i >= 0; i-- {
		v := h.embed(req.Input[i])
		for j := range v {
			v[j] *= 3 // not unit length: the index must normalise
		}
		data = append(data, item{"embedding", v, i})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": req.Model,
		"usage": map[string]int{"prompt_tokens": 1, "total_tokens": 1}})
}

func TestOpenAICompatibleEmbeddings(t *testing.T) {
	ctx := context.Background()
	fake := &fakeEmbeddings{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	prov := &compiler.Provider{Name: "local", Kind: "openai-compatible", BaseURL: srv.URL + "/v1", APIKeyEnv: "LOCAL_KEY"}
	env := func(k string) string {
		if k == "LOCAL_KEY" {
			return "sk-test-secret"
		}
		return ""
	}
	b := &compiler.Bundle{Providers: map[string]*compiler.Provider{"local": prov}}
	src := corpusRAG(t, corpusDir)
	src.Embedding = compiler.Embedding{Provider: "local", Model: "fake-embed-64"}
	emb, err := EmbedderForSource(b, src, WithGetenv(env), WithBatchSize(8), WithHTTPClient(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	store := NewMemStore()
	snap, _, err := Build(ctx, corpusDir, src, store, emb, Lineage{})
	if err != nil {
		t.Fatal(err)
	}
	n := snap.Totals.Chunks
	if got, want := fake.requests.Load(), int64((n+7)/8); got != want || fake.inputs.Load() != int64(n) {
		t.Errorf("requests = %d (want %d batches), inputs = %d (want %d)", got, want, fake.inputs.Load(), n)
	}
	if snap.Dim != 64 {
		t.Errorf("dim = %d", snap.Dim)
	}
	if fake.lastAuth.Load() != "Bearer sk-test-secret" {
		t.Errorf("authorization header = %q", fake.lastAuth.Load())
	}
	// Retrieval through the same endpoint finds the right chunks.
	if _, err := Retrieve(ctx, store, "help-center", "webhook HMAC signature", 3); err == nil || !strings.Contains(err.Error(), `provider "local"`) {
		t.Errorf("retrieve without the remote embedder should say so: %v", err)
	}
	for _, q := range readQuestions(t) {
		got, err := Retrieve(ctx, store, "help-center", q.Question, 4, WithEmbedder(emb))
		if err != nil {
			t.Fatal(err)
		}
		ok := false
		for _, c := range got {
			ok = ok || (c.Document == q.Document && strings.Contains(c.Text, q.Contains))
		}
		if !ok {
			t.Errorf("%q: %s not in top 4 via the embeddings endpoint: %v", q.Question, q.Document, docs(got))
		}
	}

	// A server error names the provider and model, and never the key.
	fake.status = http.StatusServiceUnavailable
	_, err = emb.EmbedQuery(ctx, "x")
	if err == nil || !strings.Contains(err.Error(), `provider "local" embeddings (fake-embed-64)`) || strings.Contains(err.Error(), "sk-test-secret") {
		t.Errorf("server error: %v", err)
	}
}

func TestEmbedderForErrors(t *testing.T) {
	none := WithGetenv(func(string) string { return "" })
	cases := []struct {
		p     *compiler.Provider
		model string
		want  string
	}{
		{&compiler.Provider{Name: "oa", Kind: "openai", APIKeyEnv: "OPENAI_API_KEY"}, "text-embedding-3-small", "environment variable OPENAI_API_KEY is not set"},
		{&compiler.Provider{Name: "rp", Kind: "replay"}, "m", `provider "rp" of kind "replay" cannot compute embeddings`},
		{&compiler.Provider{Name: "vl", Kind: "openai-compatible"}, "m", "needs base_url"},
		{&compiler.Provider{Name: "az", Kind: "azure-openai", APIKeyEnv: "AZ"}, "m", "environment variable AZ is not set"},
		{&compiler.Provider{Name: "oa", Kind: "openai"}, "", "embedding model is empty"},
		{nil, "hash-3", `builtin embedding model "hash-3"`},
	}
	for _, tc := range cases {
		if _, err := EmbedderFor(tc.p, tc.model, none); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.p, err, tc.want)
		}
	}
	src := &compiler.RAG{Name: "kb", Embedding: compiler.Embedding{Provider: "missing", Model: "m"}}
	if _, err := EmbedderForSource(&compiler.Bundle{}, src); err == nil || !strings.Contains(err.Error(), `rag/kb.embedding.provider: unknown provider "missing"`) {
		t.Errorf("unknown provider: %v", err)
	}
}
