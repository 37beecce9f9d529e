package targets

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"sort"
	"strconv"
	"strings"

	"github.com/cairn-dev/cairn/internal/promql"
)

// selector is a parsed PromQL instant-vector selector: name{l="v", m=~"re"}.
// cairn only needs it to split a histogram name from its matchers and to
// generate input series for the promtool unit tests it emits.
type selector struct {
	Name     string
	Matchers []matcher
}

type matcher struct {
	Label, Op, Value string
}

// parseSelector parses a plain selector with the Prometheus parser (through
// internal/promql); ok is false for anything else (a function call, a range,
// an arithmetic expression, a selector without a metric name).
func parseSelector(s string) (selector, bool) {
	ps, err := promql.ParseSelector(s)
	if err != nil {
		return selector{}, false
	}
	return fromPromQL(ps), true
}

func fromPromQL(ps promql.Selector) selector {
	sel := selector{Name: ps.Name}
	for _, m := range ps.Matchers {
		sel.Matchers = append(sel.Matchers, matcher{Label: m.Label, Op: m.Op, Value: m.Value})
	}
	return sel
}

// String writes the selector back, with extra matchers appended.
func (s selector) String(extra ...matcher) string {
	ms := append(append([]matcher{}, s.Matchers...), extra...)
	if len(ms) == 0 {
		return s.Name
	}
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.Label + m.Op + strconv.Quote(m.Value)
	}
	return s.Name + "{" + strings.Join(parts, ",") + "}"
}

// matches reports whether a concrete label set satisfies every matcher
// (Prometheus anchors regular expressions; a missing label is "").
func (s selector) matches(name string, labels map[string]string) bool {
	if name != s.Name {
		return false
	}
	for _, m := range s.Matchers {
		v := labels[m.Label]
		switch m.Op {
		case "=":
			if v != m.Value {
				return false
			}
		case "!=":
			if v == m.Value {
				return false
			}
		case "=~", "!~":
			re, err := regexp.Compile("^(?:" + m.Value + ")$")
			if err != nil || re.MatchString(v) != (m.Op == "=~") {
				return false
			}
		}
	}
	return true
}

// sampleLabels returns a label set that the selector matches.
func (s selector) sampleLabels() (map[string]string, bool) {
	out := map[string]string{}
	for _, m := range s.Matchers {
		switch m.Op {
		case "=":
			out[m.Label] = m.Value
		case "=~":
			re, err := syntax.Parse(m.Value, syntax.Perl)
			if err != nil {
				return nil, false
			}
			v, ok := sampleString(re.Simplify())
			if !ok {
				return nil, false
			}
			if v != "" {
				out[m.Label] = v
			}
		}
	}
	if !s.matches(s.Name, out) {
		return nil, false
	}
	return out, true
}

// seriesString formats a series for a promtool input_series entry.
func seriesString(name string, labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Quote(labels[k])
	}
	if len(parts) == 0 {
		return name
	}
	return fmt.Sprintf("%s{%s}", name, strings.Join(parts, ","))
}

// sampleString builds a short string matching a regular expression.
func sampleString(re *syntax.Regexp) (string, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		return string(re.Rune), true
	case syntax.OpCharClass:
		if len(re.Rune) == 0 {
			return "", false
		}
		return string(re.Rune[0]), true
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return "x", true
	case syntax.OpEmptyMatch, syntax.OpStar, syntax.OpQuest,
		syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText:
		return "", true
	case syntax.OpCapture, syntax.OpPlus:
		return sampleString(re.Sub[0])
	case syntax.OpRepeat:
		one, ok := sampleString(re.Sub[0])
		return strings.Repeat(one, re.Min), ok
	case syntax.OpConcat:
		var b strings.Builder
		for _, sub := range re.Sub {
			s, ok := sampleString(sub)
			if !ok {
				return "", false
			}
			b.WriteString(s)
		}
		return b.String(), true
	case syntax.OpAlternate:
		return sampleString(re.Sub[0])
	}
	return "", false
}
