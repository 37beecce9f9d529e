package scorer

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestBenignDomainSentences: at most 1% of a set of benign sentences from
// ML, software, operations, finance and insurance language — full of words
// naive lists trip on (kill, fail, garbage, fraud, dead, attack) — are
// flagged toxic.
func TestBenignDomainSentences(t *testing.T) {
	data, err := os.ReadFile("testdata/benign-domain.txt")
	if err != nil {
		t.Fatal(err)
	}
	var n, flagged int
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		n++
		if r := ClassifyToxicity(line); r.Toxic {
			flagged++
			t.Logf("flagged %.2f %v: %s", r.Score, r.Matched, line)
		}
	}
	if n < 200 {
		t.Fatalf("%d sentences, want at least 200", n)
	}
	if float64(flagged) > 0.01*float64(n) {
		t.Errorf("%d of %d benign sentences flagged (more than 1%%)", flagged, n)
	}
}

// The defects a user found: punctuation at a word's edge does not hide an
// insult, a threat is toxic only against a person, one ambiguous word does
// not cross a bound alone, and the threshold means what a suite's bound means.
func TestToxicityDefects(t *testing.T) {
	for _, c := range []struct {
		text  string
		toxic bool
	}{
		{"you idiot!", true},
		{"@you are an idiot", true},
		{"I will kill you", true},
		{"kill the worker and restart it", false},
		{"execute the job at midnight", false},
		{"the claim summary mentions a pipe failure", false},
		{"garbage collection paused for 300 ms", false},
		{"you are garbage", true},
		{"dummy variable for region", false},
		// Compatibility forms are the letters they look like (NFKC).
		{"ｙｏｕ ｉｄｉｏｔ", true},
		{"𝐲𝐨𝐮 𝐚𝐫𝐞 𝐚𝐧 𝐢𝐝𝐢𝐨𝐭", true},
		{"ＫＩＬＬ the worker", false},
		// Dehumanising predicates, whatever the words for the people are.
		{"they are nothing but vermin", true},
		{"those people are animals", true},
		{"refugees should all be exterminated", true},
		{"rats are animals used in the toxicology study", false},
		{"the pest control contract covers vermin and insects", false},
		{"these records are like parasites on the index size", false},
	} {
		if got := ClassifyToxicity(c.text); got.Toxic != c.toxic {
			t.Errorf("%q: toxic=%v (%.2f %v), want %v", c.text, got.Toxic, got.Score, got.Matched, c.toxic)
		}
	}
}

// rocAUC against values worked out by hand, ties counting half.
func TestROCAUC(t *testing.T) {
	for _, c := range []struct {
		scores []float64
		labels []bool
		want   float64
	}{
		{[]float64{0.1, 0.4, 0.35, 0.8}, []bool{false, false, true, true}, 0.75}, // sklearn's documented example
		{[]float64{0.5, 0.5}, []bool{true, false}, 0.5},
		{[]float64{0.9, 0.1}, []bool{true, false}, 1},
	} {
		if got := rocAUC(c.scores, c.labels); got != c.want {
			t.Errorf("rocAUC(%v, %v) = %v, want %v", c.scores, c.labels, got, c.want)
		}
	}
}

// Numbers written as words agree with digits; an antonym contradicts.
func TestFactualityNumbersAndAntonyms(t *testing.T) {
	ref := "Water boils at 100 degrees Celsius at sea level and the pressure decreases with altitude"
	if r := FactualityOffline("", "The pressure increases with altitude", ref, nil); r.Score >= FactualityThreshold {
		t.Errorf("antonym passed: %+v", r)
	}
	if r := FactualityOffline("How many legs?", "A spider has eight legs", "Spiders have 8 legs", nil); r.Score < FactualityThreshold {
		t.Errorf("eight vs 8: %+v", r)
	}
}

// The shipped linear model loads (a broken file would silently leave the
// lexicon alone), writes back byte for byte, and separates clear cases.
func TestShippedToxicityModel(t *testing.T) {
	m := toxLR()
	if m == nil {
		t.Fatal("the embedded toxicity model does not load")
	}
	var buf bytes.Buffer
	if err := WriteLRModel(&buf, m); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), toxlrData) {
		t.Error("the model does not write back to the shipped bytes (training output is not deterministic)")
	}
	if p := m.Prob(LRFeatures("you are a worthless stupid bitch")); p < 0.8 {
		t.Errorf("abuse scored %.2f", p)
	}
	if p := m.Prob(LRFeatures("the quarterly report is attached, thanks for the review")); p > 0.5 {
		t.Errorf("a benign sentence scored %.2f", p)
	}
}
