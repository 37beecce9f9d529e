package evals

import (
	"fmt"
	"html/template"
	"io"
	"sort"
)

// Pair is one suite's runs on the base and the head of a change; either
// may be nil (a suite added or removed, or a report of the head alone).
type Pair struct{ Base, Head *Run }

// WriteHTML prints runs as a self-contained HTML page (the head alone).
func WriteHTML(w io.Writer, runs []*Run) error {
	pairs := make([]Pair, len(runs))
	for i, r := range runs {
		pairs[i] = Pair{Head: r}
	}
	return WriteHTMLCompare(w, pairs)
}

// WriteHTMLCompare prints one self-contained page comparing base and head
// per suite: metric values side by side with their deltas and bounds,
// tokens and cost, and each case's status and output on both sides, with
// filters for failing and changed cases. Nothing is loaded from the network
// (the Content-Security-Policy forbids it) and html/template escapes every
// value: outputs are model text and may hold markup.
func WriteHTMLCompare(w io.Writer, pairs []Pair) error {
	page := htmlPage{}
	for _, p := range pairs {
		page.Suites = append(page.Suites, suiteView(p))
		page.Compare = page.Compare || p.Base != nil
	}
	return compareTmpl.Execute(w, page)
}

type htmlPage struct {
	Compare bool
	Suites  []htmlSuite
}

type htmlSuite struct {
	Name, Target           string
	BaseStatus, HeadStatus Status
	Metrics                []htmlMetric
	Base, Head             *htmlTotals
	CostDelta              string
	Cases                  []htmlCase
	Approximations         []string
}

type htmlTotals struct {
	Cases, Errors, InputTokens, OutputTokens, CacheHits int
	Cost                                                string
}

type htmlMetric struct {
	Name, Scorer, Aggregate, Base, Head, Delta, Bound string
	Pass, Regressed                                   bool
}

type htmlCase struct {
	ID                     string
	BaseStatus, HeadStatus Status
	BaseOutput, HeadOutput string
	Error                  string
	Failing, Changed       bool
}

func totals(r *Run) *htmlTotals {
	if r == nil {
		return nil
	}
	return &htmlTotals{Cases: len(r.Cases), Errors: r.Errors, InputTokens: r.InputTokens, OutputTokens: r.OutTokens, CacheHits: r.CacheHits,
		Cost: fmt.Sprintf("$%.6f", r.CostUSD)}
}

func suiteView(p Pair) htmlSuite {
	d := Compare(p.Base, p.Head)
	s := htmlSuite{Name: d.Suite, BaseStatus: d.BaseStatus, HeadStatus: d.HeadStatus, Base: totals(p.Base), Head: totals(p.Head),
		CostDelta: fmt.Sprintf("%+.6f", d.CostDelta)}
	if p.Head != nil {
		s.Target = p.Head.Target
	} else if p.Base != nil {
		s.Target = p.Base.Target
	}
	// Each metric as the head states it (the base's when the head lacks it).
	latest := map[string]Aggregate{}
	for _, r := range []*Run{p.Base, p.Head} {
		if r == nil {
			continue
		}
		for _, m := range r.Metrics {
			latest[m.Name] = m
			if m.Approximation != "" && r == p.Head {
				s.Approximations = append(s.Approximations, m.Name+" ("+m.Scorer+"): "+m.Approximation)
			}
		}
	}
	for _, md := range d.Metrics {
		m := latest[md.Name]
		head := fmtVal(md.Head)
		if p.Head != nil && md.Head != nil {
			head = valueWithInterval(m)
		}
		s.Metrics = append(s.Metrics, htmlMetric{Name: md.Name, Scorer: m.Scorer, Aggregate: m.Aggregate, Base: fmtVal(md.Base), Head: head,
			Delta: signed(md.Delta), Bound: m.Op + " " + formatFloat(m.Threshold), Pass: m.Pass, Regressed: md.Regressed})
	}
	type key struct {
		id  string
		rep int
	}
	rows := map[key]*htmlCase{}
	var keys []key
	add := func(r *Run, head bool) {
		if r == nil {
			return
		}
		for _, c := range r.Cases {
			k := key{c.ID, c.Repeat}
			hc := rows[k]
			if hc == nil {
				hc = &htmlCase{ID: fmt.Sprintf("%s#%d", c.ID, c.Repeat)}
				rows[k] = hc
				keys = append(keys, k)
			}
			if head {
				hc.HeadStatus, hc.HeadOutput, hc.Error = c.Status, c.Output, c.Error
			} else {
				hc.BaseStatus, hc.BaseOutput = c.Status, c.Output
			}
		}
	}
	add(p.Base, false)
	add(p.Head, true)
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].id != keys[j].id {
			return keys[i].id < keys[j].id
		}
		return keys[i].rep < keys[j].rep
	})
	for _, k := range keys {
		c := rows[k]
		c.Failing = c.HeadStatus != Pass
		c.Changed = p.Base != nil && (c.BaseStatus != c.HeadStatus || c.BaseOutput != c.HeadOutput)
		s.Cases = append(s.Cases, *c)
	}
	return s
}

