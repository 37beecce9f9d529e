package prompts

import (
	"fmt"
	"strings"

	"github.com/sergi/go-diff/diffmatchpatch"
)

// Diff describes how prompt version b differs from version a: a line diff of
// the template (or messages) and every changed model parameter or input.
// Lines start with "-" (only in a), "+" (only in b) or " " (both). An empty
// result means the two contents are the same.
func Diff(labelA string, a Content, labelB string, b Content) string {
	var out strings.Builder
	if pa, pb := a.Model, b.Model; pa != pb {
		param := func(name string, x, y any) {
			if fmt.Sprint(x) != fmt.Sprint(y) {
				fmt.Fprintf(&out, "model.%s: %v → %v\n", name, x, y)
			}
		}
		param("provider", pa.Provider, pb.Provider)
		param("id", pa.ID, pb.ID)
		param("temperature", pa.Temperature, pb.Temperature)
		param("max_tokens", pa.MaxTokens, pb.MaxTokens)
	}
	if ia, ib := strings.Join(a.Inputs, ", "), strings.Join(b.Inputs, ", "); ia != ib {
		fmt.Fprintf(&out, "inputs: [%s] → [%s]\n", ia, ib)
	}
	if a.RAG != b.RAG {
		fmt.Fprintf(&out, "rag: %q → %q\n", a.RAG, b.RAG)
	}
	ta, tb := body(a), body(b)
	if ta != tb {
		fmt.Fprintf(&out, "--- %s\n+++ %s\n", labelA, labelB)
		out.WriteString(lineDiff(ta, tb))
	}
	return out.String()
}

// body is the text a version sends: its template, or its messages one per block.
func body(c Content) string {
	if len(c.Messages) == 0 {
		return Canonical(c.Template)
	}
	var b strings.Builder
	for i, m := range c.Messages {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "[%s]\n%s", m.Role, Canonical(m.Content))
	}
	return b.String()
}

func lineDiff(a, b string) string {
	dmp := diffmatchpatch.New()
	ca, cb, lines := dmp.DiffLinesToChars(a+"\n", b+"\n")
	diffs := dmp.DiffCharsToLines(dmp.DiffMain(ca, cb, false), lines)
	var out strings.Builder
	for _, d := range diffs {
		prefix := " "
		switch d.Type {
		case diffmatchpatch.DiffDelete:
			prefix = "-"
		case diffmatchpatch.DiffInsert:
			prefix = "+"
		}
		for _, l := range strings.SplitAfter(d.Text, "\n") {
			if l == "" {
				continue
			}
			out.WriteString(prefix + strings.TrimSuffix(l, "\n") + "\n")
		}
	}
	return out.String()
}
