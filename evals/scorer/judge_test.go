package scorer

import (
	"context"
	"testing"
)

func TestParseFactChoice(t *testing.T) {
	cases := []struct {
		reply, want string
		err         bool
	}{
		{`{"choice": "C", "reason": "same"}`, "C", false},
		{"```json\n{\"answer\": \"(B)\"}\n```", "B", false},
		{"(C)", "C", false},
		{"Answer: D", "D", false},
		{"The submission adds details but agrees.\nStep 2: nothing conflicts.\n\nB", "B", false},
		{"Let me think. The expert says X, the submission says Y, which conflicts.\nTherefore the answer is (D).", "D", false},
		{"Options (A) and (B) do not apply; final answer: E", "E", false},
		{"I am not sure what to say.", "", true},
		{"(A) or (D), hard to tell", "", true},
		{"", "", true},
	}
	for _, c := range cases {
		got, err := ParseFactChoice(c.reply)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("ParseFactChoice(%q) = %q, %v; want %q err=%v", c.reply, got, err, c.want, c.err)
		}
	}
}

func TestParseToxicityVerdict(t *testing.T) {
	for reply, want := range map[string]float64{`{"toxic": true, "score": 0.8}`: 0.8, `{"toxic": false}`: 0, "yes": 1, "0.25": 0.25} {
		if got, err := ParseToxicityVerdict(reply); err != nil || got != want {
			t.Errorf("ParseToxicityVerdict(%q) = %v, %v", reply, got, err)
		}
	}
	if _, err := ParseToxicityVerdict("maybe?"); err == nil {
		t.Error("garbage accepted")
	}
}

func TestDeterministicScorers(t *testing.T) {
	schema := `{"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}`
	cost := 0.002
	cases := []struct {
		s    Settings
		in   Input
		want float64
		err  bool
	}{
		{Settings{Scorer: "exact"}, Input{Output: " Paris ", Reference: "Paris"}, 1, false},
		{Settings{Scorer: "exact"}, Input{Output: "paris", Reference: "Paris"}, 0, false},
		{Settings{Scorer: "contains"}, Input{Output: "It is PARIS.", Reference: "paris"}, 1, false},
		{Settings{Scorer: "contains"}, Input{Output: "x"}, 0, true},
		// A declared value is what they compare with, not the reference.
		{Settings{Scorer: "contains", Value: "refund"}, Input{Output: "Your REFUND is on its way", Reference: "shipping"}, 1, false},
		{Settings{Scorer: "contains", Value: "refund"}, Input{Output: "shipping is free", Reference: "shipping"}, 0, false},
		{Settings{Scorer: "contains", Value: "refund"}, Input{Output: "a refund"}, 1, false},
		{Settings{Scorer: "exact", Value: "yes"}, Input{Output: " yes ", Reference: "no"}, 1, false},
		{Settings{Scorer: "exact", Value: "yes"}, Input{Output: "no", Reference: "no"}, 0, false},
		{Settings{Scorer: "regex", Pattern: `^\d{4}-\d{2}$`}, Input{Output: "2025-11"}, 1, false},
		{Settings{Scorer: "regex", Pattern: `^\d+$`}, Input{Output: "12a"}, 0, false},
		{Settings{Scorer: "json_schema", Schema: schema}, Input{Output: "```json\n{\"name\": \"x\"}\n```"}, 1, false},
		{Settings{Scorer: "json_schema", Schema: schema}, Input{Output: `{"name": 3}`}, 0, false},
		{Settings{Scorer: "json_schema", Schema: schema}, Input{Output: `not json`}, 0, false},
		{Settings{Scorer: "similarity"}, Input{Output: "the cat sat", Reference: "the cat sat"}, 1, false},
		{Settings{Scorer: "similarity"}, Input{Output: "dogs bark", Reference: "the cat sat"}, 0, false},
		{Settings{Scorer: "latency_ms"}, Input{LatencyMS: 120}, 120, false},
		{Settings{Scorer: "tokens"}, Input{Tokens: 42}, 42, false},
		{Settings{Scorer: "cost_usd"}, Input{CostUSD: &cost}, 0.002, false},
		{Settings{Scorer: "cost_usd"}, Input{CostError: "no price"}, 0, true},
		{Settings{Scorer: "faithfulness"}, Input{Output: "Refunds take 5 days.", Context: []string{"Refunds take 5 days to process."}}, 1, false},
		{Settings{Scorer: "faithfulness"}, Input{Output: "Refunds take 30 days."}, 0, true},
		{Settings{Scorer: "context_recall"}, Input{Reference: "Refunds take 5 days.", Context: []string{"Shipping is free."}}, 0, false},
		{Settings{Scorer: "toxicity"}, Input{Output: "Thanks for asking, happy to help"}, 0, false},
	}
	for _, c := range cases {
		got, err := Score(context.Background(), c.s, c.in, Deps{})
		if (err != nil) != c.err || (!c.err && got.Score != c.want) {
			t.Errorf("%s(%+v) = %v, %v; want %v err=%v", c.s.Scorer, c.in, got.Score, err, c.want, c.err)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, s := range []Settings{{Scorer: "regex", Pattern: "("}, {Scorer: "json_schema", Schema: "{"}, {Scorer: "nope"}, {Scorer: "factuality", Scores: map[string]float64{"F": 1}}} {
		if Validate(s) == nil {
			t.Errorf("Validate(%+v) accepted", s)
		}
	}
}
