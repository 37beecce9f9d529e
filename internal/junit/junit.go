// Package junit writes JUnit XML reports, the test-result format CI systems
// render natively. Every cairn report (check, data validate, eval) builds the
// same few types and calls Write, so the XML shape is defined once.
package junit

import (
	"encoding/xml"
	"io"
)

// Suites is the <testsuites> root. Its count attributes, and those of each
// suite, are computed by Write from the cases; the fields are here so a
// report can be read back with xml.Unmarshal.
type Suites struct {
	XMLName  xml.Name `xml:"testsuites"`
	Name     string   `xml:"name,attr,omitempty"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Skipped  int      `xml:"skipped,attr"`
	Suites   []Suite  `xml:"testsuite"`
}

// Suite is one <testsuite>.
type Suite struct {
	Name     string `xml:"name,attr"`
	Tests    int    `xml:"tests,attr"`
	Failures int    `xml:"failures,attr"`
	Errors   int    `xml:"errors,attr"`
	Skipped  int    `xml:"skipped,attr"`
	Cases    []Case `xml:"testcase"`
}

// Case is one <testcase>: it passes unless Failure, Error or Skipped is set.
type Case struct {
	Name      string   `xml:"name,attr"`
	Classname string   `xml:"classname,attr"`
	File      string   `xml:"file,attr,omitempty"`
	Line      int      `xml:"line,attr,omitempty"`
	Failure   *Problem `xml:"failure,omitempty"`
	Error     *Problem `xml:"error,omitempty"`
	Skipped   *Problem `xml:"skipped,omitempty"`
	SystemOut string   `xml:"system-out,omitempty"`
}

// Problem is the body of <failure>, <error> or <skipped>.
type Problem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// Counter selects count attributes. Reports differ in which counters they
// write (data validate has no errors, eval no root totals), and their
// consumers and goldens depend on that, so the caller chooses.
type Counter uint8

const (
	Tests Counter = 1 << iota
	Failures
	Errors
	Skipped
	// All writes every counter, zeros included.
	All = Tests | Failures | Errors | Skipped
)

// Counters says which counters Write puts on <testsuites> and on each <testsuite>.
type Counters struct {
	Root, Suite Counter
}

// Write fills in the counts of s from its cases and writes the XML header
// and s, indented by two spaces, followed by a newline. The output depends
// only on s and c.
func Write(w io.Writer, s Suites, c Counters) error {
	root := wireSuites{Name: s.Name}
	var total counts
	for _, su := range s.Suites {
		n := count(su.Cases)
		total.add(n)
		root.Suites = append(root.Suites, wireSuite{Name: su.Name, wireCounts: n.attrs(c.Suite), Cases: su.Cases})
	}
	root.wireCounts = total.attrs(c.Root)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(root); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

type counts struct{ tests, failures, errors, skipped int }

func count(cs []Case) counts {
	n := counts{tests: len(cs)}
	for _, c := range cs {
		switch {
		case c.Failure != nil:
			n.failures++
		case c.Error != nil:
			n.errors++
		case c.Skipped != nil:
			n.skipped++
		}
	}
	return n
}

func (n *counts) add(m counts) {
	n.tests += m.tests
	n.failures += m.failures
	n.errors += m.errors
	n.skipped += m.skipped
}

func (n counts) attrs(sel Counter) wireCounts {
	pick := func(c Counter, v int) *int {
		if sel&c == 0 {
			return nil
		}
		return &v
	}
	return wireCounts{pick(Tests, n.tests), pick(Failures, n.failures), pick(Errors, n.errors), pick(Skipped, n.skipped)}
}

// The wire types leave out unselected counters (nil) while writing zeros
// for selected ones, which plain int attributes cannot express.
type wireCounts struct {
	Tests    *int `xml:"tests,attr,omitempty"`
	Failures *int `xml:"failures,attr,omitempty"`
	Errors   *int `xml:"errors,attr,omitempty"`
	Skipped  *int `xml:"skipped,attr,omitempty"`
}

type wireSuites struct {
	XMLName xml.Name `xml:"testsuites"`
	Name    string   `xml:"name,attr,omitempty"`
	wireCounts
	Suites []wireSuite `xml:"testsuite"`
}

type wireSuite struct {
	Name string `xml:"name,attr"`
	wireCounts
	Cases []Case `xml:"testcase"`
}
