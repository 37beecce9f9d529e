package evals

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/evals/evaltest"
	"github.com/cairn-dev/cairn/evals/provider"
	"github.com/cairn-dev/cairn/state"
)

// fixture writes a spec repo's dataset and returns a hand-built bundle whose
// prompt "qa" (gpt-4o-mini on provider "llm" at baseURL) is scored by suite "qa".
func fixture(t testing.TB, baseURL string, n int, metrics map[string]compiler.Metric) *compiler.Bundle {
	t.Helper()
	root := t.TempDir()
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `{"id": "c%04d", "vars": {"question": "q%d"}, "reference": "answer: q%d"}`+"\n", i, i, i)
	}
	if err := os.WriteFile(filepath.Join(root, "ds.jsonl"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if metrics == nil {
		metrics = map[string]compiler.Metric{"exact": {Scorer: "exact", Threshold: 1, Aggregate: "mean"}}
	}
	return &compiler.Bundle{
		Root:      root,
		Providers: map[string]*compiler.Provider{"llm": {Name: "llm", Kind: "openai-compatible", BaseURL: baseURL, APIKeyEnv: "TEST_KEY"}},
		Prompts: map[string]*compiler.Prompt{"qa": {Name: "qa", Template: "{{ question }}",
			Model: compiler.PromptModel{Provider: "llm", ID: "gpt-4o-mini", MaxTokens: 64}}},
		Evals: map[string]*compiler.Eval{"qa": {Name: "qa", Target: compiler.EvalTarget{Prompt: "qa"}, Dataset: "ds.jsonl", Metrics: metrics, Repeats: 1}},
	}
}

func fastOpts(store Store) Options {
	return Options{Parallel: 8, Store: store, Getenv: func(string) string { return "sk-test" }, MaxRetries: 3, BackoffBase: time.Millisecond}
}

func TestRunPassesAndCaches(t *testing.T) {
	srv := evaltest.New(evaltest.Options{})
	defer srv.Close()
	b := fixture(t, srv.URL(), 20, nil)
	store := NewMemStore()
	run, err := RunSuite(context.Background(), b, "qa", fastOpts(store))
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != Pass || !run.Passed || run.Errors != 0 || len(run.Cases) != 20 {
		t.Fatalf("run = %s passed=%v errors=%d cases=%d", run.Status, run.Passed, run.Errors, len(run.Cases))
	}
	if got := srv.RequestsTo("chat/completions"); got != 20 {
		t.Errorf("first run made %d calls, want 20", got)
	}
	if run.CostUSD <= 0 || run.InputTokens == 0 {
		t.Errorf("no metering: cost %v tokens %d", run.CostUSD, run.InputTokens)
	}
	srv.Reset()
	again, err := RunSuite(context.Background(), b, "qa", fastOpts(store))
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.Requests(); got != 0 {
		t.Errorf("cached rerun made %d provider calls, want 0", got)
	}
	if again.CacheHits != 20 || again.Status != Pass {
		t.Errorf("rerun: hits %d status %s", again.CacheHits, again.Status)
	}
	// --no-cache calls the provider again.
	o := fastOpts(store)
	o.NoCache = true
	if _, err := RunSuite(context.Background(), b, "qa", o); err != nil {
		t.Fatal(err)
	}
	if got := srv.RequestsTo("chat/completions"); got != 20 {
		t.Errorf("--no-cache made %d calls, want 20", got)
	}
}

func TestFaultsRetriesAndRerunRepeatsOnlyFailures(t *testing.T) {
	// Transient faults succeed on retry; "q3" and "q4" fail every time.
	faults := func(path, prompt string, attempt int) evaltest.Fault {
		switch prompt {
		case "q0":
			if attempt == 1 {
				return evaltest.Fault429
			}
		case "q1":
			if attempt <= 2 {
				return evaltest.Fault500
			}
		case "q2":
			if attempt == 1 {
				return evaltest.FaultTruncated
			}
		case "q3":
			return evaltest.FaultMalformed
		case "q4":
			return evaltest.FaultTimeout
		case "q5":
			if attempt == 1 {
				return evaltest.FaultEmptyChoice
			}
		}
		return evaltest.FaultNone
	}
	permanent := true
	srv := evaltest.New(evaltest.Options{Faults: func(p, q string, a int) evaltest.Fault {
		if !permanent && (q == "q3" || q == "q4") {
			return evaltest.FaultNone
		}
		return faults(p, q, a)
	}})
	defer srv.Close()
	b := fixture(t, srv.URL(), 8, nil)
	b.Providers["llm"].TimeoutSeconds = 0.2
	store := NewMemStore()
	run, err := RunSuite(context.Background(), b, "qa", fastOpts(store))
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]CaseResult{}
	for _, c := range run.Cases {
		byID[c.ID] = c
	}
	for _, id := range []string{"c0000", "c0001", "c0002", "c0005", "c0006", "c0007"} {
		if byID[id].Status != Pass {
			t.Errorf("%s: %s %s (attempts %d)", id, byID[id].Status, byID[id].Error, byID[id].Attempts)
		}
	}
	if byID["c0001"].Attempts != 3 || byID["c0000"].Attempts != 2 {
		t.Errorf("attempts: c0000=%d c0001=%d", byID["c0000"].Attempts, byID["c0001"].Attempts)
	}
	for _, id := range []string{"c0003", "c0004"} {
		if byID[id].Status != Error || byID[id].Error == "" {
			t.Errorf("%s: want ERROR with a message, got %s %q", id, byID[id].Status, byID[id].Error)
		}
	}
	if run.Status != Error || run.Passed || run.Errors != 2 {
		t.Errorf("suite with errors: status %s passed %v errors %d", run.Status, run.Passed, run.Errors)
	}
	if run.Metrics[0].Errors != 2 || run.Metrics[0].Cases != 6 || !run.Metrics[0].Pass {
		t.Errorf("metric: %+v", run.Metrics[0])
	}
	// The rerun repeats only what failed.
	permanent = false
	srv.Reset()
	again, err := RunSuite(context.Background(), b, "qa", fastOpts(store))
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.RequestsTo("chat/completions"); got != 2 {
		t.Errorf("rerun made %d calls, want 2 (only the failed cases)", got)
	}
	if again.Status != Pass {
		t.Errorf("rerun status %s", again.Status)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	srv := evaltest.New(evaltest.Options{RetryAfter: "0.3", Faults: func(_, _ string, a int) evaltest.Fault {
		if a == 1 {
			return evaltest.Fault429
		}
		return evaltest.FaultNone
	}})
	defer srv.Close()
	p, err := provider.NewOpenAI(provider.Config{Name: "x", Kind: "openai-compatible", BaseURL: srv.URL(), APIKey: "k", BackoffBase: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, err := p.Complete(context.Background(), provider.Request{Model: "gpt-4o", Messages: []provider.Message{{Role: "user", Content: "hi"}}})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Errorf("retried after %v, before Retry-After 0.3s", el)
	}
	if resp.Attempts != 2 || resp.Content != "answer: hi" {
		t.Errorf("resp %+v", resp)
	}
}

func TestJudgeGarbageIsError(t *testing.T) {
	srv := evaltest.New(evaltest.Options{Reply: func(model, prompt string) string {
		if strings.HasPrefix(model, "judge") {
			if strings.Contains(prompt, "q1") {
				return "I cannot decide."
			}
			return "The submission matches.\nC"
		}
		return "answer: " + prompt
	}})
	defer srv.Close()
	b := fixture(t, srv.URL(), 3, map[string]compiler.Metric{
		"fact": {Scorer: "factuality", Threshold: 0.9, Aggregate: "mean", Judge: &compiler.Judge{Provider: "llm", Model: "judge-1"}},
		"tox":  {Scorer: "toxicity", Threshold: 0.1, Aggregate: "max", Judge: &compiler.Judge{Provider: "llm", Model: "omni-moderation-latest"}},
	})
	run, err := RunSuite(context.Background(), b, "qa", fastOpts(NewMemStore()))
	if err != nil {
		t.Fatal(err)
	}
	if run.Cases[1].Status != Error || run.Cases[1].Metrics["fact"].Status != Error {
		t.Errorf("garbage judge reply: %+v", run.Cases[1])
	}
	if run.Cases[0].Status != Pass || *run.Cases[0].Metrics["fact"].Score != 1 {
		t.Errorf("judge C: %+v", run.Cases[0])
	}
	if run.Passed {
		t.Error("a run with an ERROR passed")
	}
	if srv.RequestsTo("moderations") != 3 {
		t.Errorf("moderation calls %d", srv.RequestsTo("moderations"))
	}
}

func TestReplayOfflineAndCompare(t *testing.T) {
	root := t.TempDir()
	ds := `{"id": "a", "vars": {"question": "capital of France?"}, "reference": "Paris", "output": "Paris"}
{"id": "b", "vars": {"question": "2+2?"}, "reference": "4", "output": "5"}
{"id": "c", "vars": {"question": "hi"}, "reference": "hello"}
`
	os.WriteFile(filepath.Join(root, "ds.jsonl"), []byte(ds), 0o644)
	b := &compiler.Bundle{Root: root,
		Providers: map[string]*compiler.Provider{"logs": {Name: "logs", Kind: "replay"}},
		Prompts:   map[string]*compiler.Prompt{"p": {Name: "p", Template: "{{ question }}", Model: compiler.PromptModel{Provider: "logs", ID: "gpt-4o"}}},
		Evals: map[string]*compiler.Eval{"s": {Name: "s", Target: compiler.EvalTarget{Prompt: "p"}, Dataset: "ds.jsonl", Repeats: 1,
			Metrics: map[string]compiler.Metric{"exact": {Scorer: "exact", Threshold: 0.5, Aggregate: "pass_rate"}}}}}
	run, err := RunSuite(context.Background(), b, "s", fastOpts(NewMemStore()))
	if err != nil {
		t.Fatal(err)
	}
	got := []Status{run.Cases[0].Status, run.Cases[1].Status, run.Cases[2].Status}
	if got[0] != Pass || got[1] != Fail || got[2] != Error {
		t.Errorf("statuses %v", got)
	}
	if m := run.Metrics[0]; m.Cases != 2 || m.Errors != 1 || *m.Value != 0.5 {
		t.Errorf("metric %+v", m)
	}
	if run.Status != Error || run.Passed {
		t.Errorf("status %s", run.Status)
	}
	head := *run
	head.Cases = append([]CaseResult(nil), run.Cases...)
	head.Cases[1].Status = Pass
	d := Compare(run, &head)
	if len(d.Transitions) != 1 || d.Transitions[0].ID != "b" || d.Transitions[0].From != Fail || d.Transitions[0].To != Pass {
		t.Errorf("transitions %+v", d.Transitions)
	}
}

func TestDatasetErrorsNameTheLine(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "d.jsonl"), []byte("{\"id\":\"a\"}\n{\"id\": \"b\", \"varz\": {}}\n"), 0o644)
	_, err := LoadDataset(filepath.Join(root, "d.jsonl"), "d.jsonl")
	if err == nil || !strings.Contains(err.Error(), "d.jsonl:2:1") || !strings.Contains(err.Error(), "varz") {
		t.Errorf("err = %v", err)
	}
}

