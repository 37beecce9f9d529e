package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	openai "github.com/sashabaranov/go-openai"
	"golang.org/x/time/rate"

	"github.com/cairn-dev/cairn/tokens"
)

// OpenAI talks to OpenAI, Azure OpenAI or an OpenAI-compatible server.
type OpenAI struct {
	cfg    Config
	client *openai.Client
	flow   *flow
	rpm    *rate.Limiter
	tpm    *rate.Limiter
	sleep  func(ctx context.Context, d time.Duration) error
}

// NewOpenAI builds a provider from cfg; defaults: 60 s timeout, 4 retries,
// 500 ms backoff base, 30 s max backoff, concurrency 8.
func NewOpenAI(cfg Config) (*OpenAI, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.MaxRetries < 0 {
		cfg.MaxRetries = 0
	} else if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 4
	}
	if cfg.BackoffBase <= 0 {
		cfg.BackoffBase = 500 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	// A hosted provider without its key fails here, at once, rather than
	// as a retried 401 (or a DNS error offline) for every case. A local
	// openai-compatible server may need no key.
	if cfg.APIKey == "" && (cfg.Kind == "openai" || cfg.Kind == "azure-openai") {
		env := cfg.APIKeyEnv
		if env == "" {
			env = "OPENAI_API_KEY"
		}
		return nil, fmt.Errorf("provider %s: %s is not set: export the provider's API key in %s (api_key_env names the variable; a key never goes in a spec)", cfg.Name, env, env)
	}
	if cfg.BaseURL != "" {
		if u, err := url.Parse(cfg.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("provider %s: base_url %q is not an http(s) URL (e.g. https://api.openai.com/v1 or http://127.0.0.1:8000/v1)", cfg.Name, cfg.BaseURL)
		}
	}
	var oc openai.ClientConfig
	switch cfg.Kind {
	case "azure-openai":
		if cfg.BaseURL == "" {
			return nil, fmt.Errorf("provider %s: azure-openai needs base_url (https://<resource>.openai.azure.com)", cfg.Name)
		}
		oc = openai.DefaultAzureConfig(cfg.APIKey, cfg.BaseURL)
		if cfg.APIVersion != "" {
			oc.APIVersion = cfg.APIVersion
		}
		oc.AzureModelMapperFunc = func(model string) string { return model } // deployment name = model id
	case "openai", "openai-compatible":
		oc = openai.DefaultConfig(cfg.APIKey)
		if cfg.BaseURL != "" {
			oc.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
		} else if cfg.Kind == "openai-compatible" {
			return nil, fmt.Errorf("provider %s: openai-compatible needs base_url", cfg.Name)
		}
	default:
		return nil, fmt.Errorf("provider %s: kind %q is not an OpenAI-family provider", cfg.Name, cfg.Kind)
	}
	// The default transport keeps 2 idle connections per host; with more
	// cases in flight that means a new connection per request.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = max(cfg.Concurrency, 2)
	oc.HTTPClient = &retryAfterDoer{c: &http.Client{Transport: tr}}
	p := &OpenAI{cfg: cfg, client: openai.NewClientWithConfig(oc), flow: newFlow(cfg.Concurrency, 10*cfg.MaxRetries), sleep: sleepCtx}
	if cfg.RequestsPerMinute > 0 {
		p.rpm = rate.NewLimiter(rate.Limit(float64(cfg.RequestsPerMinute)/60), max(1, cfg.RequestsPerMinute/60))
	}
	if cfg.TokensPerMinute > 0 {
		p.tpm = rate.NewLimiter(rate.Limit(float64(cfg.TokensPerMinute)/60), cfg.TokensPerMinute)
	}
	return p, nil
}

// Config returns the provider's configuration.
func (p *OpenAI) Config() Config { return p.cfg }

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retryAfterDoer records the Retry-After header of throttled responses in a
// slot carried by the request's context, because go-openai's errors do not
// expose response headers.
type retryAfterDoer struct{ c *http.Client }

type retrySlotKey struct{}

type retrySlot struct {
	mu    sync.Mutex
	after time.Duration
}

func (d *retryAfterDoer) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.c.Do(req)
	if err == nil && resp != nil {
		if slot, ok := req.Context().Value(retrySlotKey{}).(*retrySlot); ok {
			if ra := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ra > 0 {
				slot.mu.Lock()
				slot.after = ra
				slot.mu.Unlock()
			}
		}
	}
	return resp, err
}

