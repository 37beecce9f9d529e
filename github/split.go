package github

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxCommentChars is GitHub's limit on a comment body, in characters.
const MaxCommentChars = 65536

// MarkerPrefix starts every sticky comment cairn writes.
const MarkerPrefix = "<!-- cairn:plan"

// Marker identifies cairn's sticky comment on a pull request. Project keeps
// two spec repos in one git repository from overwriting each other's comment.
type Marker struct {
	Project string
}

// Header is the hidden first line of part k of n.
func (m Marker) Header(k, n int) string {
	s := MarkerPrefix
	if m.Project != "" {
		s += " project=" + m.Project
	}
	if n > 1 {
		s += fmt.Sprintf(" part=%d/%d", k, n)
	}
	return s + " -->"
}

var markerRE = regexp.MustCompile(`^<!-- cairn:plan(?: project=([a-z0-9][a-z0-9-]{0,62}))?(?: part=(\d+)/(\d+))? -->`)

// parse reports whether body is one of m's comments, and which part it is
// (1 when unsplit). The marker must open the body, so a comment that merely
// quotes it is never taken over.
func (m Marker) parse(body string) (part int, ok bool) {
	sm := markerRE.FindStringSubmatch(body)
	if sm == nil || sm[1] != m.Project {
		return 0, false
	}
	if sm[2] == "" {
		return 1, true
	}
	k, err := strconv.Atoi(sm[2])
	if err != nil || k < 1 {
		return 0, false
	}
	return k, true
}

// Parts splits a comment body into the bodies of one or more comments, each
// at most limit characters (MaxCommentChars when limit ≤ 0) including its
// marker line. Cuts fall between top-level blocks when possible; a cut inside
// a code fence or a <details> block closes them at the end of the part and
// reopens them at the start of the next, so every part renders on its own.
// The body's beginning — the summary — stays in the first part.
func Parts(m Marker, body string, limit int) []string {
	if limit <= 0 {
		limit = MaxCommentChars
	}
	single := m.Header(1, 1) + "\n" + body
	if utf8.RuneCountInString(single) <= limit {
		return []string{single}
	}
	// Room for the header and the continuation notes, which are short and bounded.
	reserve := utf8.RuneCountInString(m.Header(999, 999)) + 2 + len(contNote(999, 999)) + len(moreNote(999, 999)) + 8
	chunks := splitBlocks(body, limit-reserve)
	n := len(chunks)
	out := make([]string, n)
	for i, ch := range chunks {
		var b strings.Builder
		b.WriteString(m.Header(i+1, n) + "\n")
		if i > 0 {
			b.WriteString(contNote(i+1, n) + "\n\n")
		}
		b.WriteString(ch)
		if i < n-1 {
			b.WriteString("\n\n" + moreNote(i+1, n))
		}
		out[i] = b.String()
	}
	return out
}

func contNote(k, n int) string { return fmt.Sprintf("_cairn plan, part %d of %d (continued)_", k, n) }
func moreNote(k, n int) string { return fmt.Sprintf("_continued in part %d of %d_", k+1, n) }

// mdState is where a line sits: inside which fence and which <details> blocks.
type mdState struct {
	fence   string   // the opening fence line, "" outside code
	details []string // reopen text of each open <details>, outermost first
}

func (s mdState) topLevel() bool { return s.fence == "" && len(s.details) == 0 }

// closing is what ends a part cut in state s.
func (s mdState) closing() string {
	var b strings.Builder
	if s.fence != "" {
		b.WriteString(fenceMarker(s.fence) + "\n")
	}
	for range s.details {
		b.WriteString("\n</details>\n")
	}
	return b.String()
}

// opening is what starts the next part after a cut in state s.
func (s mdState) opening() string {
	var b strings.Builder
	for _, d := range s.details {
		b.WriteString(d + "\n\n")
	}
	if s.fence != "" {
		b.WriteString(s.fence + "\n")
	}
	return b.String()
}

func (s mdState) clone() mdState {
	return mdState{fence: s.fence, details: append([]string(nil), s.details...)}
}

var (
	fenceRE     = regexp.MustCompile("^ {0,3}(`{3,}|~{3,})(.*)$")
	detailsOpen = regexp.MustCompile(`(?i)^\s*<details(\s[^>]*)?>`)
	detailsEnd  = regexp.MustCompile(`(?i)^\s*</details>`)
	summaryRE   = regexp.MustCompile(`(?i)<summary>(.*?)</summary>`)
)

// fenceMarker returns the run of backticks or tildes that opens a fence line.
func fenceMarker(line string) string {
	sm := fenceRE.FindStringSubmatch(line)
	if sm == nil {
		return "```"
	}
	return sm[1]
}

