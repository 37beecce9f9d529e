package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/evals"
	"github.com/cairn-dev/cairn/evals/classic"
	"github.com/cairn-dev/cairn/internal/md"
	"github.com/cairn-dev/cairn/state"
)

// ModelCard is what a reviewer of a classic model reads before it serves:
// what it is for and who owns it, the versions at its aliases with their
// data and commit, and its evals computed from predictions — metrics with
// intervals, per slice, fairness per group, calibration — and the waivers
// that apply to it. Every figure is computed or read, never typed in.
type ModelCard struct {
	Generated   string        `json:"generated"`
	BundleHash  string        `json:"bundle_hash"`
	Model       string        `json:"model"`
	Description string        `json:"intended_use"`
	Owner       string        `json:"owner"`
	Domain      string        `json:"domain,omitempty"`
	Risk        string        `json:"risk"`
	Task        string        `json:"task,omitempty"`
	Framework   string        `json:"framework,omitempty"`
	Features    []string      `json:"features"`
	Training    string        `json:"training_data,omitempty"`
	Versions    []CardVersion `json:"versions"`
	Evals       []*evals.Run  `json:"evals"`
	Waivers     []WaiverInfo  `json:"waivers"`
}

// CardVersion is the version at one alias, as registered.
type CardVersion struct {
	Alias        string             `json:"alias"`
	Version      string             `json:"version"`
	Artifact     string             `json:"artifact,omitempty"`
	DataSnapshot string             `json:"data_snapshot,omitempty"`
	Commit       string             `json:"commit,omitempty"`
	Metrics      map[string]float64 `json:"registered_metrics,omitempty"`
	Registered   string             `json:"registered_at,omitempty"`
}

// BuildModelCard reads the model from the bundle, its aliases' versions
// from the state and computes its evals with predictions from their files.
func BuildModelCard(ctx context.Context, b *compiler.Bundle, st state.Ops, model string, now time.Time) (*ModelCard, error) {
	m := b.Models[model]
	if m == nil {
		return nil, fmt.Errorf("no model %q in the specs", model)
	}
	c := &ModelCard{Generated: now.UTC().Format(time.RFC3339), BundleHash: b.Hash(), Model: model, Description: m.Description, Owner: m.Owner,
		Domain: m.Domain, Risk: m.Risk, Task: m.Task, Framework: m.Framework, Features: m.Features, Versions: []CardVersion{}, Evals: []*evals.Run{}, Waivers: []WaiverInfo{}}
	if m.Training != nil {
		c.Training = m.Training.Data
	}
	for _, alias := range slices.Sorted(maps.Keys(m.Aliases)) {
		v, ok, err := st.GetPointer(ctx, "models/"+model, alias)
		if err != nil {
			return nil, err
		}
		cv := CardVersion{Alias: alias}
		if !ok {
			c.Versions = append(c.Versions, cv)
			continue
		}
		cv.Version = v
		if mv, err := st.GetModelVersion(ctx, model, v); err == nil {
			cv.Artifact, cv.DataSnapshot, cv.Commit, cv.Metrics = mv.ArtifactURI, mv.DataSnapshot, mv.Commit, mv.Metrics
			cv.Registered = mv.RegisteredAt.UTC().Format(time.RFC3339)
		}
		c.Versions = append(c.Versions, cv)
	}
	for _, name := range slices.Sorted(maps.Keys(b.Evals)) {
		e := b.Evals[name]
		if e.Target.Model != model || e.Predictions == nil {
			continue
		}
		// A file of several versions' predictions: each served version's
		// rows, or with nothing served yet the versions the spec names.
		versions := []string{""}
		if evals.PerVersion(e) {
			versions = nil
			for _, v := range c.Versions {
				if v.Version != "" && !slices.Contains(versions, v.Version) {
					versions = append(versions, v.Version)
				}
			}
			if len(versions) == 0 {
				versions = evals.SpecVersions(b, name)
			}
		}
		for _, v := range versions {
			run, err := evals.RunPredictions(ctx, b, name, v)
			if err != nil {
				return nil, err
			}
			c.Evals = append(c.Evals, run)
		}
	}
	for _, w := range b.Governance.Waivers {
		if w.Target == "models/"+model || strings.HasPrefix(w.Target, "evals/") && b.Evals[strings.TrimPrefix(w.Target, "evals/")] != nil &&
			b.Evals[strings.TrimPrefix(w.Target, "evals/")].Target.Model == model {
			c.Waivers = append(c.Waivers, waiverInfo(w, now))
		}
	}
	return c, nil
}

