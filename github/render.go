package github

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/cairn-dev/cairn/internal/diag"
)

// Report is everything the pull-request comment and check run show. It is
// plain data so that the CLI can fill it from the compiler, the policy engine,
// the plan and the eval comparison without this package importing them.
type Report struct {
	Project    string
	BaseRef    string
	BaseSHA    string
	HeadRef    string
	HeadSHA    string
	BundleHash string // of the head
	// Problems are failures that stopped part of the run ("base does not compile: …").
	Problems    []string
	Diagnostics diag.List // policy and compile results for the head
	Plan        Plan
	Evals       []SuiteDelta
	// Comparisons are the plan's alias moves between two registered
	// versions, each the Markdown of registry compare (the old version as
	// A, the new as B).
	Comparisons []Comparison
	RunURL      string // the workflow run, linked at the bottom
}

// Comparison is one alias move with its version comparison.
type Comparison struct {
	Move     string // "models/fraud-detector staging: 8 → 9"
	Markdown string
}

// Plan is the head's plan as the plan package renders it.
type Plan struct {
	// Made says a plan was computed: when compiling or checking failed
	// there is none, and the comment must not say "no changes".
	Made     bool
	Changes  int    // number of actions; 0 means no changes
	Blocked  int    // actions whose gate is blocked
	Summary  string // one line: "2 prompt versions to register, 1 label to move"
	Markdown string // the plan in Markdown (may contain fences and tables)
}

// SuiteDelta compares one eval suite between base and head.
type SuiteDelta struct {
	Suite   string
	Target  string // "prompts/support-answer"
	Metrics []MetricDelta
	Changed []CaseChange // cases whose result differs between base and head
	Error   string       // the suite could not run on the head
	Errors  int          // cases that ended in ERROR on the head (neither pass nor fail)
	Removed bool         // the suite exists on the base only
	// Classic evals computed from predictions: rows, the model versions
	// evaluated on each side (per-version predictions), and slices under
	// the minimum size.
	Rows                     int
	BaseVersion, HeadVersion string
}

// MetricDelta is one metric's aggregate on base and head.
type MetricDelta struct {
	Name      string
	Base      *float64 // nil when the suite did not exist or run on the base
	Head      *float64 // nil when it did not run on the head
	Threshold *float64
	// LowerIsBetter is true for toxicity, latency, cost and tokens (a ≤ bound).
	LowerIsBetter bool
	// HeadLow and HeadHigh are the head's bootstrap 95 % interval (metrics
	// computed from predictions); Note says why a value is missing or held.
	HeadLow, HeadHigh *float64
	Note              string
}

// Pass reports whether the head meets the threshold (true when there is none).
func (m MetricDelta) Pass() bool {
	if m.Head == nil {
		return false
	}
	if m.Threshold == nil {
		return true
	}
	if m.LowerIsBetter {
		return *m.Head <= *m.Threshold
	}
	return *m.Head >= *m.Threshold
}

// Regressed reports whether the head is worse than the base.
func (m MetricDelta) Regressed() bool {
	if m.Base == nil || m.Head == nil {
		return false
	}
	if m.LowerIsBetter {
		return *m.Head > *m.Base
	}
	return *m.Head < *m.Base
}

// CaseChange is one eval case whose result changed.
type CaseChange struct {
	ID     string
	Metric string
	Base   string // "PASS", "FAIL", "ERROR", or "" when the case is new
	Head   string // "" when the case was removed
	Note   string // scorer's reason, shortened by the caller
}

// Conclusion is the check run's verdict: failure when the head does not
// compile, a policy denies it, or a gating metric fails its threshold;
// neutral when there are only warnings or part of the run had problems;
// success otherwise.
func (r Report) Conclusion() string {
	if r.Diagnostics.Count(diag.Error) > 0 || r.Diagnostics.Count(diag.Deny) > 0 {
		return Failure
	}
	errored := false
	for _, s := range r.Evals {
		if s.Removed {
			continue
		}
		if s.Error != "" {
			return Failure
		}
		for _, m := range s.Metrics {
			if !m.Pass() {
				return Failure
			}
		}
		errored = errored || s.Errors > 0
	}
	// Errored cases are neither a pass nor a failure: the verdict is open.
	if r.Diagnostics.Count(diag.Warn) > 0 || len(r.Problems) > 0 || errored {
		return Neutral
	}
	return Success
}

// Headline is the one-line verdict used as the check run's title.
func (r Report) Headline() string {
	var parts []string
	n := func(c int, one, many string) string {
		if c == 1 {
			return "1 " + one
		}
		return strconv.Itoa(c) + " " + many
	}
	if e := r.Diagnostics.Count(diag.Error); e > 0 {
		parts = append(parts, n(e, "error", "errors"))
	}
	parts = append(parts, n(r.Diagnostics.Count(diag.Deny), "denial", "denials"))
	if w := r.Diagnostics.Count(diag.Warn); w > 0 {
		parts = append(parts, n(w, "warning", "warnings"))
	}
	if w := r.Diagnostics.Count(diag.Waived); w > 0 {
		parts = append(parts, strconv.Itoa(w)+" waived")
	}
	if r.Plan.Changes == 0 {
		parts = append(parts, "no changes")
	} else {
		parts = append(parts, n(r.Plan.Changes, "change", "changes"))
	}
	if f := r.failingMetrics(); f > 0 {
		parts = append(parts, n(f, "failing metric", "failing metrics"))
	}
	return strings.Join(parts, ", ")
}