// step advances the state past one line.
func (s *mdState) step(line string) {
	if s.fence != "" {
		open := fenceMarker(s.fence)
		if sm := fenceRE.FindStringSubmatch(line); sm != nil && sm[1][0] == open[0] &&
			len(sm[1]) >= len(open) && strings.TrimSpace(sm[2]) == "" {
			s.fence = ""
		}
		return
	}
	if sm := fenceRE.FindStringSubmatch(line); sm != nil && !(sm[1][0] == '`' && strings.Contains(sm[2], "`")) {
		s.fence = strings.TrimRight(line, " \t")
		return
	}
	if detailsOpen.MatchString(line) {
		reopen := "<details>"
		if sm := summaryRE.FindStringSubmatch(line); sm != nil {
			reopen = "<details><summary>" + sm[1] + " (continued)</summary>"
		}
		s.details = append(s.details, reopen)
		// A one-line <details>…</details> closes itself.
		if strings.Contains(strings.ToLower(line), "</details>") {
			s.details = s.details[:len(s.details)-1]
		}
		return
	}
	if detailsEnd.MatchString(line) && len(s.details) > 0 {
		s.details = s.details[:len(s.details)-1]
		return
	}
	// A <summary> on the line after <details> names the block for its reopening.
	if n := len(s.details); n > 0 && s.details[n-1] == "<details>" {
		if sm := summaryRE.FindStringSubmatch(line); sm != nil {
			s.details[n-1] = "<details><summary>" + sm[1] + " (continued)</summary>"
		}
	}
}

// splitBlocks cuts body into chunks of at most budget characters each,
// counting the closing and reopening text each cut adds.
func splitBlocks(body string, budget int) []string {
	if budget < 200 {
		budget = 200
	}
	lines := strings.Split(body, "\n")
	var chunks []string
	var cur []string // lines of the current chunk, the reopening text first
	curLen := 0
	state := mdState{}
	// Good places to cut, after cur[:at]: blank lines outside code (open
	// <details> are closed there and reopened in the next part).
	type cutPoint struct {
		at, size int
		st       mdState
	}
	// best[d] is the last blank line outside code with d <details> open;
	// cutting at the shallowest one leaves the fewest blocks to reopen.
	var best []*cutPoint

	// restart begins a new chunk after a cut in state st with the given lines.
	restart := func(st mdState, rest []string) {
		cur, curLen = nil, 0
		if open := st.opening(); open != "" {
			cur = append(cur, strings.TrimSuffix(open, "\n"))
		}
		cur = append(cur, rest...)
		for _, l := range cur {
			curLen += utf8.RuneCountInString(l) + 1
		}
		best = best[:0]
	}

	flush := func(upto int, st mdState) {
		text := strings.Join(cur[:upto], "\n")
		text = strings.TrimRight(text, "\n")
		if c := st.closing(); c != "" {
			text += "\n" + strings.TrimRight(c, "\n")
		}
		chunks = append(chunks, text)
	}

	for i := 0; i < len(lines); i++ {
		line := lines[i]
		next := state.clone()
		next.step(line)
		ll := utf8.RuneCountInString(line) + 1
		if curLen+ll+utf8.RuneCountInString(next.closing()) <= budget {
			cur = append(cur, line)
			curLen += ll
			state = next
			if state.fence == "" && strings.TrimSpace(line) == "" && !keepWithNext(lines, i) {
				d := len(state.details)
				for len(best) <= d {
					best = append(best, nil)
				}
				best[d] = &cutPoint{at: len(cur), size: curLen + utf8.RuneCountInString(state.closing()), st: state.clone()}
			}
			continue
		}
		// The line does not fit. Cut at the last good place when that keeps
		// the part at least half full; else cut right here.
		var cp *cutPoint
		for _, b := range best {
			if b != nil && b.size >= budget/2 {
				cp = b
				break
			}
		}
		if cp != nil && cp.at < len(cur) {
			rest := append([]string(nil), cur[cp.at:]...)
			flush(cp.at, cp.st)
			restart(cp.st, rest)
			i-- // retry the line
			continue
		}
		if len(cur) > 0 && curLen > utf8.RuneCountInString(state.opening()) {
			flush(len(cur), state)
			restart(state, nil)
			i--
			continue
		}
		// A single line longer than a whole part: hard-cut it at a rune boundary.
		room := budget - curLen - utf8.RuneCountInString(state.closing()) - 1
		if room < 1 {
			room = 1
		}
		head, tail := cutRunes(line, room)
		cur = append(cur, head)
		curLen += utf8.RuneCountInString(head) + 1
		lines[i] = tail
		flush(len(cur), state)
		restart(state, nil)
		i--
	}
	if len(cur) > 0 {
		chunks = append(chunks, strings.TrimRight(strings.Join(cur, "\n"), "\n"))
	}
	return chunks
}

// keepWithNext reports whether the blank line i follows a heading or an
// introduction ending in ":", which should stay with what comes after it.
func keepWithNext(lines []string, i int) bool {
	for j := i - 1; j >= 0; j-- {
		l := strings.TrimSpace(lines[j])
		if l == "" {
			continue
		}
		return strings.HasPrefix(l, "#") || strings.HasSuffix(l, ":") || detailsOpen.MatchString(l)
	}
	return false
}

func cutRunes(s string, n int) (string, string) {
	i := 0
	for k := range s {
		if i == n {
			return s[:k], s[k:]
		}
		i++
	}
	return s, ""
}
