package compare

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/cairn-dev/cairn/internal/md"
)

func num(f *float64) string {
	if f == nil {
		return "—"
	}
	return strconv.FormatFloat(*f, 'g', 6, 64)
}

func diff(m Metric) string {
	if m.Diff == nil {
		return "—"
	}
	s := fmt.Sprintf("%+.4g", *m.Diff)
	if m.Low != nil && m.High != nil {
		s += fmt.Sprintf(" [%+.4g, %+.4g]", *m.Low, *m.High)
	}
	return s
}

func mark(differs bool) string {
	if differs {
		return "≠"
	}
	return "="
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// WriteText writes the comparison for a terminal: "≠" marks what differs.
func (c *Comparison) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "models/%s: %s (A) vs %s (B)\n", c.Model, c.A.Version, c.B.Version)
	for _, r := range [][3]string{{"digest", c.A.Digest, c.B.Digest}, {"artifact", c.A.Artifact, c.B.Artifact}, {"commit", c.A.Commit, c.B.Commit},
		{"data", c.A.DataSnapshot, c.B.DataSnapshot}, {"imported", c.A.Source, c.B.Source}} {
		if r[1] != "" || r[2] != "" {
			fmt.Fprintf(w, "  %s %-9s %s | %s\n", mark(r[1] != r[2]), r[0], orDash(r[1]), orDash(r[2]))
		}
	}
	fmt.Fprintln(w, "parameters")
	if len(c.Params) == 0 {
		fmt.Fprintln(w, "  none recorded")
	}
	for _, p := range c.Params {
		fmt.Fprintf(w, "  %s %s: %s | %s\n", mark(p.Differs), p.Name, orDash(p.A), orDash(p.B))
	}
	fmt.Fprintln(w, "data")
	for _, in := range c.Inputs {
		fmt.Fprintf(w, "  %s %s: %s | %s\n", mark(in.Differs), in.Name, orDash(in.A), orDash(in.B))
	}
	if len(c.FeaturesOnlyA)+len(c.FeaturesOnlyB) > 0 {
		fmt.Fprintf(w, "  ≠ features only in A: %s; only in B: %s\n", orDash(strings.Join(c.FeaturesOnlyA, ", ")), orDash(strings.Join(c.FeaturesOnlyB, ", ")))
	}
	fmt.Fprintln(w, "metrics (B − A)")
	for _, m := range c.Metrics {
		note := ""
		if m.Note != "" {
			note = "  (" + m.Note + ")"
		}
		fmt.Fprintf(w, "  %-24s %-26s %s | %s  %s%s\n", m.Name, m.Source, num(m.A), num(m.B), diff(m), note)
	}
	fmt.Fprintln(w, "gates (checked against the state now)")
	for _, g := range c.Gates {
		fmt.Fprintf(w, "  %-10s A: %s | B: %s\n", g.Alias, g.A, g.B)
	}
	return nil
}

// WriteMarkdown writes the comparison as Markdown tables (a PR comment or
// a review document); every value from the state is escaped.
func (c *Comparison) WriteMarkdown(w io.Writer) error {
	e := md.Cell
	fmt.Fprintf(w, "### models/%s: %s vs %s\n\n", e(c.Model), e(c.A.Version), e(c.B.Version))
	fmt.Fprintf(w, "| | %s (A) | %s (B) |\n|---|---|---|\n", e(c.A.Version), e(c.B.Version))
	for _, r := range [][3]string{{"digest", c.A.Digest, c.B.Digest}, {"artifact", c.A.Artifact, c.B.Artifact}, {"commit", c.A.Commit, c.B.Commit},
		{"data snapshot", c.A.DataSnapshot, c.B.DataSnapshot}} {
		fmt.Fprintf(w, "| %s %s | %s | %s |\n", mark(r[1] != r[2]), r[0], e(orDash(r[1])), e(orDash(r[2])))
	}
	for _, p := range c.Params {
		fmt.Fprintf(w, "| %s param %s | %s | %s |\n", mark(p.Differs), e(p.Name), e(orDash(p.A)), e(orDash(p.B)))
	}
	for _, in := range c.Inputs {
		fmt.Fprintf(w, "| %s data %s | %s | %s |\n", mark(in.Differs), e(in.Name), e(orDash(in.A)), e(orDash(in.B)))
	}
	fmt.Fprintf(w, "\n| metric | source | A | B | B − A | note |\n|---|---|---|---|---|---|\n")
	for _, m := range c.Metrics {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", e(m.Name), e(m.Source), num(m.A), num(m.B), e(diff(m)), e(m.Note))
	}
	fmt.Fprintf(w, "\n| alias | A | B |\n|---|---|---|\n")
	for _, g := range c.Gates {
		fmt.Fprintf(w, "| %s | %s | %s |\n", e(g.Alias), e(g.A), e(g.B))
	}
	return nil
}
