// Package prompts parses and renders prompt templates, computes their content
// address, and compares versions.
//
// Templates use {{ name }} placeholders and nothing else: no logic, so what a
// reviewer reads in a diff is what the model receives.
package prompts

import (
	"fmt"
	"sort"
	"strings"
)

// Var is one placeholder occurrence in a template.
type Var struct {
	Name      string
	Line, Col int // 1-based, in the template text (columns in bytes)
}

// SyntaxError is a malformed placeholder, located in the template text.
type SyntaxError struct {
	Line, Col int
	Msg       string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Msg) }

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdent(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

// Parse returns every placeholder in the template, in order of appearance.
func Parse(tmpl string) ([]Var, error) {
	var vars []Var
	line, col := 1, 1
	advance := func(s string) {
		for i := 0; i < len(s); i++ {
			if s[i] == '\n' {
				line++
				col = 1
			} else {
				col++
			}
		}
	}
	rest := tmpl
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			// A stray closing brace pair is almost always a typo of an opening one.
			if j := strings.Index(rest, "}}"); j >= 0 {
				advance(rest[:j])
				return nil, &SyntaxError{line, col, `"}}" without a matching "{{"`}
			}
			return vars, nil
		}
		if j := strings.Index(rest[:i], "}}"); j >= 0 {
			advance(rest[:j])
			return nil, &SyntaxError{line, col, `"}}" without a matching "{{"`}
		}
		advance(rest[:i])
		startLine, startCol := line, col
		rest = rest[i:]
		end := strings.Index(rest, "}}")
		if end < 0 {
			return nil, &SyntaxError{startLine, startCol, `unclosed "{{": missing "}}"`}
		}
		inner := rest[2:end]
		name := strings.TrimSpace(inner)
		if strings.Contains(inner, "{{") || strings.Contains(inner, "\n") {
			return nil, &SyntaxError{startLine, startCol, `unclosed "{{": missing "}}" on the same line`}
		}
		if name == "" {
			return nil, &SyntaxError{startLine, startCol, "empty placeholder {{ }}"}
		}
		ok := isIdentStart(name[0])
		for k := 1; ok && k < len(name); k++ {
			ok = isIdent(name[k])
		}
		if !ok {
			return nil, &SyntaxError{startLine, startCol, fmt.Sprintf("placeholder {{%s}} is not a plain variable name (letters, digits, _)", inner)}
		}
		vars = append(vars, Var{Name: name, Line: startLine, Col: startCol})
		advance(rest[:end+2])
		rest = rest[end+2:]
	}
}

// Variables returns the sorted, distinct placeholder names of a template.
func Variables(tmpl string) ([]string, error) {
	vs, err := Parse(tmpl)
	if err != nil {
		return nil, err
	}
	return names(vs), nil
}

func names(vs []Var) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, v := range vs {
		if !seen[v.Name] {
			seen[v.Name] = true
			out = append(out, v.Name)
		}
	}
	sort.Strings(out)
	return out
}

// Render substitutes every placeholder. A variable without a value is an
// error rather than an empty string: a silently blank prompt scores as a bad model.
func Render(tmpl string, vars map[string]string) (string, error) {
	vs, err := Parse(tmpl)
	if err != nil {
		return "", err
	}
	var missing []string
	for _, n := range names(vs) {
		if _, ok := vars[n]; !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("no value for template variable(s) %s", strings.Join(missing, ", "))
	}
	var b strings.Builder
	rest := tmpl
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			b.WriteString(rest)
			return b.String(), nil
		}
		b.WriteString(rest[:i])
		end := strings.Index(rest[i:], "}}") + i
		b.WriteString(vars[strings.TrimSpace(rest[i+2:end])])
		rest = rest[end+2:]
	}
}
