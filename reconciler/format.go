package reconciler

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/cairn-dev/cairn/internal/md"
)

// Plan output formats.
const (
	FormatText     = "text"
	FormatJSON     = "json"
	FormatMarkdown = "markdown"
)

// WritePlan writes the plan in a format: text, json (with format_version) or markdown.
func WritePlan(w io.Writer, p *Plan, format string) error {
	switch format {
	case FormatText, "":
		return writeText(w, p)
	case FormatJSON:
		s := p.Summarize()
		out := *p
		out.Summary = &s
		p = &out
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false) // ">= 0.92" stays readable
		return enc.Encode(p)
	case FormatMarkdown, "md":
		return writeMarkdown(w, p)
	}
	return fmt.Errorf("unknown plan format %q (text, json, markdown)", format)
}

func counts(p *Plan) (ready, blocked int) {
	for _, a := range p.Actions {
		if a.Ready() {
			ready++
		} else {
			blocked++
		}
	}
	return
}

func symbol(a Action) string {
	switch a.Type {
	case RegisterPromptVersion, SnapshotRAG, RunEval:
		return "+"
	case RenderTarget:
		if a.Before == "" {
			return "+"
		}
		if a.After == "" {
			return "-"
		}
	}
	return "~"
}

// Summary is one line per action: "move_prompt_label prompts/x prod: 1.3.0 → 1.4.0".
func (a Action) Summary() string {
	s := string(a.Type) + " " + a.Object
	switch a.Type {
	case MovePromptLabel, MoveModelAlias:
		before := a.Before
		if before == "" {
			before = "(unset)"
		}
		s += " " + a.Name + ": " + before + " → " + a.After
	case RegisterPromptVersion:
		s += " " + a.After + " (" + shortHash(a.Subject) + ")"
	case RunEval:
		s += " on " + a.Name + "@" + a.TargetVersion + " (" + shortHash(a.Subject) + ")"
	case SnapshotRAG, RenderTarget:
		s += " " + shortHash(a.After)
	case TriggerTraining:
		// Which trigger fires, and on which evidence: one firing per evidence id.
		trigger := a.Name
		if a.Training != nil && a.Training.Trigger != "" {
			trigger = a.Training.Trigger
		}
		if trigger == "" {
			trigger = "no trigger declared"
		}
		s += " via " + trigger + " (evidence " + shortHash(a.After) + ")"
	}
	return s
}

func shortHash(h string) string {
	if len(h) > 19 {
		return h[:19]
	}
	return h
}

// GateMark is a gate status as a mark: ✓ passed, … pending, ✗ failed.
func GateMark(status string) string {
	switch status {
	case GatePassed:
		return "✓"
	case GatePending:
		return "…"
	}
	return "✗"
}

