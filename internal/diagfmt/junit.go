package diagfmt

import (
	"io"

	"github.com/cairn-dev/cairn/internal/diag"
	"github.com/cairn-dev/cairn/internal/junit"
)

// junitSuites is the root element as read back (tests decode reports with it).
type junitSuites = junit.Suites

// writeJUnit writes one test suite per rule and one test case per
// diagnostic: denials fail, errors error, waived are skipped, warnings pass
// with the warning in system-out; a rule without diagnostics is one passing case.
func writeJUnit(w io.Writer, l diag.List, opts Options) error {
	byRule := map[string][]diag.Diagnostic{}
	for _, d := range l {
		byRule[d.Code] = append(byRule[d.Code], d)
	}
	out := junitSuites{Name: opts.Title}
	for _, r := range rules(l, opts) {
		s := junit.Suite{Name: r.ID}
		ds := byRule[r.ID]
		if len(ds) == 0 {
			s.Cases = append(s.Cases, junit.Case{Name: "no violations", Classname: r.ID})
		}
		for _, d := range ds {
			c := junit.Case{Name: where(d), Classname: r.ID}
			if c.Name == "" {
				c.Name = d.Message
			}
			p := &junit.Problem{Message: d.Message, Type: string(d.Severity), Text: d.String()}
			switch d.Severity {
			case diag.Error:
				c.Error = p
			case diag.Deny:
				c.Failure = p
			case diag.Waived:
				p.Message = d.Message + " (" + d.Waiver + ")"
				c.Skipped = p
			default:
				c.SystemOut = d.String()
			}
			s.Cases = append(s.Cases, c)
		}
		out.Suites = append(out.Suites, s)
	}
	return junit.Write(w, out)
}
