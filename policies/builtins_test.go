package policies

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/open-policy-agent/opa/v1/rego"
)

// cairn.match_strings must find exactly what walk + regex.match find, with
// the same paths, or no_secrets would report different places.
func TestMatchStringsAgreesWithWalk(t *testing.T) {
	input := map[string]any{
		"providers": map[string]any{"p": map[string]any{"base_url": "https://u:hunter2@example.com", "kind": "openai"}},
		"prompts": map[string]any{"a": map[string]any{
			"template": "use key sk-abcdefghijklmnopqrstuvwx0123",
			"inputs":   []any{"q", "token ghp_0123456789abcdefghijklmnopqrstuvwxyzAB"},
			"model":    map[string]any{"max_tokens": 5, "id": "gpt-4o"},
		}},
		"empty": []any{},
	}
	const pat = `sk-[A-Za-z0-9]{20,}|ghp_[A-Za-z0-9]{36}|://[^/@]+:[^/@]+@`
	query := func(q string) any {
		rs, err := rego.New(rego.Query(q), rego.Input(input), matchStringsFunc).Eval(context.Background())
		if err != nil || len(rs) != 1 {
			t.Fatalf("%s: %v %v", q, rs, err)
		}
		return rs[0].Expressions[0].Value
	}
	walked := query(`{[p, s] | walk(input, [p, s]); is_string(s); regex.match("` + pat + `", s)}`)
	native := query(`{x | some x in cairn.match_strings(input, "` + pat + `")}`)
	w, n := walked.([]any), native.([]any)
	if len(w) != 3 || len(n) != len(w) {
		t.Fatalf("walk found %d %v, match_strings %d %v", len(w), w, len(n), n)
	}
	seen := map[string]bool{}
	for _, x := range w {
		seen[toJSON(t, x)] = true
	}
	for _, x := range n {
		if !seen[toJSON(t, x)] {
			t.Errorf("match_strings found %s, walk did not", toJSON(t, x))
		}
	}
	if _, err := rego.New(rego.Query(`cairn.match_strings(input, "(")`), rego.Input(input), matchStringsFunc, rego.StrictBuiltinErrors(true)).Eval(context.Background()); err == nil {
		t.Error("a bad pattern must be an error")
	}
}

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
