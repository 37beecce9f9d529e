// Package evaltest is a loopback OpenAI-compatible server for tests: chat
// completions, moderations and embeddings, with configurable latency and
// faults (429 with Retry-After, 500, timeouts, malformed and truncated JSON).
// Other packages' tests use it to exercise the real go-openai client.
//
//	srv := evaltest.New(evaltest.Options{Latency: 100 * time.Millisecond})
//	defer srv.Close()
//	// base URL: srv.URL() ("http://127.0.0.1:port/v1")
package evaltest

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Fault is a misbehaviour the server can inject.
type Fault string

const (
	FaultNone        Fault = ""
	Fault429         Fault = "429"       // 429 with Retry-After (Options.RetryAfter)
	Fault500         Fault = "500"       // 500 with a JSON error body
	FaultTimeout     Fault = "timeout"   // hold the request until the client gives up
	FaultMalformed   Fault = "malformed" // 200 with a body that is not JSON
	FaultTruncated   Fault = "truncated" // 200 with JSON cut off half way
	FaultEmptyChoice Fault = "empty"     // 200 with no choices
	Fault401         Fault = "401"       // 401 invalid_api_key, as OpenAI answers a bad key
	Fault404         Fault = "404"       // 404 model_not_found, as OpenAI answers an unknown model
)

// Options configure the server.
type Options struct {
	// Latency is added to every successful response.
	Latency time.Duration
	// RetryAfter is the Retry-After header value sent with 429 (seconds, may be fractional). Default "0.01".
	RetryAfter string
	// Reply computes a chat reply from the last user message; default echoes "answer: <message>".
	Reply func(model, prompt string) string
	// Faults decides, per request, which fault to inject; attempt counts the
	// requests seen so far for the same prompt (1 for the first).
	Faults func(path, prompt string, attempt int) Fault
	// OmitUsage leaves usage out of chat responses, so clients must count tokens themselves.
	OmitUsage bool
	// Flag decides whether moderation flags a text; default: contains "hate".
	Flag func(text string) float64
	// AnsweringModel names the model a chat reply reports for the model
	// asked (default: the same); SystemFingerprint is sent when set.
	AnsweringModel    func(asked string) string
	SystemFingerprint string
}

// Server is the running fake.
type Server struct {
	srv  *httptest.Server
	opts Options

	mu       sync.Mutex
	attempts map[string]int
	requests atomic.Int64
	byPath   sync.Map     // path → *atomic.Int64
	inFlight atomic.Int64 // chat requests being answered
	maxIn    atomic.Int64 // the most at once
	hold     chan struct{}
}

// New starts a server on 127.0.0.1.
func New(opts Options) *Server {
	if opts.RetryAfter == "" {
		opts.RetryAfter = "0.01"
	}
	s := &Server{opts: opts, attempts: map[string]int{}, hold: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/chat/completions", s.chat)
	mux.HandleFunc("/v1/moderations", s.moderation)
	mux.HandleFunc("/v1/embeddings", s.embeddings)
	// Azure routes: /openai/deployments/{name}/chat/completions?api-version=…
	mux.HandleFunc("/openai/deployments/", func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/chat/completions"):
			s.chat(w, r)
		case strings.HasSuffix(r.URL.Path, "/embeddings"):
			s.embeddings(w, r)
		default:
			http.NotFound(w, r)
		}
	})
	s.srv = httptest.NewUnstartedServer(mux)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("evaltest: listen on loopback: %v", err))
	}
	s.srv.Listener = l
	s.srv.Start()
	return s
}

// URL is the OpenAI base URL ("http://127.0.0.1:port/v1").
func (s *Server) URL() string { return s.srv.URL + "/v1" }

// RootURL is the server root, for Azure-style clients.
func (s *Server) RootURL() string { return s.srv.URL }

// Close stops the server, releasing held (timeout) requests first.
func (s *Server) Close() {
	close(s.hold)
	s.srv.Close()
}

// Requests is the number of requests received on any endpoint.
func (s *Server) Requests() int64 { return s.requests.Load() }

// RequestsTo is the number of requests received on one path suffix ("chat/completions").
func (s *Server) RequestsTo(suffix string) int64 {
	var n int64
	s.byPath.Range(func(k, v any) bool {
		if strings.HasSuffix(k.(string), suffix) {
			n += v.(*atomic.Int64).Load()
		}
		return true
	})
	return n
}

// Reset zeroes the counters and attempt history.
func (s *Server) Reset() {
	s.mu.Lock()
	s.attempts = map[string]int{}
	s.mu.Unlock()
	s.requests.Store(0)
	s.maxIn.Store(0)
	s.byPath.Range(func(k, v any) bool { v.(*atomic.Int64).Store(0); return true })
}

func (s *Server) count(path, prompt string) int {
	s.requests.Add(1)
	c, _ := s.byPath.LoadOrStore(path, new(atomic.Int64))
	c.(*atomic.Int64).Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts[path+"\x00"+prompt]++
	return s.attempts[path+"\x00"+prompt]
}