// parseRetryAfter reads delta-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// retryable reports whether an error is worth another attempt: throttling,
// server errors, timeouts, broken connections and unparseable bodies (a
// truncated or malformed response is usually a transient proxy fault). A
// refused connection or an unknown host is a configuration error: retrying
// would only hide it.
func retryable(err error) bool {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && !dnsErr.IsTimeout && !dnsErr.IsTemporary || errors.Is(err, syscall.ECONNREFUSED) {
		return false
	}
	if status, ok := httpStatus(err); ok {
		return status == 429 || status == 408 || status >= 500
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	if errors.As(err, &syn) || errors.As(err, &typ) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	return errors.Is(err, errEmptyChoices)
}

var errEmptyChoices = errors.New("response has no choices")

// maxAttempts bounds one case's attempts whatever the budget holds.
const maxAttempts = 12

// overloaded is a sign the provider is over its capacity: a throttle, a
// 502/503/504 or a timeout. (A plain 500 is a fault of one request; it is
// retried, but it does not slow the others down.)
func overloaded(err error) bool {
	status, _ := httpStatus(err)
	var netErr net.Error
	return status == 429 || status == 502 || status == 503 || status == 504 ||
		errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout()
}

// transient is a throttle or a server error: the server is there and will
// answer, later.
func transient(err error) bool {
	status, _ := httpStatus(err)
	return status == 429 || status >= 500
}

// httpStatus is the HTTP status go-openai's error carries, if any.
func httpStatus(err error) (int, bool) {
	var apiErr *openai.APIError
	if errors.As(err, &apiErr) {
		return apiErr.HTTPStatusCode, true
	}
	var reqErr *openai.RequestError
	if errors.As(err, &reqErr) {
		return reqErr.HTTPStatusCode, true
	}
	return 0, false
}

// do runs one call with the provider's concurrency slot, rate limits,
// per-attempt timeout and retries. tokens is the request's estimated size for
// the tokens-per-minute limiter.
func (p *OpenAI) do(ctx context.Context, tokensEst int, call func(ctx context.Context) error) (attempts int, err error) {
	backoffs := 0 // the faults this call backed off from, not the throttles it waited out
	for attempt := 0; ; attempt++ {
		if err := p.flow.acquire(ctx); err != nil {
			return attempt, err
		}
		if p.rpm != nil {
			if err := p.rpm.Wait(ctx); err != nil {
				return attempt, err
			}
		}
		if p.tpm != nil {
			if err := p.tpm.WaitN(ctx, min(max(tokensEst, 1), p.cfg.TokensPerMinute)); err != nil {
				return attempt, err
			}
		}
		slot := &retrySlot{}
		actx, cancel := context.WithTimeout(context.WithValue(ctx, retrySlotKey{}, slot), p.cfg.Timeout)
		err = call(actx)
		cancel()
		slot.mu.Lock()
		wait := min(slot.after, p.cfg.MaxBackoff)
		slot.mu.Unlock()
		p.flow.release(err == nil, err != nil && overloaded(err), wait)
		if err == nil {
			return attempt + 1, nil
		}
		if ctx.Err() != nil {
			return attempt + 1, ctx.Err()
		}
		// A case has MaxRetries retries; past them, a throttle or a server
		// error is retried on the run's budget (up to maxAttempts), so a
		// burst of transient faults costs time, not cases.
		if !retryable(err) || p.cfg.MaxRetries == 0 || attempt+1 >= maxAttempts ||
			attempt >= p.cfg.MaxRetries && !transient(err) || !p.flow.retry() {
			return attempt + 1, explainProvider(p.cfg, err)
		}
		if wait > 0 {
			// The server said when: the flow holds every request, this
			// one too, until then, and lets them go together.
			continue
		}
		// Exponential backoff with full jitter, growing with the faults that
		// gave no time only. Throttles waited out do not count: when they
		// did, a call throttled twice and then answered 500 waited 1–2 s,
		// often as a run's last call, up to 1.23 × the Retry-After bound.
		back := p.cfg.BackoffBase << min(backoffs, p.cfg.MaxRetries)
		backoffs++
		wait = min(back/2+time.Duration(rand.Int64N(int64(back/2)+1)), p.cfg.MaxBackoff)
		if err := p.sleep(ctx, wait); err != nil {
			return attempt + 1, err
		}
	}
}

// Complete runs a chat completion.
func (p *OpenAI) Complete(ctx context.Context, req Request) (Response, error) {
	msgs := make([]openai.ChatCompletionMessage, len(req.Messages))
	tm := make([]tokens.Message, len(req.Messages))
	for i, m := range req.Messages {
		msgs[i] = openai.ChatCompletionMessage{Role: m.Role, Content: m.Content}
		tm[i] = tokens.Message{Role: m.Role, Content: m.Content}
	}
	// The prompt's size is counted only when something needs it — a
	// tokens-per-minute limit, or a server that reports no usage — so a run
	// against a server that reports usage never loads the BPE tables
	// (about 40 MB at their peak).
	est := -1
	estimate := func() int {
		if est < 0 {
			est, _ = tokens.CountChat(req.Model, tm)
		}
		return est
	}
	size := req.MaxTokens
	if p.tpm != nil {
		size += estimate()
	}
	var out openai.ChatCompletionResponse
	start := time.Now()
	attempts, err := p.do(ctx, size, func(ctx context.Context) error {
		r, err := p.client.CreateChatCompletion(ctx, openai.ChatCompletionRequest{
			Model: req.Model, Messages: msgs, Temperature: float32(req.Temperature), MaxTokens: req.MaxTokens,
		})
		if err == nil && len(r.Choices) == 0 {
			return errEmptyChoices
		}
		out = r
		return err
	})
	lat := float64(time.Since(start).Microseconds()) / 1000
	if err != nil {
		return Response{Attempts: attempts, LatencyMS: lat}, fmt.Errorf("provider %s: chat completion after %d attempt(s): %w", p.cfg.Name, attempts, err)
	}
	res := Response{Content: out.Choices[0].Message.Content, LatencyMS: lat, Attempts: attempts, Model: out.Model, SystemFingerprint: out.SystemFingerprint}
	if out.Usage.PromptTokens > 0 || out.Usage.CompletionTokens > 0 {
		res.PromptTokens, res.CompletionTokens, res.UsageReported = out.Usage.PromptTokens, out.Usage.CompletionTokens, true
	} else {
		res.PromptTokens = estimate()
		res.CompletionTokens, _ = tokens.Count(tokens.EncodingFor(req.Model), res.Content)
	}
	return res, nil
}

// Moderate calls the moderation endpoint.
func (p *OpenAI) Moderate(ctx context.Context, model, text string) (Moderation, error) {
	var out openai.ModerationResponse
	_, err := p.do(ctx, 0, func(ctx context.Context) error {
		r, err := p.client.Moderations(ctx, openai.ModerationRequest{Model: model, Input: text})
		if err == nil && len(r.Results) == 0 {
			return errEmptyChoices
		}
		out = r
		return err
	})
	if err != nil {
		return Moderation{}, fmt.Errorf("provider %s: moderation: %w", p.cfg.Name, err)
	}
	r := out.Results[0]
	m := Moderation{Flagged: r.Flagged, Scores: map[string]float64{}}
	raw, _ := json.Marshal(r.CategoryScores)
	var scores map[string]float64
	_ = json.Unmarshal(raw, &scores)
	for k, v := range scores {
		m.Scores[k] = v
		m.MaxScore = max(m.MaxScore, v)
	}
	return m, nil
}

// Embed calls the embeddings endpoint.
func (p *OpenAI) Embed(ctx context.Context, model string, texts []string) ([][]float32, error) {
	var out openai.EmbeddingResponse
	_, err := p.do(ctx, 0, func(ctx context.Context) error {
		r, err := p.client.CreateEmbeddings(ctx, openai.EmbeddingRequestStrings{Input: texts, Model: openai.EmbeddingModel(model)})
		if err == nil && len(r.Data) != len(texts) {
			return fmt.Errorf("embeddings: got %d vectors for %d inputs: %w", len(r.Data), len(texts), errEmptyChoices)
		}
		out = r
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("provider %s: embeddings: %w", p.cfg.Name, err)
	}
	vecs := make([][]float32, len(texts))
	for i, d := range out.Data {
		if d.Index >= 0 && d.Index < len(vecs) {
			vecs[d.Index] = d.Embedding
		} else {
			vecs[i] = d.Embedding
		}
	}
	return vecs, nil
}

// ConfigError is a provider fault a person must fix — nothing listens at
// base_url, its host is unknown, the key is rejected, the model is not
// there. It is never retried, and a run stops at the first one instead of
// failing every case: the error is the same for all of them.
type ConfigError struct {
	Provider string
	Code     string // provider_unreachable, provider_unknown_host, provider_auth, provider_not_found
	Hint     string // what to check
	Err      error
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("%v (%s: provider %s: %s)", e.Err, e.Code, e.Provider, e.Hint)
}

func (e *ConfigError) Unwrap() error { return e.Err }

// explainProvider turns a provider error a person must fix into a
// ConfigError saying what to check; others pass through.
func explainProvider(cfg Config, err error) error {
	var dnsErr *net.DNSError
	status, _ := httpStatus(err)
	ce := &ConfigError{Provider: cfg.Name, Err: err}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		ce.Code, ce.Hint = "provider_unreachable", fmt.Sprintf("nothing listens at base_url %s: is the server running?", cfg.BaseURL)
	case errors.As(err, &dnsErr) && !dnsErr.IsTimeout && !dnsErr.IsTemporary:
		ce.Code, ce.Hint = "provider_unknown_host", fmt.Sprintf("host %q not found: check base_url and the network", dnsErr.Name)
	case status == 401 || status == 403:
		ce.Code, ce.Hint = "provider_auth", fmt.Sprintf("the API key was rejected: check %s", cfg.APIKeyEnv)
	case status == 404:
		ce.Code, ce.Hint = "provider_not_found", "not found: check the model id and base_url"
	default:
		return err
	}
	return ce
}
