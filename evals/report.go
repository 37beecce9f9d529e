package evals

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/cairn-dev/cairn/internal/junit"
)

func fmtVal(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.4g", *v)
}

// WriteTable prints runs as a human-readable table.
func WriteTable(w io.Writer, runs []*Run) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range runs {
		fmt.Fprintf(tw, "suite %s (%s): %s  cases=%d errors=%d cache_hits=%d tokens=%d/%d cost=$%.6f\n",
			r.Suite, r.Target, r.Status, len(r.Cases), r.Errors, r.CacheHits, r.InputTokens, r.OutTokens, r.CostUSD)
		fmt.Fprintln(tw, "  METRIC\tSCORER\tAGGREGATE\tVALUE\tBOUND\tCASES\tERRORS\tRESULT")
		for _, m := range r.Metrics {
			res := "FAIL"
			if m.Pass {
				res = "PASS"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s %g\t%d\t%d\t%s\n", m.Name, m.Scorer, m.Aggregate, fmtVal(m.Value), m.Op, m.Threshold, m.Cases, m.Errors, res)
		}
		for _, m := range r.Metrics {
			if m.Approximation != "" {
				fmt.Fprintf(tw, "  note: %s (%s): %s\n", m.Name, m.Scorer, m.Approximation)
			}
		}
		for _, c := range r.Cases {
			if c.Status != Pass {
				msg := c.Error
				if msg == "" {
					var parts []string
					for _, m := range slices.Sorted(maps.Keys(c.Metrics)) {
						mr := c.Metrics[m]
						if mr.Status != Pass {
							parts = append(parts, fmt.Sprintf("%s=%s %s%s", m, fmtVal(mr.Score), mr.Reason, mr.Error))
						}
					}
					msg = strings.Join(parts, "; ")
				}
				fmt.Fprintf(tw, "  %s %s#%d: %s\n", c.Status, c.ID, c.Repeat, oneLine(msg, 160))
			}
		}
	}
	return tw.Flush()
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// WriteJSON prints runs as JSON.
func WriteJSON(w io.Writer, runs []*Run) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // ">=" and model text as written; this is not HTML
	return enc.Encode(struct {
		FormatVersion int    `json:"format_version"`
		Runs          []*Run `json:"runs"`
	}{1, runs})
}

// WriteJUnit prints runs as JUnit XML, one suite per run. What gates is the
// suite's metrics, so each metric is a testcase that fails when its bound
// fails; each dataset case is a testcase too, failing only when the suite
// failed (a case below its bound in a suite whose aggregate passed is said
// in system-out, not counted as a failure), and an ERROR case is an <error>.
func WriteJUnit(w io.Writer, runs []*Run) error {
	var out junit.Suites
	for _, r := range runs {
		s := junit.Suite{Name: r.Suite}
		for _, m := range r.Metrics {
			jc := junit.Case{Name: fmt.Sprintf("metric %s: %s %s %s %s", m.Name, m.Aggregate, m.Scorer, m.Op, formatFloat(m.Threshold)), Classname: "evals." + r.Suite + ".metrics"}
			got := "no case scored"
			if m.Value != nil {
				got = formatFloat(*m.Value)
			}
			if !m.Pass {
				jc.Failure = &junit.Problem{Message: fmt.Sprintf("%s = %s, needs %s %s", m.Name, got, m.Op, formatFloat(m.Threshold)), Type: "gate"}
			} else {
				jc.SystemOut = fmt.Sprintf("%s = %s over %d case(s)", m.Name, got, m.Cases)
			}
			s.Cases = append(s.Cases, jc)
		}
		for _, c := range r.Cases {
			jc := junit.Case{Name: fmt.Sprintf("%s#%d", c.ID, c.Repeat), Classname: "evals." + r.Suite}
			switch c.Status {
			case Fail:
				b, _ := json.Marshal(c.Metrics)
				if r.Passed {
					jc.SystemOut = "below its case bound; the suite passed on its aggregates: " + string(b)
				} else {
					jc.Failure = &junit.Problem{Message: "case failed", Text: string(b)}
				}
			case Error:
				jc.Error = &junit.Problem{Message: oneLine(c.Error, 200), Text: c.Error}
			}
			s.Cases = append(s.Cases, jc)
		}
		out.Suites = append(out.Suites, s)
	}
	return junit.Write(w, out)
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
