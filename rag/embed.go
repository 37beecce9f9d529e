package rag

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/sashabaranov/go-openai"
	"github.com/tmc/langchaingo/embeddings"
	"golang.org/x/text/unicode/norm"

	"github.com/cairn-dev/cairn/compiler"
)

// BuiltinProvider is the embedding provider name that selects the offline
// hashing embedder; it needs no entry in the spec's providers.
const BuiltinProvider = "builtin"

// DefaultHashModel is the builtin embedder's default model: 384 dimensions.
const DefaultHashModel = "hash-384"

// HashEmbedder is a deterministic, offline embedder: feature hashing of
// normalised words, word bigrams and character trigrams, L2-normalised. It is
// no match for a learned model on paraphrase, but it gives stable lexical
// retrieval on any machine, which is what the examples and CI need.
type HashEmbedder struct {
	Dim int
}

var _ embeddings.Embedder = (*HashEmbedder)(nil)

// NewHashEmbedder parses a builtin model name ("hash-384", "hash-768", …).
func NewHashEmbedder(model string) (*HashEmbedder, error) {
	if model == "" {
		model = DefaultHashModel
	}
	n, ok := strings.CutPrefix(model, "hash-")
	dim, err := strconv.Atoi(n)
	if !ok || err != nil || dim < 16 || dim > 8192 {
		return nil, fmt.Errorf("builtin embedding model %q: want hash-N with 16 <= N <= 8192 (e.g. %q)", model, DefaultHashModel)
	}
	return &HashEmbedder{Dim: dim}, nil
}

func (h *HashEmbedder) EmbedDocuments(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		out[i] = h.embed(t)
	}
	return out, nil
}

func (h *HashEmbedder) EmbedQuery(ctx context.Context, text string) ([]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return h.embed(text), nil
}

// Feature weights: whole words carry the meaning; bigrams reward phrase
// matches; character trigrams give partial credit for inflections and typos.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211

	wWord    = 1.0
	wBigram  = 0.5
	wTrigram = 0.2
)

func (h *HashEmbedder) embed(text string) []float32 {
	v := make([]float64, h.Dim)
	add := func(kind byte, feat string, w float64) {
		// FNV-1a inline: the hash.Hash interface allocates per feature.
		s := uint64(fnvOffset)
		s = (s ^ uint64(kind)) * fnvPrime
		s = (s ^ ':') * fnvPrime
		for i := 0; i < len(feat); i++ {
			s = (s ^ uint64(feat[i])) * fnvPrime
		}
		// The sign bit makes collisions cancel out in expectation instead of piling up.
		if s>>63 == 1 {
			w = -w
		}
		v[s%uint64(h.Dim)] += w
	}
	words := Tokens(text)
	for i, w := range words {
		add('w', w, wWord)
		if i > 0 {
			add('b', words[i-1]+" "+w, wBigram)
		}
		p := "<" + w + ">"
		r := []rune(p)
		for j := 0; j+3 <= len(r); j++ {
			add('c', string(r[j:j+3]), wTrigram)
		}
	}
	var sum float64
	for _, x := range v {
		sum += x * x
	}
	out := make([]float32, h.Dim)
	if sum == 0 {
		return out
	}
	n := math.Sqrt(sum)
	for i, x := range v {
		out[i] = float32(x / n)
	}
	return out
}

// Tokens normalises text into the words the hashing embedder sees: NFKC,
// lower case, letters and digits only, English stop words dropped and a
// light plural folding ("refunds" → "refund").
func Tokens(text string) []string {
	text = norm.NFKC.String(text)
	fields := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	out := fields[:0]
	for _, w := range fields {
		if stopWords[w] {
			continue
		}
		out = append(out, stem(w))
	}
	return out
}

func stem(w string) string {
	switch {
	case len(w) > 4 && strings.HasSuffix(w, "ies"):
		return w[:len(w)-3] + "y"
	case len(w) > 3 && strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") && !strings.HasSuffix(w, "us") && !strings.HasSuffix(w, "is"):
		return w[:len(w)-1]
	}
	return w
}

