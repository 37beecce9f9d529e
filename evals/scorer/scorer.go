// Package scorer scores one eval case: deterministic scorers (exact, contains,
// regex, json_schema, similarity), factuality (an LLM judge on OpenAI's "fact"
// rubric, or the offline reference-support heuristic), toxicity (moderation
// endpoint, LLM judge, or the offline lexicon classifier), RAG faithfulness
// and context recall, and latency, tokens and cost.
package scorer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/cairn-dev/cairn/evals/provider"
)

// Version changes whenever a scorer's behaviour changes, so cached scores
// made by older code are not reused.
const Version = "cairn-scorer/4"

// Settings are a metric's scorer and its parameters.
type Settings struct {
	Scorer  string `json:"scorer"`
	Pattern string `json:"pattern,omitempty"`
	// Value is the expected text of exact and contains, when the metric
	// declares one; without it they compare with the row's reference.
	Value  string             `json:"value,omitempty"`
	Schema string             `json:"schema,omitempty"` // the JSON schema document itself
	Scores map[string]float64 `json:"scores,omitempty"` // factuality category → score
	// JudgeProvider and JudgeModel select the judge; empty means offline.
	JudgeProvider string `json:"judge_provider,omitempty"`
	JudgeModel    string `json:"judge_model,omitempty"`
}

// Input is what a case produced.
type Input struct {
	Question  string   // the rendered prompt's last user message
	Output    string   // the model's answer
	Reference string   // the dataset row's reference answer
	Context   []string // retrieved or given context
	LatencyMS float64
	Tokens    int
	CostUSD   *float64 // nil when the model has no price
	CostError string
}

// Deps are the network scorers' peers; nil members mean "not configured".
type Deps struct {
	Judge     provider.Provider
	Moderator provider.Moderator
	Embedder  provider.Embedder
}

// Result is one metric's score for one case.
type Result struct {
	Score  float64 `json:"score"`
	Reason string  `json:"reason,omitempty"`
}

// LowerIsBetter reports the direction of a scorer's bound: toxicity, latency,
// cost and tokens pass at or below the threshold; the rest at or above.
func LowerIsBetter(scorer string) bool {
	switch scorer {
	case "toxicity", "latency_ms", "cost_usd", "tokens":
		return true
	}
	return false
}

// Unit reports whether a scorer's score lies in [0, 1].
func Unit(scorer string) bool {
	switch scorer {
	case "latency_ms", "cost_usd", "tokens":
		return false
	}
	return true
}

// Known lists the scorers.
var Known = []string{"exact", "contains", "regex", "json_schema", "similarity", "factuality", "toxicity", "faithfulness", "context_recall", "latency_ms", "cost_usd", "tokens"}

// Validate checks settings before any case runs, so a bad regex or schema is
// one clear error, not an ERROR on every case.
func Validate(s Settings) error {
	switch s.Scorer {
	case "regex":
		if s.Pattern == "" {
			return fmt.Errorf("scorer regex needs pattern")
		}
		if _, err := regexp.Compile(s.Pattern); err != nil {
			return fmt.Errorf("scorer regex: pattern %q: %v", s.Pattern, err)
		}
	case "json_schema":
		if _, err := compileSchema(s.Schema); err != nil {
			return err
		}
	case "factuality":
		for k, v := range s.Scores {
			if len(k) != 1 || k[0] < 'A' || k[0] > 'E' || v < 0 || v > 1 {
				return fmt.Errorf("scorer factuality: scores.%s = %v: categories are A–E, scores in [0,1]", k, v)
			}
		}
	default:
		for _, k := range Known {
			if k == s.Scorer {
				return nil
			}
		}
		return fmt.Errorf("unknown scorer %q (known: %s)", s.Scorer, strings.Join(Known, ", "))
	}
	return nil
}