// fault applies a fault; it reports whether the response has been written.
func (s *Server) fault(w http.ResponseWriter, r *http.Request, path, prompt string, attempt int) bool {
	if s.opts.Faults == nil {
		return false
	}
	switch s.opts.Faults(path, prompt, attempt) {
	case Fault429:
		w.Header().Set("Retry-After", s.opts.RetryAfter)
		writeJSON(w, 429, map[string]any{"error": map[string]any{"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}})
	case Fault401:
		writeJSON(w, 401, map[string]any{"error": map[string]any{"message": "Incorrect API key provided: sk-test***. You can find your API key at https://platform.openai.com/account/api-keys.", "type": "invalid_request_error", "param": nil, "code": "invalid_api_key"}})
	case Fault404:
		writeJSON(w, 404, map[string]any{"error": map[string]any{"message": "The model `gpt-9` does not exist or you do not have access to it.", "type": "invalid_request_error", "param": nil, "code": "model_not_found"}})
	case Fault500:
		writeJSON(w, 500, map[string]any{"error": map[string]any{"message": "The server had an error", "type": "server_error"}})
	case FaultTimeout:
		select {
		case <-r.Context().Done():
		case <-s.hold:
		}
	case FaultMalformed:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		_, _ = w.Write([]byte("<html>502 Bad Gateway</html>"))
	case FaultTruncated:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		_, _ = w.Write([]byte(`{"id":"chatcmpl-x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assis`))
	case FaultEmptyChoice:
		writeJSON(w, 200, map[string]any{"id": "chatcmpl-x", "object": "chat.completion", "choices": []any{}})
	default:
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) wait(r *http.Request) {
	if s.opts.Latency > 0 {
		select {
		case <-time.After(s.opts.Latency):
		case <-r.Context().Done():
		}
	}
}

type chatReq struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
}

// MaxInFlight is the most chat requests the server answered at once.
func (s *Server) MaxInFlight() int64 { return s.maxIn.Load() }

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for m := s.maxIn.Load(); n > m && !s.maxIn.CompareAndSwap(m, n); m = s.maxIn.Load() {
	}
	var req chatReq
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Messages) == 0 {
		writeJSON(w, 400, map[string]any{"error": map[string]any{"message": "bad request", "type": "invalid_request_error"}})
		return
	}
	prompt := req.Messages[len(req.Messages)-1].Content
	attempt := s.count("/v1/chat/completions", prompt)
	if s.fault(w, r, "/v1/chat/completions", prompt, attempt) {
		return
	}
	s.wait(r)
	reply := "answer: " + prompt
	if s.opts.Reply != nil {
		reply = s.opts.Reply(req.Model, prompt)
	}
	// Like OpenAI's, the reply names the dated snapshot that answered an
	// alias ("gpt-4o-mini" → "gpt-4o-mini-2024-07-18") and its backend.
	model := req.Model
	if s.opts.AnsweringModel != nil {
		model = s.opts.AnsweringModel(req.Model)
	}
	resp := map[string]any{
		"id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": model,
		"choices": []any{map[string]any{"index": 0, "finish_reason": "stop", "message": map[string]any{"role": "assistant", "content": reply}}},
	}
	if !s.opts.OmitUsage {
		in := 0
		for _, m := range req.Messages {
			in += len(strings.Fields(m.Content)) + 4
		}
		out := len(strings.Fields(reply))
		resp["usage"] = map[string]any{"prompt_tokens": in, "completion_tokens": out, "total_tokens": in + out}
	}
	if s.opts.SystemFingerprint != "" {
		resp["system_fingerprint"] = s.opts.SystemFingerprint
	}
	writeJSON(w, 200, resp)
}

func (s *Server) moderation(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Input string `json:"input"`
		Model string `json:"model"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, 400, map[string]any{"error": map[string]any{"message": "bad request"}})
		return
	}
	attempt := s.count("/v1/moderations", req.Input)
	if s.fault(w, r, "/v1/moderations", req.Input, attempt) {
		return
	}
	s.wait(r)
	score := 0.01
	if s.opts.Flag != nil {
		score = s.opts.Flag(req.Input)
	} else if strings.Contains(strings.ToLower(req.Input), "hate") {
		score = 0.93
	}
	writeJSON(w, 200, map[string]any{"id": "modr-fake", "model": req.Model, "results": []any{map[string]any{
		"flagged":         score >= 0.5,
		"categories":      map[string]bool{"hate": score >= 0.5, "harassment": false},
		"category_scores": map[string]float64{"hate": score, "harassment": score / 2},
	}}})
}

func (s *Server) embeddings(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Input []string `json:"input"`
		Model string   `json:"model"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, 400, map[string]any{"error": map[string]any{"message": "bad request"}})
		return
	}
	attempt := s.count("/v1/embeddings", strings.Join(req.Input, "\x00"))
	if s.fault(w, r, "/v1/embeddings", strings.Join(req.Input, "\x00"), attempt) {
		return
	}
	s.wait(r)
	data := make([]any, len(req.Input))
	for i, in := range req.Input {
		data[i] = map[string]any{"object": "embedding", "index": i, "embedding": Embedding(in, 16)}
	}
	writeJSON(w, 200, map[string]any{"object": "list", "model": req.Model, "data": data,
		"usage": map[string]any{"prompt_tokens": len(req.Input), "total_tokens": len(req.Input)}})
}

// Embedding is the fake's deterministic embedding: a normalised bag of
// hashed lower-case words, so texts sharing words are similar.
func Embedding(text string, dim int) []float32 {
	v := make([]float64, dim)
	for _, w := range strings.Fields(strings.ToLower(text)) {
		h := sha256.Sum256([]byte(strings.Trim(w, ".,!?;:")))
		v[binary.BigEndian.Uint32(h[:4])%uint32(dim)]++
	}
	var n float64
	for _, x := range v {
		n += x * x
	}
	out := make([]float32, dim)
	for i, x := range v {
		if n > 0 {
			out[i] = float32(x / math.Sqrt(n))
		}
	}
	return out
}
