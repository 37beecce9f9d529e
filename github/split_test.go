package github

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cairn-dev/cairn/internal/diag"
)

// hugePlanReport builds a report whose plan has n actions, each with a fenced
// diff inside a <details> block, like the plan package's Markdown.
func hugePlanReport(n int) Report {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "#### `register_prompt_version` prompts/answer-%04d\n\n", i)
		fmt.Fprintf(&b, "<details><summary>diff of prompts/answer-%04d</summary>\n\n", i)
		b.WriteString("```diff\n")
		for j := 0; j < 6; j++ {
			fmt.Fprintf(&b, "- You are a helpful assistant, version %d line %d. Ünïcödé ✓\n", i, j)
			fmt.Fprintf(&b, "+ You are a concise assistant, version %d line %d. Ünïcödé ✓\n", i+1, j)
		}
		b.WriteString("```\n\n</details>\n\n")
	}
	return Report{
		Project: "support-assistant", BaseRef: "main", BaseSHA: testBase, HeadRef: "bump", HeadSHA: testHead,
		Diagnostics: diag.List{{Severity: diag.Warn, Code: "budget", Message: "projected cost near budget", Object: "deployments/x", Pos: diag.Position{File: "specs/deploy.cue", Line: 3, Col: 2}}},
		Plan:        Plan{Made: true, Changes: n, Summary: fmt.Sprintf("%d prompt versions to register", n), Markdown: b.String()},
	}
}

// balanced checks that a Markdown part opens no fence or <details> it does not close.
func balanced(t *testing.T, name, part string) {
	t.Helper()
	var st mdState
	opens, closes := 0, 0
	for _, l := range strings.Split(part, "\n") {
		before := len(st.details)
		st.step(l)
		if st.fence == "" {
			if len(st.details) > before {
				opens++
			} else if len(st.details) < before {
				closes++
			}
		}
	}
	if st.fence != "" {
		t.Errorf("%s: code fence %q left open", name, st.fence)
	}
	if len(st.details) != 0 || opens != closes {
		t.Errorf("%s: <details> unbalanced (%d open at end, %d opened, %d closed)", name, len(st.details), opens, closes)
	}
	// Count fence lines directly too, independently of mdState.
	fences := regexp.MustCompile("(?m)^```").FindAllString(part, -1)
	if len(fences)%2 != 0 {
		t.Errorf("%s: odd number of ``` lines (%d)", name, len(fences))
	}
}

func TestPartsHugePlan(t *testing.T) {
	r := hugePlanReport(1500)
	body := RenderComment(r)
	parts := Parts(Marker{Project: "support-assistant"}, body, 0)
	if len(parts) < 4 {
		t.Fatalf("%d parts for %d characters", len(parts), utf8.RuneCountInString(body))
	}
	for i, p := range parts {
		name := fmt.Sprintf("part %d/%d", i+1, len(parts))
		if n := utf8.RuneCountInString(p); n > MaxCommentChars {
			t.Errorf("%s: %d characters > %d", name, n, MaxCommentChars)
		}
		if !utf8.ValidString(p) {
			t.Errorf("%s: invalid UTF-8 (a rune was cut)", name)
		}
		if want := fmt.Sprintf("<!-- cairn:plan project=support-assistant part=%d/%d -->\n", i+1, len(parts)); !strings.HasPrefix(p, want) {
			t.Errorf("%s: starts %q", name, p[:60])
		}
		balanced(t, name, p)
	}
	if !strings.Contains(parts[0], r.Summary()) {
		t.Errorf("summary is not in the first part")
	}
	for _, p := range parts[1:] {
		if strings.Contains(p, "## ") && strings.Contains(p, r.Summary()) {
			t.Errorf("summary repeated in a later part")
		}
	}
	// Nothing is lost: every action's heading appears exactly once.
	all := strings.Join(parts, "\n")
	for _, i := range []int{0, 1, 750, 1499} {
		h := fmt.Sprintf("#### `register_prompt_version` prompts/answer-%04d\n", i)
		if c := strings.Count(all, h); c != 1 {
			t.Errorf("heading %d appears %d times", i, c)
		}
	}
}

