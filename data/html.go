package data

import (
	"fmt"
	"html/template"
	"io"
	"strconv"
)

// WriteHTML prints the drift result as one self-contained page: per feature,
// a histogram of the reference and current proportions over the PSI bins (an
// inline SVG), with PSI, KS (numeric) or the total variation distance
// (categorical), the threshold and the verdict. Nothing is loaded from the
// network (the Content-Security-Policy forbids it, and the page has no
// script) and html/template escapes every value.
func (r *DriftResult) WriteHTML(w io.Writer) error {
	page := driftPage{R: r}
	for _, f := range r.Features {
		page.Features = append(page.Features, driftChart(f))
	}
	return driftTmpl.Execute(w, page)
}

type driftPage struct {
	R        *DriftResult
	Features []driftFeature
}

type driftFeature struct {
	F             *FeatureDrift
	Width, Height int
	Bars          []driftBar
	Labels        []driftLabel
	Stats         []string
}

type driftBar struct {
	X, Y, W, H float64
	Class      string
	Title      string
}

type driftLabel struct {
	X, Y float64
	Text string
}

func pct(f float64) string { return strconv.FormatFloat(100*f, 'f', 1, 64) + "%" }

// driftChart lays out paired bars, reference then current, per bin.
func driftChart(f *FeatureDrift) driftFeature {
	const plotH, top, group, gap = 160.0, 10.0, 44.0, 10.0
	df := driftFeature{F: f, Height: int(plotH + top + 40)}
	max := 0.0
	for _, b := range f.Bins {
		max = maxf(max, maxf(b.Reference, b.Current))
	}
	if max == 0 {
		max = 1
	}
	prev := "−∞"
	for i, b := range f.Bins {
		label := ""
		switch {
		case b.Category != nil:
			label = *b.Category
		case b.Upper != nil:
			up := strconv.FormatFloat(*b.Upper, 'g', 4, 64)
			label, prev = "("+prev+", "+up+"]", up
		default:
			label = "(" + prev + ", +∞)"
		}
		x := gap + float64(i)*(group+gap)
		for j, v := range []float64{b.Reference, b.Current} {
			h := plotH * v / max
			cls, who := "ref", "reference"
			if j == 1 {
				cls, who = "cur", "current"
			}
			df.Bars = append(df.Bars, driftBar{X: x + float64(j)*group/2, Y: top + plotH - h, W: group/2 - 2, H: h, Class: cls,
				Title: fmt.Sprintf("%s %s: %s", label, who, pct(v))})
		}
		df.Labels = append(df.Labels, driftLabel{X: x + group/2, Y: top + plotH + 16, Text: label})
	}
	df.Width = int(gap + float64(len(f.Bins))*(group+gap))
	df.Stats = append(df.Stats, fmt.Sprintf("PSI %.4f", f.PSI))
	if f.KS != nil {
		df.Stats = append(df.Stats, fmt.Sprintf("KS D %.4f (p %.3g)", f.KS.Statistic, f.KS.PValue))
	}
	if f.TVD != nil {
		df.Stats = append(df.Stats, fmt.Sprintf("total variation %.4f", *f.TVD))
	}
	df.Stats = append(df.Stats, fmt.Sprintf("threshold %g on %.4f", f.Threshold, f.Statistic),
		fmt.Sprintf("rows %d → %d, nulls %d → %d", f.Reference.Rows, f.Current.Rows, f.Reference.Nulls, f.Current.Nulls))
	return df
}

func maxf(a, b float64) float64 {
	if a > b {
		return a
	}
	return b
}

var driftTmpl = template.Must(template.New("drift").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>cairn drift: {{.R.Model}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
.ref{fill:#7a8da8}.cur{fill:#d9822b}svg text{font-size:10px;fill:#333}
.drifted{color:#b00020}.ok{color:#176b2c}.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px}
section{margin-bottom:2em}
</style></head><body>
<h1>cairn drift: {{.R.Model}} <span class="{{if .R.Drifted}}drifted{{else}}ok{{end}}">{{if .R.Drifted}}drifted{{else}}no drift{{end}}</span></h1>
<p>method {{.R.Method}}, threshold {{.R.Threshold}}; reference {{.R.Reference.Path}} ({{.R.Reference.SHA256}}), current {{.R.Current.Path}} ({{.R.Current.SHA256}}){{if .R.EvidenceID}}; evidence {{.R.EvidenceID}}{{end}}</p>
<p class="legend"><span style="background:#7a8da8"></span>reference <span style="background:#d9822b"></span>current</p>
{{range .Features}}<section>
<h2>{{.F.Feature}} <small>({{.F.Type}}, {{.F.DType}})</small>: <span class="{{if .F.Drifted}}drifted{{else}}ok{{end}}">{{if .F.Drifted}}drifted{{else}}ok{{end}}</span></h2>
<p>{{range $i, $s := .Stats}}{{if $i}} · {{end}}{{$s}}{{end}}</p>
<svg role="img" aria-label="histogram of {{.F.Feature}}" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}">
{{range .Bars}}<rect class="{{.Class}}" x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}"><title>{{.Title}}</title></rect>
{{end}}{{range .Labels}}<text x="{{.X}}" y="{{.Y}}" text-anchor="middle">{{.Text}}</text>
{{end}}</svg>
</section>
{{end}}<p>{{.R.Binning}}</p>
</body></html>
`))
