package provider

import (
	"context"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/evals/evaltest"
	"github.com/cairn-dev/cairn/tokens"
)

// Tokens come from the server's usage when it reports them; from a server
// that reports none they are counted here, with the model's encoding (the
// prompt is counted only then, not for every call).
func TestCompletionUsage(t *testing.T) {
	msgs := []Message{{Role: "system", Content: "Answer briefly."}, {Role: "user", Content: "what is the capital of France"}}
	for _, omit := range []bool{false, true} {
		srv := evaltest.New(evaltest.Options{OmitUsage: omit})
		p, err := NewOpenAI(Config{Name: "local", Kind: "openai-compatible", BaseURL: srv.URL(), MaxRetries: -1})
		if err != nil {
			t.Fatal(err)
		}
		res, err := p.Complete(context.Background(), Request{Model: "gpt-4o-mini", Messages: msgs, MaxTokens: 32})
		srv.Close()
		if err != nil {
			t.Fatal(err)
		}
		if res.Content != "answer: what is the capital of France" {
			t.Fatalf("content %q", res.Content)
		}
		if !omit {
			// The test server's usage: words + 4 per message, words of the reply.
			if !res.UsageReported || res.PromptTokens != (2+4)+(6+4) || res.CompletionTokens != 7 {
				t.Errorf("reported usage: %+v", res)
			}
			continue
		}
		tm := []tokens.Message{{Role: "system", Content: msgs[0].Content}, {Role: "user", Content: msgs[1].Content}}
		wantIn, err := tokens.CountChat("gpt-4o-mini", tm)
		if err != nil {
			t.Fatal(err)
		}
		wantOut, _ := tokens.Count(tokens.EncodingFor("gpt-4o-mini"), res.Content)
		if res.UsageReported || res.PromptTokens != wantIn || res.CompletionTokens != wantOut || wantIn == 0 {
			t.Errorf("counted usage: %+v, want prompt %d, completion %d", res, wantIn, wantOut)
		}
	}
}

// A call's backoff grows with the faults it backed off from, not with the
// throttles it waited out: throttled twice (each Retry-After waited in the
// flow), then answered 500, it backs off one step, as from a first fault.
func TestBackoffCountsFaultsNotThrottles(t *testing.T) {
	srv := evaltest.New(evaltest.Options{RetryAfter: "0.01", Faults: func(_, _ string, attempt int) evaltest.Fault {
		switch attempt { // 1 for the first
		case 1, 2:
			return evaltest.Fault429
		case 3:
			return evaltest.Fault500
		}
		return evaltest.FaultNone
	}})
	defer srv.Close()
	p, err := NewOpenAI(Config{Name: "local", Kind: "openai-compatible", BaseURL: srv.URL(), BackoffBase: 400 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var slept []time.Duration
	p.sleep = func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }
	res, err := p.Complete(context.Background(), Request{Model: "gpt-4o-mini", Messages: []Message{{Role: "user", Content: "q"}}, MaxTokens: 8})
	if err != nil {
		t.Fatal(err)
	}
	if res.Attempts != 4 {
		t.Errorf("%d attempts, want 4 (two throttles, a 500, an answer)", res.Attempts)
	}
	if len(slept) != 1 || slept[0] < 200*time.Millisecond || slept[0] > 400*time.Millisecond {
		t.Errorf("backed off %v; want one wait of the first step (200–400 ms), not the third (800–1600 ms)", slept)
	}
}