func TestPartsCutsInsideLongBlocks(t *testing.T) {
	// One fence and one <details> each far longer than a part: the cut must
	// close and reopen them.
	var b strings.Builder
	b.WriteString("summary line\n\n<details><summary>Big plan</summary>\n\n````text\n")
	for i := 0; i < 4000; i++ {
		fmt.Fprintf(&b, "line %05d ``` not a fence closer because it is not at the start\n", i)
	}
	b.WriteString("````\n\n</details>\n\ntail\n")
	body := b.String()
	const limit = 20000
	parts := Parts(Marker{}, body, limit)
	if len(parts) < 10 {
		t.Fatalf("%d parts", len(parts))
	}
	for i, p := range parts {
		name := fmt.Sprintf("part %d", i+1)
		if n := utf8.RuneCountInString(p); n > limit {
			t.Errorf("%s: %d > %d characters", name, n, limit)
		}
		var st mdState
		for _, l := range strings.Split(p, "\n") {
			st.step(l)
		}
		if st.fence != "" || len(st.details) != 0 {
			t.Errorf("%s: ends inside fence %q / %d details", name, st.fence, len(st.details))
		}
		if i > 0 && !strings.Contains(p, "<details><summary>Big plan (continued)</summary>\n\n````text\n") {
			t.Errorf("%s: fence and details not reopened:\n%s", name, p[:200])
		}
	}
	if !strings.Contains(parts[0], "summary line") || !strings.HasSuffix(parts[len(parts)-1], "tail") {
		t.Errorf("head or tail lost")
	}
	for i := 0; i < 4000; i += 997 {
		l := fmt.Sprintf("line %05d ", i)
		if c := strings.Count(strings.Join(parts, ""), l); c != 1 {
			t.Errorf("%q appears %d times", l, c)
		}
	}
}

func TestPartsLongLine(t *testing.T) {
	body := "head\n" + strings.Repeat("é", 50000) + "\n"
	parts := Parts(Marker{}, body, 10000)
	total := 0
	for i, p := range parts {
		if n := utf8.RuneCountInString(p); n > 10000 {
			t.Errorf("part %d: %d characters", i+1, n)
		}
		if !utf8.ValidString(p) {
			t.Errorf("part %d: invalid UTF-8", i+1)
		}
		total += strings.Count(p, "é")
	}
	if total != 50000 {
		t.Errorf("%d of 50000 runes kept", total)
	}
}

func TestPartsSmallBodyIsOneComment(t *testing.T) {
	got := Parts(Marker{Project: "x"}, "hello\n", 0)
	if len(got) != 1 || got[0] != "<!-- cairn:plan project=x -->\nhello\n" {
		t.Fatalf("%q", got)
	}
}

func TestMarkerParse(t *testing.T) {
	tests := []struct {
		m    Marker
		body string
		part int
		ok   bool
	}{
		{Marker{}, "<!-- cairn:plan -->\nx", 1, true},
		{Marker{}, "<!-- cairn:plan part=3/4 -->\nx", 3, true},
		{Marker{}, "<!-- cairn:plan project=a -->\nx", 0, false},
		{Marker{Project: "a"}, "<!-- cairn:plan project=a part=2/2 -->", 2, true},
		{Marker{Project: "a"}, "<!-- cairn:plan project=ab -->", 0, false},
		{Marker{Project: "a"}, "<!-- cairn:plan -->", 0, false},
		{Marker{}, " <!-- cairn:plan -->", 0, false},
		{Marker{}, "quoted: <!-- cairn:plan -->", 0, false},
		{Marker{}, "<!-- cairn:plan part=0/2 -->", 0, false},
	}
	for _, tt := range tests {
		part, ok := tt.m.parse(tt.body)
		if part != tt.part || ok != tt.ok {
			t.Errorf("%+v.parse(%q) = %d, %v; want %d, %v", tt.m, tt.body, part, ok, tt.part, tt.ok)
		}
	}
}
