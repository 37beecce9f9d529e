package evals

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/evals/evaltest"
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

	// Nothing listens at base_url: each case says so after one attempt.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/v1"
	ln.Close()
	b = fixture(t, closed, 3, nil)
	opts = fastOpts(NewMemStore())
	opts.MaxRetries, opts.BackoffBase = 4, 200*time.Millisecond // retries would take seconds
	start = time.Now()
	run, err := RunSuite(ctx, b, "qa", opts)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("connection refused took %s: retried", took)
	}
	for _, c := range run.Cases {
		if c.Status != Error || !strings.Contains(c.Error, "nothing listens at base_url") {
			t.Fatalf("case %s: %s %q", c.ID, c.Status, c.Error)
		}
	}
}