// Key is a stable hash of everything in the settings that can change a
// score, including the judge prompt.
func (s Settings) Key() string {
	b, _ := json.Marshal(struct {
		S       Settings
		V       string
		Prompts string
	}{s, Version, judgePromptHash(s.Scorer)})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func judgePromptHash(scorer string) string {
	var p string
	switch scorer {
	case "factuality":
		p = FactPrompt
	case "toxicity":
		p = ToxicityJudgePrompt
	default:
		return ""
	}
	h := sha256.Sum256([]byte(p))
	return hex.EncodeToString(h[:8])
}

// Score runs one scorer on one case. An error means the case is ERROR for
// this metric, never a silent 0.
func Score(ctx context.Context, s Settings, in Input, d Deps) (Result, error) {
	switch s.Scorer {
	case "exact":
		want, what := in.Reference, "the reference"
		if s.Value != "" {
			want, what = s.Value, "the declared value"
		}
		if strings.TrimSpace(in.Output) == strings.TrimSpace(want) {
			return Result{Score: 1}, nil
		}
		return Result{Score: 0, Reason: "output differs from " + what}, nil
	case "contains":
		want, what := in.Reference, "reference"
		if s.Value != "" {
			want, what = s.Value, "declared value"
		}
		if want == "" {
			return Result{}, errors.New("contains: the metric declares no value and the row has no reference")
		}
		if strings.Contains(strings.ToLower(in.Output), strings.ToLower(want)) {
			return Result{Score: 1}, nil
		}
		return Result{Score: 0, Reason: what + " not found in the output"}, nil
	case "regex":
		re, err := compileRegex(s.Pattern)
		if err != nil {
			return Result{}, fmt.Errorf("regex %q: %v", s.Pattern, err)
		}
		if re.MatchString(in.Output) {
			return Result{Score: 1}, nil
		}
		return Result{Score: 0, Reason: "pattern does not match"}, nil
	case "json_schema":
		return scoreJSONSchema(s.Schema, in.Output)
	case "similarity":
		return similarity(ctx, s, in, d)
	case "factuality":
		if s.JudgeModel == "" {
			r := FactualityOffline(in.Question, in.Output, in.Reference, in.Context)
			return Result{Score: r.Score, Reason: "offline: " + r.Reason}, nil
		}
		if d.Judge == nil {
			return Result{}, fmt.Errorf("factuality: judge provider %q is not available", s.JudgeProvider)
		}
		return judgeFactuality(ctx, s, in, d.Judge)
	case "toxicity":
		return toxicity(ctx, s, in, d)
	case "faithfulness":
		if len(in.Context) == 0 {
			return Result{}, errors.New("faithfulness: the row has no context")
		}
		return supportedFraction(in.Output, strings.Join(in.Context, "\n"), "output sentences supported by the context"), nil
	case "context_recall":
		if len(in.Context) == 0 || in.Reference == "" {
			return Result{}, errors.New("context_recall: the row needs context and a reference")
		}
		return supportedFraction(in.Reference, strings.Join(in.Context, "\n"), "reference sentences supported by the context"), nil
	case "latency_ms":
		return Result{Score: in.LatencyMS}, nil
	case "tokens":
		return Result{Score: float64(in.Tokens)}, nil
	case "cost_usd":
		if in.CostUSD == nil {
			return Result{}, fmt.Errorf("cost_usd: %s", in.CostError)
		}
		return Result{Score: *in.CostUSD}, nil
	}
	return Result{}, fmt.Errorf("unknown scorer %q", s.Scorer)
}

// Compiled patterns and schemas, by source: a suite scores every case with
// the same one, and compiling per case dominated large runs. Both compiled
// forms are safe for concurrent use.
var regexCache, schemaCache sync.Map

func compileRegex(pattern string) (*regexp.Regexp, error) {
	if re, ok := regexCache.Load(pattern); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	regexCache.Store(pattern, re)
	return re, nil
}

func compileSchema(doc string) (*jsonschema.Schema, error) {
	if sch, ok := schemaCache.Load(doc); ok {
		return sch.(*jsonschema.Schema), nil
	}
	sch, err := compileSchemaDoc(doc)
	if err == nil {
		schemaCache.Store(doc, sch)
	}
	return sch, err
}

func compileSchemaDoc(doc string) (*jsonschema.Schema, error) {
	if strings.TrimSpace(doc) == "" {
		return nil, errors.New("scorer json_schema needs schema_file")
	}
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("scorer json_schema: the schema is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("schema.json", v); err != nil {
		return nil, fmt.Errorf("scorer json_schema: %v", err)
	}
	sch, err := c.Compile("schema.json")
	if err != nil {
		return nil, fmt.Errorf("scorer json_schema: %v", err)
	}
	return sch, nil
}

func scoreJSONSchema(schema, output string) (Result, error) {
	sch, err := compileSchema(schema)
	if err != nil {
		return Result{}, err
	}
	out := strings.TrimSpace(output)
	// Models often fence JSON in markdown.
	out = strings.TrimPrefix(strings.TrimPrefix(out, "```json"), "```")
	out = strings.TrimSpace(strings.TrimSuffix(out, "```"))
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(out))
	if err != nil {
		return Result{Score: 0, Reason: "output is not JSON: " + err.Error()}, nil
	}
	if err := sch.Validate(v); err != nil {
		return Result{Score: 0, Reason: "schema: " + oneLine(err.Error())}, nil
	}
	return Result{Score: 1}, nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// similarity is cosine similarity: of the judge provider's embeddings when a
// judge is configured, else of word-and-bigram count vectors.
func similarity(ctx context.Context, s Settings, in Input, d Deps) (Result, error) {
	if in.Reference == "" {
		return Result{}, errors.New("similarity: the row has no reference")
	}
	if s.JudgeModel != "" {
		if d.Embedder == nil {
			return Result{}, fmt.Errorf("similarity: embedding provider %q is not available", s.JudgeProvider)
		}
		vs, err := d.Embedder.Embed(ctx, s.JudgeModel, []string{in.Output, in.Reference})
		if err != nil {
			return Result{}, err
		}
		return Result{Score: round3(cosine32(vs[0], vs[1])), Reason: "embedding cosine"}, nil
	}
	a, b := bag(in.Output), bag(in.Reference)
	var dot, na, nb float64
	for k, v := range a {
		dot += v * b[k]
		na += v * v
	}
	for _, v := range b {
		nb += v * v
	}
	if na == 0 || nb == 0 {
		return Result{Score: 0, Reason: "empty text"}, nil
	}
	return Result{Score: round3(dot / math.Sqrt(na*nb)), Reason: "word cosine"}, nil
}

func bag(s string) map[string]float64 {
	m := map[string]float64{}
	ws := analyseAll(s)
	for i, w := range ws {
		m[w]++
		if i > 0 {
			m[ws[i-1]+" "+w]++
		}
	}
	return m
}

func analyseAll(s string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127) }) {
		out = append(out, stem(w))
	}
	return out
}