// WriteModelCard writes the card as markdown, json or html.
func WriteModelCard(w io.Writer, c *ModelCard, format string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(c)
	case "html":
		return cardHTML().Execute(w, cardView(c))
	case "markdown":
		return writeCardMarkdown(w, c)
	}
	return fmt.Errorf("unknown model card format %q (markdown, json, html)", format)
}

func num(v *float64) string {
	if v == nil {
		return "–"
	}
	return fmt.Sprintf("%.4g", *v)
}

func withCI(m evals.Aggregate) string {
	if m.Low == nil {
		return num(m.Value)
	}
	return fmt.Sprintf("%s [%s, %s]", num(m.Value), num(m.Low), num(m.High))
}

func writeCardMarkdown(w io.Writer, c *ModelCard) error {
	e := md.Cell
	var b strings.Builder
	fmt.Fprintf(&b, "# Model card: %s\n\n", e(c.Model))
	fmt.Fprintf(&b, "Generated %s from bundle `%s`. Every figure below is computed from the predictions files or read from the registry.\n\n", c.Generated, c.BundleHash)
	fmt.Fprintf(&b, "**Intended use.** %s\n\n", e(c.Description))
	fmt.Fprintf(&b, "| owner | domain | risk | task | framework | training data |\n|---|---|---|---|---|---|\n| %s | %s | %s | %s | %s | %s |\n\n",
		e(c.Owner), e(c.Domain), e(c.Risk), e(c.Task), e(c.Framework), e(c.Training))
	fmt.Fprintf(&b, "**Features:** %s\n\n## Versions\n\n| alias | version | artifact | data snapshot | commit | registered metrics |\n|---|---|---|---|---|---|\n", e(strings.Join(c.Features, ", ")))
	for _, v := range c.Versions {
		var ms []string
		for _, k := range slices.Sorted(maps.Keys(v.Metrics)) {
			ms = append(ms, fmt.Sprintf("%s %g", k, v.Metrics[k]))
		}
		ver := v.Version
		if ver == "" {
			ver = "(nothing has passed its gates)"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", e(v.Alias), e(ver), e(v.Artifact), e(v.DataSnapshot), e(v.Commit), e(strings.Join(ms, ", ")))
	}
	for _, r := range c.Evals {
		title := e(r.Suite)
		if r.Version != "" {
			title += " (version " + e(r.Version) + ")"
		}
		fmt.Fprintf(&b, "\n## Eval %s: %s\n\n%d prediction rows; intervals are bootstrap 95 %% (%d seeded resamples).\n\n| metric | computed | value [95 %% CI] | bound | result |\n|---|---|---|---|---|\n",
			title, r.Status, r.Classic.Rows, r.Classic.Resamples)
		for _, m := range r.Metrics {
			res := "pass"
			if !m.Pass {
				res = "**fail**"
				if m.Note != "" {
					res += ": " + e(m.Note)
				}
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s %g | %s |\n", e(m.Name), e(m.Scorer), withCI(m), m.Op, m.Threshold, res)
		}
		for _, m := range r.Classic.Metrics {
			if len(m.Groups) == 0 {
				continue
			}
			fmt.Fprintf(&b, "\n**%s by %s**\n\n| group | rows | selection rate | TPR | FPR |\n|---|---|---|---|---|\n", e(m.Name), e(m.By))
			for _, g := range m.Groups {
				small := ""
				if g.Small {
					small = " (under the minimum size)"
				}
				fmt.Fprintf(&b, "| %s%s | %d | %.4g | %.4g | %.4g |\n", e(g.Value), small, g.Count, g.SelectionRate, g.TPR, g.FPR)
			}
		}
		if len(r.Classic.Slices) > 0 {
			names := sliceMetricNames(r)
			fmt.Fprintf(&b, "\n**Per slice**\n\n| slice | rows | %s |\n|---|---|%s\n", strings.Join(names, " | "), strings.Repeat("---|", len(names)))
			for _, s := range r.Classic.Slices {
				vals := make([]string, len(names))
				for i, n := range names {
					vals[i] = num(s.Metrics[n])
				}
				small := ""
				if s.Small {
					small = " (small)"
				}
				fmt.Fprintf(&b, "| %s=%s%s | %d | %s |\n", e(s.Column), e(s.Value), small, s.Count, strings.Join(vals, " | "))
			}
		}
		if len(r.Classic.Calibration) > 0 {
			b.WriteString("\n**Calibration** (mean score → observed share of positives)\n\n| score bin | rows | mean score | observed |\n|---|---|---|---|\n")
			for _, cb := range r.Classic.Calibration {
				fmt.Fprintf(&b, "| [%.1f, %.1f) | %d | %.3f | %.3f |\n", cb.Low, cb.High, cb.Count, cb.MeanScore, cb.Observed)
			}
		}
	}
	b.WriteString("\n## Waivers\n\n")
	if len(c.Waivers) == 0 {
		b.WriteString("None apply to this model.\n")
	} else {
		b.WriteString("| policy | target | status | expires | approver | reason |\n|---|---|---|---|---|---|\n")
		for _, wv := range c.Waivers {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", e(wv.Policy), e(wv.Target), wv.Status, e(wv.Expires), e(wv.Approver), e(wv.Reason))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func sliceMetricNames(r *evals.Run) []string {
	var names []string
	for _, m := range r.Metrics {
		if !classic.IsFairness(m.Scorer) {
			names = append(names, m.Name)
		}
	}
	return names
}

// The HTML card: the same content, the calibration curve as inline SVG.
type cardPage struct {
	*ModelCard
	Evals []cardEval
}

type cardEval struct {
	Run     *evals.Run
	Metrics []cardMetric
	Names   []string
	Slices  []cardSlice
	Points  string // SVG polyline points of the reliability curve
	Dots    []cardDot
}

type cardMetric struct {
	evals.Aggregate
	Shown string
}

type cardSlice struct {
	classic.Slice
	Values []string
}

type cardDot struct {
	X, Y  float64
	Title string
}

func cardView(c *ModelCard) cardPage {
	p := cardPage{ModelCard: c}
	for _, r := range c.Evals {
		ce := cardEval{Run: r, Names: sliceMetricNames(r)}
		for _, m := range r.Metrics {
			ce.Metrics = append(ce.Metrics, cardMetric{Aggregate: m, Shown: withCI(m)})
		}
		for _, s := range r.Classic.Slices {
			cs := cardSlice{Slice: s}
			for _, n := range ce.Names {
				cs.Values = append(cs.Values, num(s.Metrics[n]))
			}
			ce.Slices = append(ce.Slices, cs)
		}
		var pts []string
		for _, cb := range r.Classic.Calibration {
			x, y := 20+cb.MeanScore*200, 220-cb.Observed*200
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
			ce.Dots = append(ce.Dots, cardDot{X: x, Y: y, Title: fmt.Sprintf("mean score %.3f, observed %.3f, %d rows", cb.MeanScore, cb.Observed, cb.Count)})
		}
		ce.Points = strings.Join(pts, " ")
		p.Evals = append(p.Evals, ce)
	}
	return p
}

var cardHTML = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("card").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Model card: {{.Model}}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:.5em 0 1.2em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}th{background:#f4f4f4}.fail{color:#b00020}.pass{color:#176b2c}svg text{font-size:10px}</style>
</head><body>
<h1>Model card: {{.Model}}</h1>
<p>Generated {{.Generated}} from bundle <code>{{.BundleHash}}</code>. Every figure is computed from the predictions files or read from the registry.</p>
<p><strong>Intended use.</strong> {{.Description}}</p>
<table><tr><th>owner</th><th>domain</th><th>risk</th><th>task</th><th>framework</th><th>training data</th></tr>
<tr><td>{{.Owner}}</td><td>{{.Domain}}</td><td>{{.Risk}}</td><td>{{.Task}}</td><td>{{.Framework}}</td><td>{{.Training}}</td></tr></table>
<p><strong>Features:</strong> {{range $i, $f := .Features}}{{if $i}}, {{end}}{{$f}}{{end}}</p>
<h2>Versions</h2>
<table><tr><th>alias</th><th>version</th><th>artifact</th><th>data snapshot</th><th>commit</th><th>registered metrics</th></tr>
{{range .Versions}}<tr><td>{{.Alias}}</td><td>{{or .Version "(nothing has passed its gates)"}}</td><td>{{.Artifact}}</td><td>{{.DataSnapshot}}</td><td>{{.Commit}}</td><td>{{range $k, $v := .Metrics}}{{$k}} {{$v}} {{end}}</td></tr>
{{end}}</table>
{{range .Evals}}<h2>Eval {{.Run.Suite}}{{with .Run.Version}} (version {{.}}){{end}}: <span class="{{if .Run.Passed}}pass{{else}}fail{{end}}">{{.Run.Status}}</span></h2>
<p>{{.Run.Classic.Rows}} prediction rows; intervals are bootstrap 95 % ({{.Run.Classic.Resamples}} seeded resamples).</p>
<table><tr><th>metric</th><th>computed</th><th>value [95 % CI]</th><th>bound</th><th>result</th></tr>
{{range .Metrics}}<tr><td>{{.Name}}</td><td>{{.Scorer}}</td><td>{{.Shown}}</td><td>{{.Op}} {{.Threshold}}</td><td class="{{if .Pass}}pass{{else}}fail{{end}}">{{if .Pass}}pass{{else}}fail{{if .Note}}: {{.Note}}{{end}}{{end}}</td></tr>
{{end}}</table>
{{range .Run.Classic.Metrics}}{{if .Groups}}<h3>{{.Name}} by {{.By}}</h3>
<table><tr><th>group</th><th>rows</th><th>selection rate</th><th>TPR</th><th>FPR</th></tr>
{{range .Groups}}<tr><td>{{.Value}}{{if .Small}} (under the minimum size){{end}}</td><td>{{.Count}}</td><td>{{printf "%.4g" .SelectionRate}}</td><td>{{printf "%.4g" .TPR}}</td><td>{{printf "%.4g" .FPR}}</td></tr>
{{end}}</table>{{end}}{{end}}
{{if .Slices}}<h3>Per slice</h3>
<table><tr><th>slice</th><th>rows</th>{{range .Names}}<th>{{.}}</th>{{end}}</tr>
{{range .Slices}}<tr><td>{{.Column}}={{.Value}}{{if .Small}} (small){{end}}</td><td>{{.Count}}</td>{{range .Values}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>{{end}}
{{if .Points}}<h3>Calibration</h3>
<svg role="img" aria-label="calibration curve" width="240" height="240" viewBox="0 0 240 240">
<rect x="20" y="20" width="200" height="200" fill="none" stroke="#ccc"/>
<line x1="20" y1="220" x2="220" y2="20" stroke="#bbb" stroke-dasharray="4 3"/>
<polyline points="{{.Points}}" fill="none" stroke="#d9822b" stroke-width="2"/>
{{range .Dots}}<circle cx="{{.X}}" cy="{{.Y}}" r="3" fill="#d9822b"><title>{{.Title}}</title></circle>{{end}}
<text x="120" y="236" text-anchor="middle">mean score</text><text x="6" y="120" transform="rotate(-90 6 120)" text-anchor="middle">observed</text>
</svg>{{end}}
{{end}}<h2>Waivers</h2>
{{if .Waivers}}<table><tr><th>policy</th><th>target</th><th>status</th><th>expires</th><th>approver</th><th>reason</th></tr>
{{range .Waivers}}<tr><td>{{.Policy}}</td><td>{{.Target}}</td><td>{{.Status}}</td><td>{{.Expires}}</td><td>{{.Approver}}</td><td>{{.Reason}}</td></tr>
{{end}}</table>{{else}}<p>None apply to this model.</p>{{end}}
</body></html>
`))
})
