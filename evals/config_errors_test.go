package evals

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/evals/evaltest"
	"github.com/cairn-dev/cairn/evals/provider"
)

// Provider configuration errors are reported at once, with what to check,
// and never retried: retries are for 429, 5xx and timeouts.
func TestProviderConfigurationErrors(t *testing.T) {
	ctx := context.Background()
	srv := evaltest.New(evaltest.Options{})
	defer srv.Close()

	// A hosted provider without its key: one error before any case runs.
	b := fixture(t, srv.URL(), 5, nil)
	b.Providers["llm"].Kind = "openai"
	opts := fastOpts(NewMemStore())
	opts.Getenv = func(string) string { return "" }
	start := time.Now()
	_, err := RunSuite(ctx, b, "qa", opts)
	if err == nil || !strings.Contains(err.Error(), "provider llm: TEST_KEY is not set") {
		t.Fatalf("missing key: %v", err)
	}
	if srv.RequestsTo("chat/completions") != 0 || time.Since(start) > 2*time.Second {
		t.Errorf("missing key: %d calls in %s", srv.RequestsTo("chat/completions"), time.Since(start))
	}

	// A base_url that is not a URL.
	b = fixture(t, "localhost:8000/v1", 5, nil)
	if _, err := RunSuite(ctx, b, "qa", fastOpts(NewMemStore())); err == nil || !strings.Contains(err.Error(), `base_url "localhost:8000/v1" is not an http(s) URL`) {
		t.Fatalf("bad base_url: %v", err)
	}

	// Nothing listens at base_url, the key is rejected, the model is not
	// there: the run stops at the first case with a code and what to check,
	// after one attempt, instead of failing all 200 cases the same way.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/v1"
	ln.Close()
	for _, c := range []struct {
		name  string
		fault evaltest.Fault
		code  string
		hint  string
	}{
		{"refused", "", "provider_unreachable", "nothing listens at base_url " + closed},
		{"401", evaltest.Fault401, "provider_auth", "the API key was rejected: check TEST_KEY"},
		{"404", evaltest.Fault404, "provider_not_found", "check the model id and base_url"},
	} {
		url := closed
		var srv *evaltest.Server
		if c.fault != "" {
			srv = evaltest.New(evaltest.Options{Faults: func(string, string, int) evaltest.Fault { return c.fault }})
			url = srv.URL()
		}
		b = fixture(t, url, 200, nil)
		opts = fastOpts(NewMemStore())
		opts.Parallel = 4
		opts.MaxRetries, opts.BackoffBase = 4, 200*time.Millisecond // retries would take seconds
		start = time.Now()
		_, err := RunSuite(ctx, b, "qa", opts)
		took := time.Since(start)
		var ce *provider.ConfigError
		if !errors.As(err, &ce) || ce.Code != c.code || !strings.Contains(err.Error(), c.hint) || !strings.Contains(err.Error(), "provider llm") {
			t.Fatalf("%s: %v; want a %s error saying %q", c.name, err, c.code, c.hint)
		}
		// Four retries back off 0.2+0.4+0.8+1.6 s: a run that retried takes
		// 3 s or more, one that stopped at once well under that even on a
		// loaded CI machine (a 1 s bound flaked there).
		if took > 2500*time.Millisecond {
			t.Errorf("%s took %s: retried or ran every case", c.name, took)
		}
		if srv != nil {
			// One attempt per case in flight when the first failed, never 200.
			if n := srv.RequestsTo("chat/completions"); n > int64(opts.Parallel*2) {
				t.Errorf("%s: %d calls after the first configuration error", c.name, n)
			}
			srv.Close()
		}
	}

	// A judge whose key is rejected stops the run the same way.
	gen := evaltest.New(evaltest.Options{})
	defer gen.Close()
	judge := evaltest.New(evaltest.Options{Faults: func(string, string, int) evaltest.Fault { return evaltest.Fault401 }})
	defer judge.Close()
	b = fixture(t, gen.URL(), 50, map[string]compiler.Metric{"tox": {Scorer: "toxicity", Threshold: 0.5, Aggregate: "mean", Judge: &compiler.Judge{Provider: "judge", Model: "omni-moderation-latest"}}})
	b.Providers["judge"] = &compiler.Provider{Name: "judge", Kind: "openai-compatible", BaseURL: judge.URL(), APIKeyEnv: "JUDGE_KEY"}
	_, err = RunSuite(ctx, b, "qa", fastOpts(NewMemStore()))
	var ce *provider.ConfigError
	if !errors.As(err, &ce) || ce.Provider != "judge" || ce.Code != "provider_auth" || !strings.Contains(err.Error(), "check JUDGE_KEY") {
		t.Fatalf("judge 401: %v", err)
	}
	if n := judge.Requests(); n > 16 {
		t.Errorf("judge 401: %d judge calls, want the run stopped at the first", n)
	}
}
