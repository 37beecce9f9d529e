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

	"github.com/cairn-dev/cairn/evals/classic"
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
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s %g\t%d\t%d\t%s\n", m.Name, m.Scorer, m.Aggregate, valueWithInterval(m), m.Op, m.Threshold, m.Cases, m.Errors, res)
		}
		for _, m := range r.Metrics {
			if m.Approximation != "" {
				fmt.Fprintf(tw, "  note: %s (%s): %s\n", m.Name, m.Scorer, m.Approximation)
			}
			if m.Note != "" {
				fmt.Fprintf(tw, "  note: %s: %s\n", m.Name, m.Note)
			}
		}
		if c := r.Classic; c != nil {
			writeClassic(tw, r, c)
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

// valueWithInterval shows a metric's value and, when it was computed from
// predictions, its bootstrap 95 % interval.
func valueWithInterval(m Aggregate) string {
	if m.Value == nil || m.Low == nil || m.High == nil {
		return fmtVal(m.Value)
	}
	return fmt.Sprintf("%s [%s, %s]", fmtVal(m.Value), fmtVal(m.Low), fmtVal(m.High))
}

// writeClassic prints what an eval computed from predictions adds: the
// fairness groups of each fairness metric and every metric per slice.
func writeClassic(w io.Writer, r *Run, c *classic.Result) {
	fmt.Fprintf(w, "  %d prediction rows; intervals: bootstrap 95 %%, %d seeded resamples; slices under %d rows are marked small\n", c.Rows, c.Resamples, c.MinSlice)
	if c.Confusion != nil {
		fmt.Fprintf(w, "  confusion matrix [[tn fp] [fn tp]]: [[%g %g] [%g %g]]\n", c.Confusion[0][0], c.Confusion[0][1], c.Confusion[1][0], c.Confusion[1][1])
	}
	if len(c.ConfusionK) > 0 {
		fmt.Fprintf(w, "  confusion matrix (row: true class, column: predicted) over %s:\n", strings.Join(c.Classes, ", "))
		for i, row := range c.ConfusionK {
			cells := make([]string, len(row))
			for j, v := range row {
				cells[j] = strconv.FormatFloat(v, 'g', -1, 64)
			}
			fmt.Fprintf(w, "    %-12s %s\n", c.Classes[i], strings.Join(cells, " "))
		}
	}
	if c.Queries > 0 {
		fmt.Fprintf(w, "  %d queries; ranking intervals resample whole queries\n", c.Queries)
	}
	for _, m := range c.Metrics {
		if len(m.Groups) == 0 {
			continue
		}
		fmt.Fprintf(w, "  %s by %s:\tGROUP\tROWS\tSELECTION RATE\tTPR\tFPR\n", m.Name, m.By)
		for _, g := range m.Groups {
			small := ""
			if g.Small {
				small = " (small)"
			}
			fmt.Fprintf(w, "\t%s%s\t%d\t%.4g\t%.4g\t%.4g\n", g.Value, small, g.Count, g.SelectionRate, g.TPR, g.FPR)
		}
	}
	if len(c.Slices) > 0 {
		names := make([]string, 0, len(r.Metrics))
		for _, m := range r.Metrics {
			if !classic.IsFairness(m.Scorer) {
				names = append(names, m.Name)
			}
		}
		fmt.Fprintf(w, "  SLICE\tROWS\t%s\n", strings.Join(names, "\t"))
		for _, s := range c.Slices {
			small := ""
			if s.Small {
				small = " (small)"
			}
			vals := make([]string, len(names))
			for i, n := range names {
				vals[i] = fmtVal(s.Metrics[n])
			}
			fmt.Fprintf(w, "  %s=%s%s\t%d\t%s\n", s.Column, s.Value, small, s.Count, strings.Join(vals, "\t"))
		}
	}
}