func writeText(w io.Writer, p *Plan) error {
	var b strings.Builder
	if len(p.Actions) == 0 {
		fmt.Fprintf(&b, "No changes: the state matches the specs (bundle %s).\n", shortHash(p.BundleHash))
		_, err := io.WriteString(w, b.String())
		return err
	}
	ready, blocked := counts(p)
	fmt.Fprintf(&b, "Plan: %d action(s), %d ready, %d blocked (bundle %s, %d approval(s))\n", len(p.Actions), ready, blocked, shortHash(p.BundleHash), p.Approvals)
	if p.Denied {
		fmt.Fprintf(&b, "\nBlocked by the policy check (nothing can be applied until each is fixed or waived):\n")
		for _, d := range p.Denials() {
			fmt.Fprintf(&b, "    %s\n", d.String())
		}
	}
	for _, d := range p.Waived() {
		fmt.Fprintf(&b, "    waived: %s\n", d.String())
	}
	for _, d := range p.Warnings() {
		fmt.Fprintf(&b, "    warning: %s\n", d.String())
	}
	for _, a := range p.Actions {
		fmt.Fprintf(&b, "\n%s %s\n", symbol(a), a.Summary())
		fmt.Fprintf(&b, "    reason: %s\n", a.Reason)
		for _, g := range a.Gates {
			fmt.Fprintf(&b, "    %s %s: %s\n", GateMark(g.Status), g.Gate, g.Detail)
		}
		for _, c := range a.Compared {
			fmt.Fprintf(&b, "    vs %s: %s\n", c.BaseVersion, c.String())
		}
		fmt.Fprintf(&b, "    status: %s\n", a.Status)
		if a.Pos.IsValid() {
			fmt.Fprintf(&b, "    at: %s\n", a.Pos)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeMarkdown(w io.Writer, p *Plan) error {
	var b strings.Builder
	b.WriteString("### cairn plan\n\n")
	if len(p.Actions) == 0 {
		fmt.Fprintf(&b, "No changes: the state matches the specs (bundle `%s`).\n", shortHash(p.BundleHash))
		_, err := io.WriteString(w, b.String())
		return err
	}
	ready, blocked := counts(p)
	fmt.Fprintf(&b, "%d action(s): **%d ready**, **%d blocked** (bundle `%s`, %d approval(s))\n\n", len(p.Actions), ready, blocked, shortHash(p.BundleHash), p.Approvals)
	if p.Denied {
		b.WriteString("**Blocked by the policy check** (nothing can be applied until each is fixed or waived):\n\n")
		for _, d := range p.Denials() {
			fmt.Fprintf(&b, "- `%s` %s %s: %s\n", md.Cell(d.Pos.String()), d.Severity, md.Cell(d.Code), md.Cell(d.Message))
		}
		b.WriteString("\n")
	}
	if ws := p.Warnings(); len(ws) > 0 {
		b.WriteString("**Warnings:**\n\n")
		for _, d := range ws {
			fmt.Fprintf(&b, "- `%s` %s: %s\n", md.Cell(d.Pos.String()), md.Cell(d.Code), md.Cell(d.Message))
		}
		b.WriteString("\n")
	}
	b.WriteString("| | action | object | change | status |\n|---|---|---|---|---|\n")
	for _, a := range p.Actions {
		mark := "✅"
		if !a.Ready() {
			mark = "⛔"
		}
		change := a.After
		if a.Type == MovePromptLabel || a.Type == MoveModelAlias {
			before := a.Before
			if before == "" {
				before = "(unset)"
			}
			change = a.Name + ": " + before + " → " + a.After
		} else {
			change = shortHash(change)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", mark, a.Type, md.Cell(a.Object), md.Cell(change), md.Cell(a.Status))
	}
	for _, a := range p.Actions {
		if len(a.Gates) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n<details><summary>%s %s gates</summary>\n\n", md.Cell(a.Object), md.Cell(a.Name))
		for _, g := range a.Gates {
			fmt.Fprintf(&b, "- %s **%s**: %s\n", GateMark(g.Status), md.Cell(g.Gate), md.Cell(g.Detail))
		}
		if len(a.Compared) > 0 {
			fmt.Fprintf(&b, "\nBeside version %s (at %s now), on the rows both scored (paired bootstrap 95 %%):\n\n", md.Cell(a.Before), md.Cell(a.Name))
			for _, c := range a.Compared {
				fmt.Fprintf(&b, "- %s\n", md.Cell(c.String()))
			}
		}
		b.WriteString("\n</details>\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// String is "<metric> <base> → <head>, <difference> [<interval>] (n paired rows)".
func (c Compared) String() string {
	s := fmt.Sprintf("%s %s → %s, %+.4f", c.Metric, fmtStat(c.Base), fmtStat(c.Head), c.Diff)
	if c.Low != nil && c.High != nil {
		s += fmt.Sprintf(" [%+.4f, %+.4f]", *c.Low, *c.High)
	}
	return s + fmt.Sprintf(" (%d paired rows)", c.Rows)
}
