package evals

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/evals/evaltest"
)

// classicFixture is a classic model's suite over n logged predictions (rows
// of named features, as a training pipeline logs them), scored by a regex.
func classicFixture(t testing.TB, n int) *compiler.Bundle {
	t.Helper()
	root := t.TempDir()
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		out := fmt.Sprint(1000 + i%7*500)
		if i%5 == 0 {
			out = "n/a" // fails the pattern
		}
		fmt.Fprintf(&b, `{"id": "l%d", "vars": {"income-monthly": %d, "employer": %q, "debt-ratio": %.2f}, "reference": "1", "output": %q}`+"\n",
			i, 1000+i*7%9000, strings.Repeat("x", 200+i%50), float64(i%300)/100, out)
	}
	if err := os.WriteFile(filepath.Join(root, "ds.jsonl"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return &compiler.Bundle{
		Root:   root,
		Models: map[string]*compiler.Model{"limit": {Name: "limit", Kind: "classic"}},
		Evals: map[string]*compiler.Eval{"holdout": {Name: "holdout", Target: compiler.EvalTarget{Model: "limit"}, Dataset: "ds.jsonl", Repeats: 1,
			Metrics: map[string]compiler.Metric{"numeric": {Scorer: "regex", Pattern: "^[0-9]+$", Threshold: 0.5, Aggregate: "pass_rate"}}}},
	}
}

// A classic model's output is a logged prediction: no tokens, no cost.
func TestClassicModelIsNotTokenMetered(t *testing.T) {
	b := classicFixture(t, 50)
	run, err := RunSuite(context.Background(), b, "holdout", Options{Store: NewMemStore()})
	if err != nil {
		t.Fatal(err)
	}
	if run.InputTokens != 0 || run.OutTokens != 0 || run.CostUSD != 0 {
		t.Errorf("classic run metered: tokens %d/%d cost %v", run.InputTokens, run.OutTokens, run.CostUSD)
	}
	if m := run.Metrics[0]; m.Cases != 50 || *m.Value != 0.8 || !m.Pass {
		t.Errorf("metric %+v (value %v)", m, *m.Value)
	}
	// An LLM prompt replayed from logs is still metered.
	llm := &compiler.Bundle{Root: t.TempDir(),
		Providers: map[string]*compiler.Provider{"logs": {Name: "logs", Kind: "replay"}},
		Prompts:   map[string]*compiler.Prompt{"p": {Name: "p", Template: "Answer: {{ question }}", Model: compiler.PromptModel{Provider: "logs", ID: "gpt-4o-mini"}}},
		Evals: map[string]*compiler.Eval{"s": {Name: "s", Target: compiler.EvalTarget{Prompt: "p"}, Dataset: "ds.jsonl", Repeats: 1,
			Metrics: map[string]compiler.Metric{"exact": {Scorer: "exact", Threshold: 0.5}}}}}
	os.WriteFile(filepath.Join(llm.Root, "ds.jsonl"), []byte(`{"id": "a", "vars": {"question": "2+2?"}, "reference": "4", "output": "4"}`+"\n"), 0o644)
	lr, err := RunSuite(context.Background(), llm, "s", Options{Store: NewMemStore()})
	if err != nil {
		t.Fatal(err)
	}
	if lr.InputTokens == 0 || lr.OutTokens == 0 || lr.CostUSD == 0 {
		t.Errorf("replayed LLM prompt not metered: tokens %d/%d cost %v", lr.InputTokens, lr.OutTokens, lr.CostUSD)
	}
}

// RunSuite streams the dataset; its results must be exactly those of
// planning every case up front (Plan + ExecuteAll + Summarize).
func TestStreamingRunEqualsPlannedRun(t *testing.T) {
	srv := evaltest.New(evaltest.Options{})
	defer srv.Close()
	for name, b := range map[string]*compiler.Bundle{"classic": classicFixture(t, 300), "llm": fixture(t, srv.URL(), 40, nil)} {
		suite := "holdout"
		if name == "llm" {
			suite = "qa"
			b.Evals[suite].Repeats = 2
		}
		streamed, err := RunSuite(context.Background(), b, suite, fastOpts(NewMemStore()))
		if err != nil {
			t.Fatal(err)
		}
		cases, err := Plan(b, suite, nil)
		if err != nil {
			t.Fatal(err)
		}
		eng, err := NewEngine(b, fastOpts(NewMemStore()))
		if err != nil {
			t.Fatal(err)
		}
		results, err := eng.ExecuteAll(context.Background(), cases, 8, nil)
		if err != nil {
			t.Fatal(err)
		}
		planned := Summarize(suite, cases, results, 0)
		strip := func(r *Run) []byte {
			c := *r
			c.DurationMS, c.BundleHash, c.DatasetHash = 0, "", ""
			c.Cases = append([]CaseResult(nil), r.Cases...)
			for i := range c.Cases {
				c.Cases[i].LatencyMS = 0
			}
			v, _ := json.Marshal(c)
			return v
		}
		if a, b := strip(streamed), strip(planned); !bytes.Equal(a, b) {
			t.Errorf("%s: streamed run differs from the planned run:\n%s\n%s", name, a, b)
		}
		if len(streamed.Cases) == 0 {
			t.Errorf("%s: no cases", name)
		}
	}
}

// A bad row anywhere in the dataset is an error before any provider call.
func TestBadRowFailsBeforeAnyCall(t *testing.T) {
	srv := evaltest.New(evaltest.Options{})
	defer srv.Close()
	b := fixture(t, srv.URL(), 30, nil)
	f, _ := os.OpenFile(filepath.Join(b.Root, "ds.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"id": "late", "vars": {"question": "q"}} sk-trailing` + "\n")
	f.Close()
	_, err := RunSuite(context.Background(), b, "qa", fastOpts(NewMemStore()))
	if err == nil || !strings.Contains(err.Error(), "ds.jsonl:31:") || !strings.Contains(err.Error(), "after the row's JSON object") {
		t.Fatalf("err = %v", err)
	}
	if n := srv.Requests(); n != 0 {
		t.Errorf("%d provider calls before the bad row was found", n)
	}
}

func TestDatasetRowErrors(t *testing.T) {
	for _, tc := range []struct{ name, data, want string }{
		{"two objects", `{"id": "a", "vars": {}}{"id": "b", "vars": {}}`, "d.jsonl:1:24: unexpected text after the row's JSON object"},
		{"trailing text", `{"id": "a", "vars": {}}  secret`, "d.jsonl:1:26: unexpected text"},
		{"duplicate", "{\"id\": \"a\"}\n\n{\"id\": \"a\"}", `d.jsonl:3:1: duplicate id "a" (first on line 1)`},
		{"unknown field", `{"id": "a", "varz": {}}`, `d.jsonl:1:1: json: unknown field "varz"`},
		{"no id", `{"vars": {}}`, "d.jsonl:1:1: row has no id"},
	} {
		root := t.TempDir()
		os.WriteFile(filepath.Join(root, "d.jsonl"), []byte(tc.data), 0o644)
		_, err := LoadDataset(filepath.Join(root, "d.jsonl"), "d.jsonl")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	// A long last line without a newline, CRLF line ends and a query field.
	root := t.TempDir()
	long := strings.Repeat("y", 600<<10)
	os.WriteFile(filepath.Join(root, "d.jsonl"), []byte("{\"id\": 1, \"vars\": {\"n\": 2}, \"query\": \"refunds\"}\r\n{\"id\": \"b\", \"vars\": {\"t\": \""+long+"\"}}"), 0o644)
	rows, err := LoadDataset(filepath.Join(root, "d.jsonl"), "d.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	want := []Row{{ID: "1", Vars: map[string]string{"n": "2"}, Query: "refunds"}, {ID: "b", Vars: map[string]string{"t": long}}}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("rows differ: %d rows, first %+v", len(rows), rows[0])
	}
}

// With no store the cache lives for the run only and no records are
// written; with one, the run record holds no cases (each is its own record).
func TestRunRecords(t *testing.T) {
	b := classicFixture(t, 20)
	run, err := RunSuite(context.Background(), b, "holdout", Options{})
	if err != nil || len(run.Cases) != 20 {
		t.Fatalf("run without a store: %v", err)
	}
	st := NewMemStore()
	if _, err := RunSuite(context.Background(), b, "holdout", Options{Store: st}); err != nil {
		t.Fatal(err)
	}
	cases, _ := st.ListRecords(context.Background(), KindCase, "holdout@")
	runs, _ := st.ListRecords(context.Background(), KindRun, "holdout@")
	if len(cases) != 20 || len(runs) != 1 {
		t.Fatalf("%d case records, %d run records", len(cases), len(runs))
	}
	for _, v := range runs {
		var r Run
		if err := json.Unmarshal(v, &r); err != nil || r.Cases != nil || r.Status != Pass || len(r.Metrics) != 1 || len(r.Rows) != 20 {
			t.Errorf("run record %s", v)
		}
	}
}

// Cases with equal metric results share one map; different ones do not.
func TestMetricsInterned(t *testing.T) {
	b := classicFixture(t, 10)
	run, err := RunSuite(context.Background(), b, "holdout", Options{})
	if err != nil {
		t.Fatal(err)
	}
	ptr := func(i int) uintptr { return reflect.ValueOf(run.Cases[i].Metrics).Pointer() }
	if ptr(1) != ptr(2) || ptr(0) == ptr(1) || ptr(0) != ptr(5) {
		t.Errorf("interning: %v %v %v %v", ptr(0), ptr(1), ptr(2), ptr(5))
	}
	if run.Cases[0].Metrics["numeric"].Status != Fail || run.Cases[1].Metrics["numeric"].Status != Pass {
		t.Errorf("statuses %+v %+v", run.Cases[0].Metrics, run.Cases[1].Metrics)
	}
}

// Without a store, provider generations are still cached for the run (a
// duplicate row is not paid for twice); replayed outputs are not kept.
func TestEphemeralCacheKeepsOnlyNetworkResults(t *testing.T) {
	srv := evaltest.New(evaltest.Options{})
	defer srv.Close()
	b := fixture(t, srv.URL(), 1, nil)
	os.WriteFile(filepath.Join(b.Root, "ds.jsonl"), []byte(`{"id": "a", "vars": {"question": "q1"}, "reference": "answer: q1"}
{"id": "b", "vars": {"question": "q1"}, "reference": "answer: q1"}
{"id": "c", "vars": {"question": "q2"}, "reference": "answer: q2"}
`), 0o644)
	o := fastOpts(nil)
	o.Parallel = 1 // the duplicate runs after its twin
	run, err := RunSuite(context.Background(), b, "qa", o)
	if err != nil {
		t.Fatal(err)
	}
	if n := srv.RequestsTo("chat/completions"); n != 2 || run.CacheHits != 1 || run.Status != Pass {
		t.Errorf("%d provider calls, %d cache hits, %s; want 2, 1, PASS", n, run.CacheHits, run.Status)
	}
	classic := classicFixture(t, 3)
	os.WriteFile(filepath.Join(classic.Root, "ds.jsonl"), []byte(`{"id": "a", "vars": {"x": 1}, "output": "5"}
{"id": "b", "vars": {"x": 1}, "output": "5"}
`), 0o644)
	run, err = RunSuite(context.Background(), classic, "holdout", Options{Parallel: 1})
	if err != nil {
		t.Fatal(err)
	}
	if run.CacheHits != 0 || run.Status != Pass || len(run.Cases) != 2 {
		t.Errorf("replay without a store: %d hits, %s, %d cases", run.CacheHits, run.Status, len(run.Cases))
	}
	// With a store, the same rows are cached as before.
	run, err = RunSuite(context.Background(), classic, "holdout", Options{Parallel: 1, Store: NewMemStore()})
	if err != nil || run.CacheHits != 1 {
		t.Errorf("replay with a store: %d hits, %v", run.CacheHits, err)
	}
}
