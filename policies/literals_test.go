package policies

import (
	"math/rand/v2"
	"os"
	"regexp"
	"strings"
	"testing"
)

func TestRequiredLiterals(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		want    string // the literals, "|"-joined, fold-case ones as (?i)x; "" for none
	}{
		{`sk-[A-Za-z0-9]{20,}`, "sk-"},
		{`\b(AKIA|ASIA)[0-9A-Z]{16}\b`, "KIA|SIA"}, // the parser factors out the common "A"
		{`ghp_x|github_pat_y`, "hp_x|ithub_pat_y"},
		{`(?i)\bbearer\s+x`, "(?i)bearer"},
		{`(?i)token`, ""}, // k folds to the Kelvin sign: no byte-wise pre-check
		{`\d+`, ""},
		{`a|\d`, ""}, // one branch without a literal: every string is tried
		{`(?:ab)?cd`, "cd"},
		{`(?:ab)*`, ""},
		{`x{2,}`, "x"},
		{`[a-z]+://[^@]+@`, "://"},
	} {
		m, err := newMatcher(tc.pattern)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range m.lits {
			if l.fold {
				got = append(got, "(?i)"+l.s)
			} else {
				got = append(got, l.s)
			}
		}
		if strings.Join(got, "|") != tc.want {
			t.Errorf("%s: literals %q, want %q", tc.pattern, got, tc.want)
		}
	}
}

// The pre-check may only skip strings the pattern cannot match: compared
// with the bare regexp on no_secrets' pattern over strings built from the
// secrets it looks for, cut, re-cased and mixed with noise.
func TestMatcherAgreesWithRegexp(t *testing.T) {
	src, err := os.ReadFile("lib/no_secrets.rego")
	if err != nil {
		t.Fatal(err)
	}
	var pats []string
	for _, m := range regexp.MustCompile("(?m)^\t\"[^\"]+\": `([^`]+)`").FindAllStringSubmatch(string(src), -1) {
		pats = append(pats, "(?:"+m[1]+")")
	}
	if len(pats) < 8 {
		t.Fatalf("read %d patterns from no_secrets.rego", len(pats))
	}
	pattern := strings.Join(pats, "|")
	m, err := newMatcher(pattern)
	if err != nil {
		t.Fatal(err)
	}
	if m.lits == nil {
		t.Fatal("no_secrets' pattern has no pre-check: every string goes to the regexp")
	}
	re := regexp.MustCompile(pattern)
	seeds := []string{
		"sk-proj-abcdefghijklmnopqrstuvwxyz", "sk-ant-0123456789abcdefghijkl", "ghp_" + strings.Repeat("a1", 20),
		"github_pat_" + strings.Repeat("Z", 25), "AKIAABCDEFGHIJKLMNOP", "ASIA0123456789ABCDEF", "AIza" + strings.Repeat("x", 35),
		"xoxb-0123456789-abc", "hf_" + strings.Repeat("q", 31), "-----BEGIN RSA PRIVATE KEY-----",
		"postgres://admin:hunter2@db:5432/x", "Authorization: Bearer abcdefghijklmnopqrstuvwxyz012",
		"BEARER    abcdefghijklmnopqrstuvwxyz", "answer {{ question }} politely", "https://example.com/a?b=c",
		"\u212a\u017f", "ſk-abcdefghijklmnopqrstuvwx",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	mutate := func(s string) string {
		b := []rune(s)
		switch rng.IntN(5) {
		case 0:
			if len(b) > 1 {
				i := rng.IntN(len(b))
				b = append(b[:i], b[i+1:]...)
			}
		case 1:
			i := rng.IntN(len(b) + 1)
			b = append(b[:i], append([]rune{rune(" -_:@/aZ9\u212a"[rng.IntN(12)])}, b[i:]...)...)
		case 2:
			return strings.ToUpper(string(b))
		case 3:
			return strings.ToLower(string(b))
		case 4:
			return string(b) + " " + seeds[rng.IntN(len(seeds))]
		}
		return string(b)
	}
	matched := 0
	for _, s := range seeds {
		for range 2000 {
			if got, want := m.MatchString(s), re.MatchString(s); got != want {
				t.Fatalf("%q: matcher %v, regexp %v", s, got, want)
			} else if want {
				matched++
			}
			s = mutate(s)
		}
	}
	if matched == 0 {
		t.Fatal("no string matched: the test compares nothing")
	}
}
