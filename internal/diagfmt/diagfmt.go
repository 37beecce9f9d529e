// Package diagfmt writes diagnostics in the formats of `cairn check`: text
// (default), json, sarif (2.1.0), github (workflow annotations), junit and
// markdown. Output is deterministic: diagnostics are written in the order
// given (callers sort them), rules sorted by id, no timestamps.
package diagfmt

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/cairn-dev/cairn/internal/diag"
)

// Formats lists the accepted format names, default first.
var Formats = []string{"text", "json", "sarif", "github", "junit", "markdown"}

// Rule describes a rule (a policy, or a compiler error code) for formats that
// list rules: SARIF descriptors, and JUnit passing cases for clean rules.
type Rule struct {
	ID          string
	Title       string
	Description string
	HelpURI     string // where the rule is explained (default: its source)
}

// Options tune the output.
type Options struct {
	// ToolVersion is cairn's version, for SARIF's tool.driver.version.
	ToolVersion string
	// Rules are the rules that ran (e.g. every loaded policy), so that clean
	// rules still appear. Codes seen only in diagnostics are added.
	Rules []Rule
	// PathPrefix is prepended to file positions in sarif and github output,
	// whose paths are relative to the git repository root: use it when the
	// spec repo is a subdirectory ("specs/"). Empty for none.
	PathPrefix string
	// Title heads markdown and names the JUnit suite; "cairn check" if empty.
	Title string
	// Root is the spec repo on disk: SARIF columns are converted from bytes
	// to Unicode code points by reading the line there (as columnKind says).
	Root string
	// FallbackFile is where a diagnostic without a position is located in
	// SARIF (GitHub code scanning rejects results without a location):
	// the repo's main spec file, relative to the repo.
	FallbackFile string
}

// Write writes l to w in the named format.
func Write(w io.Writer, format string, l diag.List, opts Options) error {
	if opts.Title == "" {
		opts.Title = "cairn check"
	}
	// Team policies' messages are the team's text; never let one print a credential.
	red := make(diag.List, len(l))
	for i, d := range l {
		d.Message = diag.Redact(d.Message)
		d.Waiver = diag.Redact(d.Waiver)
		red[i] = d
	}
	l = red
	switch format {
	case "", "text":
		return writeText(w, l)
	case "json":
		return writeJSON(w, l)
	case "sarif":
		return writeSARIF(w, l, opts)
	case "github":
		return writeGitHub(w, l, opts)
	case "junit":
		return writeJUnit(w, l, opts)
	case "markdown", "md":
		return writeMarkdown(w, l, opts)
	}
	return fmt.Errorf("unknown format %q (one of %s)", format, strings.Join(Formats, ", "))
}

// Summary counts diagnostics by severity.
type Summary struct {
	Errors   int `json:"errors"`
	Denied   int `json:"denied"`
	Warnings int `json:"warnings"`
	Waived   int `json:"waived"`
}

func summarize(l diag.List) Summary {
	return Summary{Errors: l.Count(diag.Error), Denied: l.Count(diag.Deny), Warnings: l.Count(diag.Warn), Waived: l.Count(diag.Waived)}
}

func (s Summary) String() string {
	if s == (Summary{}) {
		return "no violations"
	}
	var parts []string
	add := func(n int, one, many string) {
		switch {
		case n == 1:
			parts = append(parts, "1 "+one)
		case n > 1:
			parts = append(parts, fmt.Sprintf("%d %s", n, many))
		}
	}
	add(s.Errors, "error", "errors")
	add(s.Denied, "denied", "denied")
	add(s.Warnings, "warning", "warnings")
	add(s.Waived, "waived", "waived")
	return strings.Join(parts, ", ")
}

// rules merges opts.Rules with the codes found in l, sorted by id.
func rules(l diag.List, opts Options) []Rule {
	byID := map[string]Rule{}
	for _, r := range opts.Rules {
		byID[r.ID] = r
	}
	for _, d := range l {
		if r, ok := byID[d.Code]; !ok || (r.Title == "" && d.Title != "") {
			byID[d.Code] = Rule{ID: d.Code, Title: d.Title, Description: r.Description, HelpURI: r.HelpURI}
		}
	}
	out := make([]Rule, 0, len(byID))
	for _, r := range byID {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// where renders the object and field a diagnostic is about: "models/x.risk".
func where(d diag.Diagnostic) string {
	if d.Path == "" {
		return d.Object
	}
	return d.Object + "." + d.Path
}

// inRepo says whether a position is a file of the user's repo (built-in
// policy files are not, so they get no annotation location).
func inRepo(p diag.Position) bool {
	return p.IsValid() && !strings.HasPrefix(p.File, "builtin/")
}