func cosine32(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		if i >= len(b) {
			break
		}
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

var sentenceRe = regexp.MustCompile(`[^.!?\n]+[.!?]?`)

// SupportThreshold is the share of a claim's content words that must occur
// in the context for the claim to count as supported.
const SupportThreshold = 0.6

// supportedFraction is the share of text's sentences (claims) that the
// source supports — per sentence, not coverage of the source: a claim is
// supported when at least SupportThreshold of its content words occur in the
// source, every number it states appears there, and its polarity agrees with
// the source sentence it overlaps most (a negated claim of an affirmative
// fact is not supported, nor the reverse).
func supportedFraction(text, source, what string) Result {
	src := analyse(source)
	var srcSents []claimWords
	for _, s := range sentenceRe.FindAllString(source, -1) {
		if c := analyse(s); len(c.content) > 0 {
			srcSents = append(srcSents, c)
		}
	}
	var n, ok int
	var why []string
	for _, s := range sentenceRe.FindAllString(text, -1) {
		claim := analyse(s)
		if len(claim.set) == 0 {
			continue
		}
		n++
		if reason := unsupported(claim, src, srcSents); reason != "" {
			if len(why) < 3 {
				why = append(why, fmt.Sprintf("%q: %s", strings.TrimSpace(s), reason))
			}
			continue
		}
		ok++
	}
	if n == 0 {
		return Result{Score: 0, Reason: "no sentences"}
	}
	reason := fmt.Sprintf("%d/%d %s", ok, n, what)
	if len(why) > 0 {
		reason += "; unsupported: " + strings.Join(why, "; ")
	}
	return Result{Score: round3(float64(ok) / float64(n)), Reason: reason}
}

// unsupported says why a claim is not supported by the source, or "".
func unsupported(claim, src claimWords, srcSents []claimWords) string {
	var in int
	for w := range claim.set {
		if src.set[w] {
			in++
		}
	}
	share := float64(in) / float64(len(claim.set))
	if share < SupportThreshold {
		return fmt.Sprintf("%d/%d content words in the context", in, len(claim.set))
	}
	for num := range claim.nums {
		if num == "one" { // "one of", "the one": rarely a quantity
			continue
		}
		if !src.nums[num] {
			return "number " + num + " not in the context"
		}
	}
	// Polarity against the source sentence sharing the most content words.
	best, bestN := -1, 0
	for i, ss := range srcSents {
		var k int
		for w := range claim.set {
			if ss.set[w] {
				k++
			}
		}
		if k > bestN {
			best, bestN = i, k
		}
	}
	if best >= 0 && (claim.neg > 0) != (srcSents[best].neg > 0) {
		return "negation differs from the context"
	}
	return ""
}

// Approximation describes an offline scorer used where a judge could be:
// that it is an approximation, and its measured quality on held-out
// labelled data (make measure; README "Offline scorer quality"). "" for
// exact scorers and judged metrics.
func Approximation(s Settings) string {
	if s.JudgeProvider != "" {
		return ""
	}
	switch s.Scorer {
	case "toxicity":
		return "offline approximation, not a moderation model: held-out F1 0.957 (Davidson tweets) and 0.775 (Surge AI); configure a judge for release gates"
	case "factuality":
		return "offline approximation, not a judge: held-out accuracy 0.754, ROC AUC 0.790 (TruthfulQA); configure a judge for release gates"
	case "faithfulness", "context_recall":
		return "offline approximation: word-level support of the answer by the retrieved context"
	}
	return ""
}