func (r Report) failingMetrics() int {
	f := 0
	for _, s := range r.Evals {
		if s.Removed {
			continue
		}
		for _, m := range s.Metrics {
			if !m.Pass() {
				f++
			}
		}
	}
	return f
}

var conclusionIcon = map[string]string{Success: "✅", Failure: "❌", Neutral: "⚠️"}

// Summary is the short Markdown at the top of the comment and in the check
// run's summary: the verdict, the commits and the counts.
func (r Report) Summary() string {
	var b strings.Builder
	title := "cairn"
	if r.Project != "" {
		title += " · " + r.Project
	}
	fmt.Fprintf(&b, "## %s %s\n\n", conclusionIcon[r.Conclusion()], title)
	fmt.Fprintf(&b, "**%s**\n\n", esc(r.Headline()))
	if r.BaseSHA != "" || r.HeadSHA != "" {
		fmt.Fprintf(&b, "base %s → head %s", refLabel(r.BaseRef, r.BaseSHA), refLabel(r.HeadRef, r.HeadSHA))
		if r.BundleHash != "" {
			fmt.Fprintf(&b, " · bundle `%s`", shortHash(r.BundleHash))
		}
		b.WriteString("\n\n")
	}
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "> [!WARNING]\n> %s\n\n", esc(oneLine(p)))
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}

// RenderComment renders the full comment body (without the hidden marker,
// which Parts adds): the summary first, then policy results, the plan and the
// eval deltas. User-supplied text is escaped so it cannot break the layout.
func RenderComment(r Report) string {
	var b strings.Builder
	b.WriteString(r.Summary())

	b.WriteString("\n### Policy results\n\n")
	if len(r.Diagnostics) == 0 {
		b.WriteString("No errors, denials or warnings.\n")
	} else {
		l := append(diag.List(nil), r.Diagnostics...)
		l.Sort()
		// Worst first; within a severity, by position.
		sort.SliceStable(l, func(i, j int) bool { return severityRank[l[i].Severity] < severityRank[l[j].Severity] })
		b.WriteString("| | rule | object | message | location |\n|---|---|---|---|---|\n")
		for _, d := range l {
			obj := d.Object
			if d.Path != "" {
				obj += "." + d.Path
			}
			msg := d.Message
			if d.Waiver != "" {
				msg += " (waived: " + d.Waiver + ")"
			}
			loc := ""
			if d.Pos.IsValid() {
				loc = "`" + cell(d.Pos.String()) + "`"
			}
			fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s |\n", severityIcon(d.Severity), cell(d.Code), codeCell(obj), cell(msg), loc)
		}
	}

	b.WriteString("\n### Plan\n\n")
	switch {
	case !r.Plan.Made:
		b.WriteString("No plan was made: see the problems above.\n")
	case r.Plan.Changes == 0 && strings.TrimSpace(r.Plan.Markdown) == "":
		b.WriteString("No changes. The registry and rendered targets match the specs.\n")
	default:
		if r.Plan.Summary != "" {
			b.WriteString(esc(oneLine(r.Plan.Summary)))
			if r.Plan.Blocked > 0 {
				fmt.Fprintf(&b, " (%d blocked by gates)", r.Plan.Blocked)
			}
			b.WriteString("\n\n")
		}
		fmt.Fprintf(&b, "<details><summary>Plan: %d actions</summary>\n\n", r.Plan.Changes)
		b.WriteString(balanceFences(strings.TrimRight(r.Plan.Markdown, "\n")))
		b.WriteString("\n\n</details>\n")
	}

	if len(r.Comparisons) > 0 {
		b.WriteString("\n### Version comparisons\n")
		for _, c := range r.Comparisons {
			fmt.Fprintf(&b, "\n<details><summary>%s</summary>\n\n%s\n\n</details>\n", esc(oneLine(c.Move)), balanceFences(strings.TrimRight(c.Markdown, "\n")))
		}
	}

	if len(r.Evals) > 0 {
		b.WriteString("\n### Evals\n")
		for _, s := range r.Evals {
			fmt.Fprintf(&b, "\n#### %s", esc(s.Suite))
			if s.Target != "" {
				fmt.Fprintf(&b, " → `%s`", cell(s.Target))
			}
			b.WriteString("\n\n")
			if s.Removed {
				b.WriteString("Removed by this pull request.\n\n")
			}
			if s.Error != "" {
				fmt.Fprintf(&b, "❌ did not run: %s\n\n", esc(oneLine(s.Error)))
			}
			if s.Errors > 0 {
				fmt.Fprintf(&b, "⚠️ %d cases ended in ERROR (counted neither as pass nor as fail)\n\n", s.Errors)
			}
			if s.Rows > 0 {
				fmt.Fprintf(&b, "Computed from %d prediction rows", s.Rows)
				if s.HeadVersion != "" {
					fmt.Fprintf(&b, " of version %s", cell(s.HeadVersion))
					if s.BaseVersion != "" && s.BaseVersion != s.HeadVersion {
						fmt.Fprintf(&b, " (base: version %s)", cell(s.BaseVersion))
					}
				}
				b.WriteString("; head values with their bootstrap 95 % interval.\n\n")
			}
			if len(s.Metrics) > 0 {
				b.WriteString("| metric | base | head | Δ | threshold | |\n|---|---:|---:|---:|---|---|\n")
				for _, m := range s.Metrics {
					th := ""
					if m.Threshold != nil {
						op := "≥"
						if m.LowerIsBetter {
							op = "≤"
						}
						th = op + " " + num(m.Threshold)
					}
					status := "✅"
					if s.Removed {
						status = ""
					} else if !m.Pass() {
						status = "❌"
					}
					if m.Regressed() {
						status += " (regressed)"
					}
					head := num(m.Head)
					if m.HeadLow != nil && m.HeadHigh != nil {
						head += " [" + num(m.HeadLow) + ", " + num(m.HeadHigh) + "]"
					}
					if m.Note != "" && !m.Pass() {
						status += " " + cell(oneLine(m.Note))
					}
					fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", cell(m.Name), num(m.Base), head, delta(m.Base, m.Head), th, status)
				}
			}
			if len(s.Changed) > 0 {
				fmt.Fprintf(&b, "\n<details><summary>%d cases changed</summary>\n\n", len(s.Changed))
				b.WriteString("| case | metric | base | head | note |\n|---|---|---|---|---|\n")
				for _, c := range s.Changed {
					fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", cell(c.ID), cell(c.Metric), result(c.Base), result(c.Head), cell(c.Note))
				}
				b.WriteString("\n</details>\n")
			}
		}
	}
	if r.RunURL != "" {
		fmt.Fprintf(&b, "\n---\n[workflow run](%s)\n", r.RunURL)
	}
	return b.String()
}

