package scorer

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"unicode"
)

// FactualityThreshold is the offline heuristic's decision bound: a score at
// or above it is factual.
const FactualityThreshold = 0.5

// FactualityOfflineResult explains an offline factuality score.
type FactualityOfflineResult struct {
	Score  float64
	Reason string
}

var stop = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`a an the of to in on at by for from with about as into through over under and or but if then
 than so that this these those it its it's is are was were be been being am do does did doing have has had having
 i you he she we they me him her us them my your his our their what which who whom whose when where why how
 there here can could would should will shall may might must just also only very really more most some any all
 each every such own same other another much many one s t up out off again further once because while until
 both few too`) {
		stop[w] = true
	}
}

// negations flip a claim; a mismatch with the reference is a contradiction.
var negations = map[string]bool{"not": true, "no": true, "never": true, "nothing": true, "none": true, "nobody": true,
	"cannot": true, "neither": true, "nor": true, "without": true, "cant": true, "dont": true, "doesnt": true, "didnt": true,
	"isnt": true, "arent": true, "wasnt": true, "werent": true, "wont": true, "wouldnt": true, "shouldnt": true, "couldnt": true,
	"hasnt": true, "havent": true, "hadnt": true, "nowhere": true, "false": true, "myth": true, "misconception": true}

// hedges abstain rather than claim: not a factual error.
var abstention = regexp.MustCompile(`(?i)^\s*(i have no comment|no comment|i don'?t know|i'?m not sure|unknown|it depends|i cannot answer|i can'?t answer|there is no (way|consensus) to know)\b`)

var numberWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand million billion trillion half twice dozen") {
		numberWords[w] = true
	}
}

var numRe = regexp.MustCompile(`\d+(?:[.,]\d+)*`)

type claimWords struct {
	content []string
	set     map[string]bool
	neg     int
	nums    map[string]bool
}

func stem(w string) string {
	for _, suf := range []string{"ies", "ing", "ed", "es", "s", "ly"} {
		if len(w) > len(suf)+3 && strings.HasSuffix(w, suf) {
			if suf == "ies" {
				return w[:len(w)-3] + "y"
			}
			return w[:len(w)-len(suf)]
		}
	}
	return w
}

func analyse(text string) claimWords {
	c := claimWords{set: map[string]bool{}, nums: map[string]bool{}}
	for _, n := range numRe.FindAllString(text, -1) {
		c.nums[strings.ReplaceAll(n, ",", "")] = true
	}
	lower := strings.ToLower(strings.ReplaceAll(text, "’", "'"))
	for _, w := range strings.Fields(lower) {
		if numberWords[strings.Trim(w, ".,;:!?")] {
			c.nums[strings.Trim(w, ".,;:!?")] = true
		}
	}
	lower = strings.ReplaceAll(lower, "n't", "nt")
	for _, w := range strings.FieldsFunc(lower, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if negations[w] || strings.HasSuffix(w, "nt") && negations[w] {
			c.neg++
			continue
		}
		if stop[w] || len(w) < 2 {
			continue
		}
		s := stem(w)
		c.content = append(c.content, s)
		c.set[s] = true
	}
	return c
}

// FactualityOffline is the reference-support heuristic used when no judge is
// configured: the output's claims are checked against the reference and the
// context. Words the question already gives are not evidence either way;
// what counts is whether the output's own content is supported, whether its
// polarity (negation) agrees with the reference, and whether its numbers
// appear there.
func FactualityOffline(question, output, reference string, context []string) FactualityOfflineResult {
	if strings.TrimSpace(output) == "" {
		return FactualityOfflineResult{Score: 0, Reason: "empty output"}
	}
	if abstention.MatchString(output) {
		return FactualityOfflineResult{Score: 0.5, Reason: "abstains: no claim to contradict the reference"}
	}
	refText := reference
	for _, c := range context {
		refText += "\n" + c
	}
	q, o, r := analyse(question), analyse(output), analyse(refText)
	var own, supported, novel int
	for _, w := range o.content {
		if q.set[w] && !r.set[w] {
			continue // restating the question
		}
		own++
		if r.set[w] {
			supported++
		} else {
			novel++
		}
	}
	// How much of the reference's own content the output covers.
	var refOwn, covered int
	for w := range r.set {
		if q.set[w] {
			continue
		}
		refOwn++
		if o.set[w] {
			covered++
		}
	}
	support := 1.0
	if own > 0 {
		support = float64(supported) / float64(own)
	}
	coverage := 1.0
	if refOwn > 0 {
		coverage = float64(covered) / float64(refOwn)
	}
	score := 0.65*support + 0.35*coverage
	reasons := []string{fmt.Sprintf("support %.2f (%d/%d claim words in the reference)", support, supported, own), fmt.Sprintf("coverage %.2f", coverage)}
	if (o.neg > 0) != (r.neg > 0) {
		score *= 0.35
		reasons = append(reasons, "negation differs from the reference")
	}
	for n := range o.nums {
		if !r.nums[n] && !q.nums[n] {
			score *= 0.5
			reasons = append(reasons, "number "+n+" not in the reference")
			break
		}
	}
	score = math.Round(score*1000) / 1000
	return FactualityOfflineResult{Score: score, Reason: strings.Join(reasons, "; ")}
}
