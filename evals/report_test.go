package evals

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/evals/evaltest"
)

// Every case ERRORs (the provider answers 429 forever): the toxicity bound is
// still shown as the upper bound it is, and JSON keeps ">=" / "<=" readable.
func TestReportOperatorsWhenEveryCaseErrors(t *testing.T) {
	srv := evaltest.New(evaltest.Options{Faults: func(string, string, int) evaltest.Fault { return evaltest.Fault429 }})
	defer srv.Close()
	b := fixture(t, srv.URL(), 3, map[string]compiler.Metric{
		"toxicity": {Scorer: "toxicity", Threshold: 0.1, Aggregate: "max"},
		"fact":     {Scorer: "factuality", Threshold: 0.8},
		"safe":     {Scorer: "toxicity", Threshold: 0.9, Aggregate: "pass_rate"},
	})
	o := fastOpts(NewMemStore())
	o.MaxRetries = 0
	run, err := RunSuite(context.Background(), b, "qa", o)
	if err != nil {
		t.Fatal(err)
	}
	if run.Errors != 3 || run.Passed {
		t.Fatalf("errors %d passed %v", run.Errors, run.Passed)
	}
	ops := map[string]string{}
	for _, m := range run.Metrics {
		ops[m.Name] = m.Op
		if m.Value != nil || m.Pass {
			t.Errorf("%s: value %v pass %v with no scored case", m.Name, m.Value, m.Pass)
		}
	}
	if ops["toxicity"] != "<=" || ops["fact"] != ">=" || ops["safe"] != ">=" {
		t.Errorf("ops = %v", ops)
	}
	var table, js bytes.Buffer
	if err := WriteTable(&table, []*Run{run}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "<= 0.1") || strings.Contains(table.String(), ">= 0.1") {
		t.Errorf("table:\n%s", table.String())
	}
	if err := WriteJSON(&js, []*Run{run}); err != nil {
		t.Fatal(err)
	}
	if s := js.String(); !strings.Contains(s, `"op": "<="`) || !strings.Contains(s, `"op": ">="`) || strings.Contains(s, `\u003`) {
		t.Errorf("json escapes operators:\n%s", s)
	}
}

// Model text with markup is written as is in JSON (it is not HTML).
func TestWriteJSONDoesNotEscapeHTML(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "ds.jsonl"), []byte(`{"id": "a", "vars": {"question": "q"}, "reference": "<b>&</b>", "output": "<b>&</b>"}`+"\n"), 0o644)
	b := &compiler.Bundle{Root: root,
		Providers: map[string]*compiler.Provider{"logs": {Name: "logs", Kind: "replay"}},
		Prompts:   map[string]*compiler.Prompt{"p": {Name: "p", Template: "{{ question }}", Model: compiler.PromptModel{Provider: "logs", ID: "gpt-4o"}}},
		Evals: map[string]*compiler.Eval{"s": {Name: "s", Target: compiler.EvalTarget{Prompt: "p"}, Dataset: "ds.jsonl", Repeats: 1,
			Metrics: map[string]compiler.Metric{"exact": {Scorer: "exact", Threshold: 1}}}}}
	run, err := RunSuite(context.Background(), b, "s", Options{})
	if err != nil {
		t.Fatal(err)
	}
	var js bytes.Buffer
	WriteJSON(&js, []*Run{run})
	if !strings.Contains(js.String(), `"output": "<b>&</b>"`) {
		t.Errorf("json:\n%s", js.String())
	}
}
