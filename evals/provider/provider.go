// Package provider is cairn's interface to LLM providers: OpenAI, Azure
// OpenAI and any OpenAI-compatible server through go-openai, with retries that
// honour Retry-After, a per-request timeout, per-provider concurrency and rate
// limits; and replay, which returns the output logged in a dataset row.
package provider

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Message is one chat message.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Request is one chat completion.
type Request struct {
	Model       string    `json:"model"`
	Messages    []Message `json:"messages"`
	Temperature float64   `json:"temperature"`
	MaxTokens   int       `json:"max_tokens"`
	// Logged is the dataset row's output, used by replay.
	Logged *string `json:"-"`
}

// Response is a completion's text and metering.
type Response struct {
	Content          string  `json:"content"`
	PromptTokens     int     `json:"prompt_tokens"`
	CompletionTokens int     `json:"completion_tokens"`
	UsageReported    bool    `json:"usage_reported"` // false: counted locally with tiktoken
	LatencyMS        float64 `json:"latency_ms"`
	Attempts         int     `json:"attempts"`
	// Model is the model id the provider says answered (it can differ from
	// the one asked for: an alias resolved to a dated snapshot), and
	// SystemFingerprint its backend configuration, when it gives one.
	Model             string `json:"model,omitempty"`
	SystemFingerprint string `json:"system_fingerprint,omitempty"`
}

// Moderation is a moderation endpoint's verdict.
type Moderation struct {
	Flagged  bool               `json:"flagged"`
	MaxScore float64            `json:"max_score"`
	Scores   map[string]float64 `json:"scores"`
}

// Provider completes chats. Implementations are safe for concurrent use.
type Provider interface {
	Complete(ctx context.Context, req Request) (Response, error)
}

// Moderator scores text on a moderation endpoint.
type Moderator interface {
	Moderate(ctx context.Context, model, text string) (Moderation, error)
}

// Embedder embeds texts.
type Embedder interface {
	Embed(ctx context.Context, model string, texts []string) ([][]float32, error)
}

// ErrNoLoggedOutput is replay's error for a row without an output.
var ErrNoLoggedOutput = errors.New("replay: the dataset row has no output to replay")

// Replay returns each row's logged output: offline scoring of logged outputs.
type Replay struct{}

func (Replay) Complete(ctx context.Context, req Request) (Response, error) {
	if req.Logged == nil {
		return Response{}, ErrNoLoggedOutput
	}
	return Response{Content: *req.Logged, Attempts: 1}, nil
}

// Config configures an OpenAI-family provider.
type Config struct {
	Name       string
	Kind       string // openai | azure-openai | openai-compatible
	BaseURL    string
	APIKey     string // read from the spec's api_key_env by the caller; never logged
	APIKeyEnv  string // the variable APIKey was read from, for the message when it is empty
	APIVersion string // azure-openai
	Timeout    time.Duration
	// MaxRetries is the number of retries after the first attempt.
	MaxRetries int
	// BackoffBase is the first retry's delay when the server gives no Retry-After.
	BackoffBase time.Duration
	// MaxBackoff caps any single wait, Retry-After included.
	MaxBackoff        time.Duration
	Concurrency       int
	RequestsPerMinute int
	TokensPerMinute   int
}

func (c Config) String() string { return fmt.Sprintf("%s (%s %s)", c.Name, c.Kind, c.BaseURL) }