// TestRunRecordsWhatAnswered: the model id the provider reports (a dated
// snapshot for an alias) and its system_fingerprint are kept per case and
// summarised per run — also on a cached rerun, which reuses the outputs
// those models produced; a provider that reports no fingerprint has none.
func TestRunRecordsWhatAnswered(t *testing.T) {
	fp := "fp_44709d6fcb"
	srv := evaltest.New(evaltest.Options{SystemFingerprint: fp, AnsweringModel: func(asked string) string {
		if asked == "gpt-4o-mini" {
			return "gpt-4o-mini-2024-07-18"
		}
		return asked
	}})
	defer srv.Close()
	b := fixture(t, srv.URL(), 6, nil)
	store := NewMemStore()
	for _, pass := range []string{"fresh", "cached"} {
		run, err := RunSuite(context.Background(), b, "qa", fastOpts(store))
		if err != nil {
			t.Fatal(err)
		}
		if len(run.Answered) != 1 || run.Answered[0] != (state.Answered{Model: "gpt-4o-mini-2024-07-18", SystemFingerprint: fp, Cases: 6}) {
			t.Fatalf("%s run: answered %+v", pass, run.Answered)
		}
		if c := run.Cases[0]; c.ModelReported != "gpt-4o-mini-2024-07-18" || c.SystemFingerprint != fp {
			t.Fatalf("%s case: %+v", pass, c)
		}
	}
	plain := evaltest.New(evaltest.Options{})
	defer plain.Close()
	run, err := RunSuite(context.Background(), fixture(t, plain.URL(), 2, nil), "qa", fastOpts(NewMemStore()))
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Answered) != 1 || run.Answered[0].Model != "gpt-4o-mini" || run.Answered[0].SystemFingerprint != "" {
		t.Fatalf("answered %+v", run.Answered)
	}
}
