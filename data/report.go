package data

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/cairn-dev/cairn/internal/junit"
)

// WriteText writes the report for people: one line per rule, failures with
// their example rows.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	src := ""
	if r.Data != nil {
		src = r.Data.Path + " "
	}
	status := "PASS"
	if !r.Passed {
		status = "FAIL"
	}
	fmt.Fprintf(&b, "data validate %s(%d rows", src, r.Rows)
	if r.FeatureSet != "" {
		fmt.Fprintf(&b, ", feature set %s", r.FeatureSet)
	}
	fmt.Fprintf(&b, "): %s, %d rule(s) failed\n", status, r.Failures)
	for _, f := range r.Features {
		fmt.Fprintf(&b, "  %s (%s): %d nulls (%.4f)\n", f.Feature, f.DType, f.Nulls, f.NullRatio)
		for _, rr := range f.Rules {
			mark := "ok  "
			if !rr.Passed {
				mark = "FAIL"
			}
			fmt.Fprintf(&b, "    %s %-14s %-24s %d/%d failing", mark, rr.Rule, rr.Expect, rr.Failures, rr.Checked)
			if len(rr.Examples) > 0 {
				ex := make([]string, len(rr.Examples))
				for i, e := range rr.Examples {
					ex[i] = fmt.Sprintf("row %d: %s", e.Row, e.Value)
				}
				fmt.Fprintf(&b, " (e.g. %s)", strings.Join(ex, "; "))
			}
			b.WriteByte('\n')
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the report as indented JSON (stable field order).
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteJUnit writes one test suite per feature and one test case per rule,
// the shape CI systems render natively.
func (r *Report) WriteJUnit(w io.Writer) error {
	name := "cairn data validate"
	if r.Data != nil {
		name += " " + r.Data.Path
	}
	out := junit.Suites{Name: name}
	for _, f := range r.Features {
		s := junit.Suite{Name: "features/" + f.Feature}
		for _, rr := range f.Rules {
			c := junit.Case{Name: rr.Rule + " " + rr.Expect, Classname: "features." + f.Feature}
			if !rr.Passed {
				var ex []string
				for _, e := range rr.Examples {
					ex = append(ex, fmt.Sprintf("row %d: %s", e.Row, e.Value))
				}
				c.Failure = &junit.Problem{
					Message: fmt.Sprintf("%d of %d rows break %s %s", rr.Failures, rr.Checked, rr.Rule, rr.Expect),
					Type:    rr.Rule,
					Text:    strings.Join(ex, "\n"),
				}
			}
			s.Cases = append(s.Cases, c)
		}
		out.Suites = append(out.Suites, s)
	}
	return junit.Write(w, out)
}
