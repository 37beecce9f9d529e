package scorer

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"unicode"

	"github.com/kljensen/snowball/english"
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

// synonyms map a word's stem to a shared representative, so a paraphrase
// that says "large" where the reference says "big" is supported. A small
// list of common English equivalences written for cairn (WordNet's synsets
// are too broad for this: they join words with unrelated senses).
var synonyms = map[string]string{}

func init() {
	for _, g := range strings.Fields(`big,large,huge,enormous,giant small,little,tiny,minor begin,start,commence,initiate
 end,finish,conclude,terminate buy,purchase sell,vend car,automobile,vehicle kid,child,children youngster
 doctor,physician die,perish,decease illness,disease,sickness,ailment medicine,medication,drug,remedy
 help,assist,aid show,demonstrate,indicate,reveal,prove fast,quick,rapid,swift slow,sluggish smart,intelligent,clever
 stupid,dumb,foolish rich,wealthy,affluent poor,impoverished happy,glad,joyful sad,unhappy,sorrowful
 angry,mad,furious correct,accurate wrong,incorrect,inaccurate error,mistake,fault
 answer,response,reply ask,inquire,query get,obtain,acquire,receive give,provide,supply,grant use,utilize,employ
 make,create,produce,build allow,permit,let forbid,prohibit,ban enough,sufficient,adequate nearly,almost,approximately,roughly
 often,frequently usually,typically,generally,normally maybe,perhaps,possibly near,close region,area,zone
 job,occupation,profession,work country,nation,state town,city buildings,structures building,structure
 people,persons,humans,individuals person,individual,human woman,female man,male law,statute,legislation
 rule,regulation money,cash,currency cost,price,expense eat,consume,ingest drink,beverage danger,hazard,risk
 harmful,damaging,injurious safe,harmless,secure wet,damp,moist cold,chilly,cool hot,warm,heated
 old,aged,elderly ancient,antique new,novel,recent,modern hide,conceal look,appear,seem famous,renowned,celebrated
 strange,odd,weird,unusual common,ordinary,typical,usual rare,uncommon,unusual keep,retain,maintain speak,talk,say
 think,believe,consider fix,repair,mend choose,select,pick myth,legend,fable`) {
		ws := strings.Split(g, ",")
		rep := stem(ws[0])
		for _, w := range ws {
			if _, ok := synonyms[stem(w)]; !ok {
				synonyms[stem(w)] = rep
			}
		}
	}
}

type claimWords struct {
	content []string
	set     map[string]bool
	neg     int
	nums    map[string]bool
	names   map[string]bool // proper names and months: "Paris", "Einstein", "March"
	stems   map[string]bool // the stems before synonyms join them, for antonyms
}

var months = map[string]bool{"january": true, "february": true, "march": true, "april": true, "may": true, "june": true,
	"july": true, "august": true, "september": true, "october": true, "november": true, "december": true}

// nameRe finds capitalised words; names collects those that are not the
// first word of a sentence (where any word is capitalised), plus months.
var nameRe = regexp.MustCompile(`[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)?`)

func names(text string) map[string]bool {
	out := map[string]bool{}
	for _, loc := range nameRe.FindAllStringIndex(text, -1) {
		w := text[loc[0]:loc[1]]
		lw := strings.ToLower(w)
		if months[lw] && lw != "may" && lw != "march" {
			out[lw] = true
			continue
		}
		// The first word of the text or of a sentence says nothing.
		before := strings.TrimRight(text[:loc[0]], " \t\"'(“")
		if before == "" || strings.HasSuffix(before, ".") || strings.HasSuffix(before, "!") || strings.HasSuffix(before, "?") || strings.HasSuffix(before, ":") || strings.HasSuffix(before, "\n") {
			continue
		}
		if stop[lw] || negations[lw] {
			continue
		}
		out[stem(lw)] = true
	}
	return out
}

// stem reduces a lower-case word to its Snowball (Porter 2) English stem,
// so "treatments", "treated" and "treating" agree.
func stem(w string) string {
	return english.Stem(w, false)
}

func analyse(text string) claimWords {
	c := claimWords{set: map[string]bool{}, nums: map[string]bool{}, names: names(text), stems: map[string]bool{}}
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
		c.stems[s] = true
		if rep, ok := synonyms[s]; ok {
			s = rep
		}
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
	for w := range o.stems {
		if a, ok := antonyms[w]; ok && r.stems[a] && !r.stems[w] && !q.stems[a] {
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
	// A name the reference, its context and the question never mention is a
	// claim about someone or somewhere else ("Sydney" for "Canberra").
	for n := range o.names {
		if !r.set[n] && !q.set[n] && !r.names[n] {
			score *= 0.6
			reasons = append(reasons, fmt.Sprintf("names %q, which the reference does not", n))
			break
		}
	}
	score = math.Round(score*1000) / 1000
	return FactualityOfflineResult{Score: score, Reason: strings.Join(reasons, "; ")}
}
