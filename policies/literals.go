package policies

import (
	"regexp"
	"regexp/syntax"
	"strings"
)

// A matcher is a compiled pattern with a literal pre-check: the literals of
// which every match must contain one, read off the pattern's syntax. A
// string holding none of them cannot match, and most strings of a bundle
// hold none (no_secrets scans every string; the regexp engine alone was
// most of a check's policy time).
type matcher struct {
	re   *regexp.Regexp
	lits []literal // nil: no pre-check, every string goes to re
}

type literal struct {
	s    string // lower-cased when fold
	fold bool   // matched ASCII case-insensitively
}

func newMatcher(pattern string) (*matcher, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	m := &matcher{re: re}
	if st, err := syntax.Parse(pattern, syntax.Perl); err == nil {
		if lits, ok := required(st.Simplify()); ok {
			m.lits = lits
		}
	}
	return m, nil
}

// MatchString reports whether s matches, as the regexp alone would.
func (m *matcher) MatchString(s string) bool {
	if m.lits != nil && !m.mayMatch(s) {
		return false
	}
	return m.re.MatchString(s)
}

func (m *matcher) mayMatch(s string) bool {
	for _, l := range m.lits {
		if l.fold {
			if containsFoldASCII(s, l.s) {
				return true
			}
		} else if strings.Contains(s, l.s) {
			return true
		}
	}
	return false
}

// required returns literals one of which every match of re contains, and
// false when there is no such set (then every string must be tried).
func required(re *syntax.Regexp) ([]literal, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		if len(re.Rune) == 0 {
			return nil, false
		}
		s := string(re.Rune)
		if re.Flags&syntax.FoldCase == 0 {
			return []literal{{s: s}}, true
		}
		if !foldSafe(s) {
			return nil, false
		}
		return []literal{{s: strings.ToLower(s), fold: true}}, true
	case syntax.OpCapture:
		return required(re.Sub[0])
	case syntax.OpPlus:
		return required(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return required(re.Sub[0])
		}
		return nil, false
	case syntax.OpConcat:
		// Any one part's literals will do; keep the most selective (the
		// longest shortest literal, then the fewest).
		var best []literal
		found := false
		for _, sub := range re.Sub {
			lits, ok := required(sub)
			if ok && (!found || better(lits, best)) {
				best, found = lits, true
			}
		}
		return best, found
	case syntax.OpAlternate:
		var all []literal
		for _, sub := range re.Sub {
			lits, ok := required(sub)
			if !ok {
				return nil, false
			}
			all = append(all, lits...)
		}
		return all, true
	}
	return nil, false
}

func better(a, b []literal) bool {
	ma, mb := shortest(a), shortest(b)
	if ma != mb {
		return ma > mb
	}
	return len(a) < len(b)
}

func shortest(ls []literal) int {
	n := -1
	for _, l := range ls {
		if n < 0 || len(l.s) < n {
			n = len(l.s)
		}
	}
	return n
}

// foldSafe reports whether s's case-insensitive matches are all ASCII: k
// and s also fold to the Kelvin sign and the long s, which a byte-wise
// comparison would miss.
func foldSafe(s string) bool {
	for _, r := range s {
		if r >= 0x80 || r == 'k' || r == 'K' || r == 's' || r == 'S' {
			return false
		}
	}
	return true
}

// containsFoldASCII reports whether s contains lit (lower-case ASCII) in any
// ASCII case.
func containsFoldASCII(s, lit string) bool {
	n := len(lit)
	for i := 0; i+n <= len(s); i++ {
		j := 0
		for ; j < n; j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != lit[j] {
				break
			}
		}
		if j == n {
			return true
		}
	}
	return false
}
