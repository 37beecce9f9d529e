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

// wordNumbers spell small numbers the way digits do, so "two" and "2"
// agree (and "three" and "2" do not).
var wordNumbers = map[string]string{"zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
	"seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "twenty": "20", "thirty": "30",
	"forty": "40", "fifty": "50", "hundred": "100", "thousand": "1000", "million": "1000000", "billion": "1000000000",
	"half": "0.5", "twice": "2", "dozen": "12", "first": "1", "second": "2", "third": "3"}

// antonyms are pairs whose swap flips a claim ("increases" for
// "decreases"); an output that says one where the reference says the other
// contradicts it, whatever else they share.
var antonyms = map[string]string{}

func init() {
	for _, p := range strings.Fields(`true:false increase:decrease more:less higher:lower high:low above:below before:after
 always:never all:none hot:cold safe:dangerous healthy:unhealthy legal:illegal possible:impossible alive:dead
 win:lose won:lost positive:negative good:bad larger:smaller large:small bigger:smaller big:small faster:slower
 fast:slow older:younger old:young rich:poor heavy:light cause:prevent causes:prevents benefit:harm up:down
 early:late earlier:later inside:outside male:female men:women increases:decreases raise:lower most:least
 majority:minority accept:reject allowed:forbidden allowed:banned required:optional same:different`) {
		a, b, _ := strings.Cut(p, ":")
		antonyms[stem(a)], antonyms[stem(b)] = stem(b), stem(a)
	}
}

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
		w = strings.Trim(w, ".,;:!?")
		if d, ok := wordNumbers[w]; ok {
			c.nums[d] = true
		} else if numberWords[w] {
			c.nums[w] = true
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
	for w := range o.set {
		if a, ok := antonyms[w]; ok && r.set[a] && !r.set[w] && !q.set[a] {
			score *= 0.35
			reasons = append(reasons, fmt.Sprintf("says %q where the reference says %q", w, a))
			break
		}
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
