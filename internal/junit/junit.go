// Package junit writes JUnit XML reports, the test-result format CI systems
// render natively. Every cairn report (check, data validate, eval) builds the
// same few types and calls Write, so the XML shape is defined once — the
// shape of Jenkins' junit-10.xsd (the xunit plugin's schema, which Jenkins
// validates against): <testsuites name tests failures errors>, each
// <testsuite name tests failures errors skipped>, each <testcase name
// classname> with <failure>, <error>, <skipped> or <system-out>. The schema
// allows no file or line on a testcase: a location is part of the case's name
// or text.
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

// Write fills in the counts of s from its cases and writes the XML header
// and s, indented by two spaces, followed by a newline. The output depends
// only on s.
func Write(w io.Writer, s Suites) error {
	s.Tests, s.Failures, s.Errors = 0, 0, 0
	for i := range s.Suites {
		su := &s.Suites[i]
		su.Tests, su.Failures, su.Errors, su.Skipped = len(su.Cases), 0, 0, 0
		for _, c := range su.Cases {
			switch {
			case c.Failure != nil:
				su.Failures++
			case c.Error != nil:
				su.Errors++
			case c.Skipped != nil:
				su.Skipped++
			}
		}
		s.Tests += su.Tests
		s.Failures += su.Failures
		s.Errors += su.Errors
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(s); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