var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a about above after again all am an and any are as at be because been
		before being below between both but by can could did do does doing down during each few for from
		further had has have having he her here hers him his how i if in into is it its itself just me more
		most my no nor not of off on once only or other our ours out over own same she should so some such
		than that the their theirs them then there these they this those through to too under until up very
		was we were what when where which while who whom why will with would you your yours`) {
		m[w] = true
	}
	return m
}()

// EmbedderOption configures EmbedderFor.
type EmbedderOption func(*embedderConfig)

type embedderConfig struct {
	httpClient *http.Client
	getenv     func(string) string
	batchSize  int
}

// WithHTTPClient sets the HTTP client for remote embedders (tests, proxies).
func WithHTTPClient(c *http.Client) EmbedderOption {
	return func(o *embedderConfig) { o.httpClient = c }
}

// WithGetenv replaces os.Getenv for reading the provider's API key variable.
func WithGetenv(f func(string) string) EmbedderOption {
	return func(o *embedderConfig) { o.getenv = f }
}

// WithBatchSize sets how many texts a remote embedder sends per request.
func WithBatchSize(n int) EmbedderOption {
	return func(o *embedderConfig) { o.batchSize = n }
}

// EmbedderFor returns the embedder for a provider and model. A nil provider
// means the builtin hashing embedder. Remote providers go through go-openai
// (OpenAI, Azure OpenAI, or any OpenAI-compatible base URL); the API key is
// read from the provider's api_key_env variable and never leaves the client.
func EmbedderFor(p *compiler.Provider, model string, opts ...EmbedderOption) (embeddings.Embedder, error) {
	cfg := embedderConfig{getenv: os.Getenv, batchSize: 128, httpClient: &http.Client{Timeout: 60 * time.Second}}
	for _, o := range opts {
		o(&cfg)
	}
	if p == nil || p.Kind == BuiltinProvider {
		return NewHashEmbedder(model)
	}
	if model == "" {
		return nil, fmt.Errorf("provider %q: embedding model is empty", p.Name)
	}
	key := ""
	if p.APIKeyEnv != "" {
		key = cfg.getenv(p.APIKeyEnv)
	}
	var oc openai.ClientConfig
	switch p.Kind {
	case "openai":
		if key == "" {
			return nil, fmt.Errorf("provider %q: environment variable %s is not set", p.Name, p.APIKeyEnv)
		}
		oc = openai.DefaultConfig(key)
		if p.BaseURL != "" {
			oc.BaseURL = p.BaseURL
		}
	case "openai-compatible":
		// Local servers (vLLM, Ollama) often need no key.
		if p.BaseURL == "" {
			return nil, fmt.Errorf("provider %q: openai-compatible provider needs base_url", p.Name)
		}
		oc = openai.DefaultConfig(key)
		oc.BaseURL = p.BaseURL
	case "azure-openai":
		if key == "" {
			return nil, fmt.Errorf("provider %q: environment variable %s is not set", p.Name, p.APIKeyEnv)
		}
		if p.BaseURL == "" {
			return nil, fmt.Errorf("provider %q: azure-openai provider needs base_url", p.Name)
		}
		oc = openai.DefaultAzureConfig(key, p.BaseURL)
		if p.APIVersion != "" {
			oc.APIVersion = p.APIVersion
		}
	default:
		return nil, fmt.Errorf("provider %q of kind %q cannot compute embeddings (use %q, openai, azure-openai or openai-compatible)", p.Name, p.Kind, BuiltinProvider)
	}
	if p.TimeoutSeconds > 0 {
		c := *cfg.httpClient
		c.Timeout = time.Duration(p.TimeoutSeconds * float64(time.Second))
		cfg.httpClient = &c
	}
	oc.HTTPClient = cfg.httpClient
	client := openai.NewClientWithConfig(oc)
	name := p.Name
	call := embeddings.EmbedderClientFunc(func(ctx context.Context, texts []string) ([][]float32, error) {
		resp, err := client.CreateEmbeddings(ctx, openai.EmbeddingRequestStrings{Input: texts, Model: openai.EmbeddingModel(model)})
		if err != nil {
			return nil, fmt.Errorf("provider %q embeddings (%s): %w", name, model, err)
		}
		if len(resp.Data) != len(texts) {
			return nil, fmt.Errorf("provider %q embeddings (%s): sent %d texts, got %d vectors", name, model, len(texts), len(resp.Data))
		}
		// The API may return items out of order; Index says which input each is for.
		data := append([]openai.Embedding(nil), resp.Data...)
		sort.SliceStable(data, func(i, j int) bool { return data[i].Index < data[j].Index })
		out := make([][]float32, len(texts))
		for i, d := range data {
			if d.Index != i {
				return nil, fmt.Errorf("provider %q embeddings (%s): response indexes are not 0..%d", name, model, len(texts)-1)
			}
			if len(d.Embedding) == 0 {
				return nil, fmt.Errorf("provider %q embeddings (%s): empty vector for input %d", name, model, i)
			}
			out[i] = d.Embedding
		}
		return out, nil
	})
	// Newlines are kept: modern embedding models handle them, and stripping
	// would make the stored chunk differ from what was embedded.
	return embeddings.NewEmbedder(call, embeddings.WithStripNewLines(false), embeddings.WithBatchSize(cfg.batchSize))
}

// EmbedderForSource resolves a RAG source's embedding settings against the
// bundle's providers.
func EmbedderForSource(b *compiler.Bundle, src *compiler.RAG, opts ...EmbedderOption) (embeddings.Embedder, error) {
	if src == nil {
		return nil, errors.New("rag source is nil")
	}
	prov := src.Embedding.Provider
	if prov == "" || prov == BuiltinProvider {
		return EmbedderFor(nil, src.Embedding.Model, opts...)
	}
	var p *compiler.Provider
	if b != nil {
		p = b.Providers[prov]
	}
	if p == nil {
		return nil, fmt.Errorf("rag/%s.embedding.provider: unknown provider %q", src.Name, prov)
	}
	return EmbedderFor(p, src.Embedding.Model, opts...)
}