func signed(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%+.4g", *v)
}

var compareTmpl = template.Must(template.New("eval").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>cairn eval{{if .Compare}}: base and head{{end}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;vertical-align:top;text-align:left}
th{background:#f4f4f4}.PASS{color:#176b2c}.FAIL{color:#b00020}.ERROR{color:#a65c00}
.out{white-space:pre-wrap;max-width:40em;font-family:ui-monospace,monospace;font-size:90%}
.regressed{background:#fde8e8}.changed td:first-child{border-left:4px solid #c77700}
.hidden{display:none}.controls{position:sticky;top:0;background:#fff;padding:.4em 0;border-bottom:1px solid #ddd}
</style></head><body>
<h1>cairn eval{{if .Compare}}: base and head{{end}}</h1>
<div class="controls">
<label><input type="checkbox" id="only-failing"> only failing cases</label>
{{if .Compare}}<label><input type="checkbox" id="only-changed"> only changed cases</label>{{end}}
<span id="shown"></span>
</div>
{{range .Suites}}<section class="suite">
<h2>{{.Name}}{{if .Target}} → <code>{{.Target}}</code>{{end}}:
{{if $.Compare}}<span class="{{.BaseStatus}}">{{or .BaseStatus "none"}}</span> → {{end}}<span class="{{.HeadStatus}}">{{or .HeadStatus "none"}}</span></h2>
<table class="metrics"><tr><th>metric</th><th>scorer</th><th>aggregate</th>{{if $.Compare}}<th>base</th>{{end}}<th>head</th>{{if $.Compare}}<th>delta</th>{{end}}<th>bound</th><th>head passes</th></tr>
{{range .Metrics}}<tr{{if .Regressed}} class="regressed"{{end}}><td>{{.Name}}</td><td>{{.Scorer}}</td><td>{{.Aggregate}}</td>{{if $.Compare}}<td>{{.Base}}</td>{{end}}<td>{{.Head}}</td>{{if $.Compare}}<td>{{.Delta}}</td>{{end}}<td>{{.Bound}}</td><td class="{{if .Pass}}PASS{{else}}FAIL{{end}}">{{if .Pass}}yes{{else}}no{{end}}{{if .Regressed}} (regressed){{end}}</td></tr>
{{end}}</table>
{{range .Approximations}}<p class="note">{{.}}</p>{{end}}
<table class="totals"><tr><th></th><th>cases</th><th>errors</th><th>input tokens</th><th>output tokens</th><th>cache hits</th><th>cost</th></tr>
{{with .Base}}<tr><th>base</th><td>{{.Cases}}</td><td>{{.Errors}}</td><td>{{.InputTokens}}</td><td>{{.OutputTokens}}</td><td>{{.CacheHits}}</td><td>{{.Cost}}</td></tr>{{end}}
{{with .Head}}<tr><th>head</th><td>{{.Cases}}</td><td>{{.Errors}}</td><td>{{.InputTokens}}</td><td>{{.OutputTokens}}</td><td>{{.CacheHits}}</td><td>{{.Cost}}</td></tr>{{end}}
{{if $.Compare}}<tr><th>cost delta</th><td colspan="6">{{.CostDelta}} USD</td></tr>{{end}}
</table>
<table class="cases"><tr><th>case</th>{{if $.Compare}}<th>base</th><th>base output</th>{{end}}<th>head</th><th>head output</th></tr>
{{range .Cases}}<tr class="case{{if .Changed}} changed{{end}}" data-failing="{{.Failing}}" data-changed="{{.Changed}}"><td>{{.ID}}</td>{{if $.Compare}}<td class="{{.BaseStatus}}">{{or .BaseStatus "-"}}</td><td class="out">{{.BaseOutput}}</td>{{end}}<td class="{{.HeadStatus}}">{{or .HeadStatus "-"}}</td><td class="out">{{.HeadOutput}}{{if .Error}}
{{.Error}}{{end}}</td></tr>
{{end}}</table>
</section>
{{end}}<script>
(function () {
  var failing = document.getElementById("only-failing"), changed = document.getElementById("only-changed");
  function apply() {
    var rows = document.querySelectorAll("tr.case"), shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i];
      var hide = (failing.checked && r.dataset.failing !== "true") || (changed && changed.checked && r.dataset.changed !== "true");
      r.classList.toggle("hidden", hide);
      if (!hide) shown++;
    }
    document.getElementById("shown").textContent = shown + " of " + rows.length + " cases shown";
  }
  failing.addEventListener("change", apply);
  if (changed) changed.addEventListener("change", apply);
  apply();
})();
</script>
</body></html>
`))