var severityRank = map[diag.Severity]int{diag.Error: 0, diag.Deny: 1, diag.Warn: 2, diag.Waived: 3}

func severityIcon(s diag.Severity) string {
	switch s {
	case diag.Error:
		return "🛑 error"
	case diag.Deny:
		return "❌ deny"
	case diag.Warn:
		return "⚠️ warn"
	case diag.Waived:
		return "💤 waived"
	}
	return esc(string(s))
}

func result(s string) string {
	switch s {
	case "":
		return "—"
	case "PASS":
		return "✅ PASS"
	case "FAIL":
		return "❌ FAIL"
	case "ERROR":
		return "⚠️ ERROR"
	}
	return cell(s)
}

func refLabel(ref, sha string) string {
	s := ""
	if ref != "" {
		s = "`" + cell(ref) + "`"
	}
	if sha != "" {
		if s != "" {
			s += " "
		}
		s += "(`" + short7(sha) + "`)"
	}
	if s == "" {
		return "?"
	}
	return s
}

func short7(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

func shortHash(h string) string {
	if i := strings.IndexByte(h, ':'); i >= 0 && len(h) > i+13 {
		return h[:i+13]
	}
	return h
}

func num(f *float64) string {
	if f == nil {
		return "—"
	}
	if math.IsNaN(*f) || math.IsInf(*f, 0) {
		return strconv.FormatFloat(*f, 'g', -1, 64)
	}
	return strconv.FormatFloat(*f, 'g', 4, 64)
}

func delta(base, head *float64) string {
	if base == nil || head == nil {
		return "—"
	}
	d := *head - *base
	if d == 0 {
		return "0"
	}
	s := strconv.FormatFloat(d, 'g', 3, 64)
	if d > 0 {
		s = "+" + s
	}
	return s
}

// esc keeps user text from opening HTML (a stray </details> would break the
// comment's structure) or Markdown formatting.
func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// cell escapes text for a Markdown table cell: one line, no bare pipes.
func cell(s string) string {
	return strings.ReplaceAll(esc(oneLine(s)), "|", `\|`)
}

// codeCell shows an identifier in code style, or nothing.
func codeCell(s string) string {
	if s == "" {
		return ""
	}
	return "`" + strings.NewReplacer("`", "'", "|", `\|`).Replace(oneLine(s)) + "`"
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// balanceFences closes a code fence the plan left open, so that it cannot
// swallow the rest of the comment.
func balanceFences(md string) string {
	var st mdState
	for _, l := range strings.Split(md, "\n") {
		st.step(l)
	}
	if st.fence != "" {
		md += "\n" + fenceMarker(st.fence)
	}
	for range st.details {
		md += "\n\n</details>"
	}
	return md
}
