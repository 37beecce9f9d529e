package diagfmt

import (
	"encoding/xml"
	"io"

	"github.com/cairn-dev/cairn/internal/diag"
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Line      int           `xml:"line,attr,omitempty"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitProblem `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

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
		s := junitSuite{Name: r.ID}
		ds := byRule[r.ID]
		if len(ds) == 0 {
			s.Cases = append(s.Cases, junitCase{Name: "no violations", Classname: r.ID})
		}
		for _, d := range ds {
			c := junitCase{Name: where(d), Classname: r.ID}
			if c.Name == "" {
				c.Name = d.Message
			}
			if inRepo(d.Pos) {
				c.File, c.Line = d.Pos.File, d.Pos.Line
			}
			p := &junitProblem{Message: d.Message, Type: string(d.Severity), Text: d.String()}
			switch d.Severity {
			case diag.Error:
				c.Error = p
				s.Errors++
			case diag.Deny:
				c.Failure = p
				s.Failures++
			case diag.Waived:
				p.Message = d.Message + " (" + d.Waiver + ")"
				c.Skipped = p
				s.Skipped++
			default:
				c.SystemOut = d.String()
			}
			s.Cases = append(s.Cases, c)
		}
		s.Tests = len(s.Cases)
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Errors += s.Errors
		out.Skipped += s.Skipped
		out.Suites = append(out.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
