package compliance

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strings"
	"sync"
	ttemplate "text/template"

	"github.com/cairn-dev/cairn/internal/md"
)

// Write writes the report as md, json or html (self-contained: no script,
// no network, every value escaped).
func Write(w io.Writer, r *Report, format string) error {
	switch format {
	case "json":
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	case "md", "markdown", "":
		return mdTmpl().Execute(w, r)
	case "html":
		return htmlTmpl().Execute(w, r)
	}
	return fmt.Errorf("unknown report format %q (md, json, html)", format)
}

// Worst returns how many rows of all systems have the status, or worse
// (missing counts for partial too): what --fail-on compares.
func (r *Report) Worst(status string) int {
	n := 0
	for _, s := range r.Systems {
		n += s.Counts[Missing]
		if status == Partial {
			n += s.Counts[Partial]
		}
	}
	return n
}

func counts(c map[string]int) string {
	var parts []string
	for _, s := range []string{Evidenced, Partial, Missing, Manual, NotApplicable} {
		parts = append(parts, fmt.Sprintf("%d %s", c[s], strings.ReplaceAll(s, "_", " ")))
	}
	return strings.Join(parts, ", ")
}

func fwTitle(r *Report, id string) string {
	for _, f := range r.Frameworks {
		if f.ID == id {
			return f.Title
		}
	}
	return id
}

var funcs = map[string]any{"md": md.Cell, "join": strings.Join, "counts": counts, "fw": fwTitle,
	"mark": func(s string) string {
		return map[string]string{Evidenced: "✓", Partial: "◐", Missing: "✗", Manual: "✎", NotApplicable: "–"}[s]
	},
	"status": func(s string) string { return strings.ReplaceAll(s, "_", " ") }}

var mdTmpl = sync.OnceValue(func() *ttemplate.Template {
	return ttemplate.Must(ttemplate.New("md").Funcs(funcs).Parse(`# Compliance report: {{md .Project}}

> {{.Disclaimer}}

Generated {{.Now}} for bundle ` + "`{{.BundleHash}}`" + `, with crosswalk {{.CrosswalkVersion}} (report schema {{.SchemaVersion}}).
Frameworks: {{range $i, $f := .Frameworks}}{{if $i}}; {{end}}{{$f.Title}} ({{$f.Version}}){{end}}.
AI Act dates: {{.Dates.Set}}, {{.Dates.Title}}: high-risk obligations from {{.Dates.HighRiskFrom}}, Art 50 from {{.Dates.TransparencyFrom}}.
{{if .Signer}}Signed by {{md .Signer}} (key {{md .SignerKey}}); the signature is the file beside this one (` + "`.sig`" + `).{{else}}Not signed.{{end}}

## cairn's audit log

{{.Log.Entries}} entries, head ` + "`{{.Log.Head}}`" + `, chain verified {{.Log.VerifiedFrom}}.{{if .AuditHead}} <!-- cairn-audit-head: {{.AuditHead}} -->{{end}}
Retention: {{.Log.RetainedDays}} days since {{.Log.First}} (six months is {{/* */}}184 days). Heartbeats: {{.Log.Heartbeats}}; {{if .Log.Continuous}}no gap over {{.Log.MaxGap}} (longest {{.Log.LongestGap}}){{else}}{{md .Log.GapFinding}}{{end}}.
{{range .Systems}}
## System {{md .Name}}

{{md .Scope}}. Declared at {{md .Pos}}; role {{.Role}}, Annex III {{.AnnexIII}}.

### Served now

{{if .Served}}| deployment | object | alias | version | digest | lineage |
|---|---|---|---|---|---|
{{range .Served}}| {{md .Deployment}} | {{md .Object}} | {{md .Alias}} | {{md .Version}} | {{md .Digest}} | {{md .Lineage}} |
{{end}}{{else}}Nothing.
{{end}}
### Declared documents

| document | path | status | detail |
|---|---|---|---|
{{range .Files}}| {{.Field}} | {{md .Path}} | {{.Status}} | {{md .Detail}} |
{{end}}
### Thresholds: prior-defined (Art 9(8))

{{if .Bounds}}| object | metric | bound | version | status | detail |
|---|---|---|---|---|---|
{{range .Bounds}}| {{md .Object}} | {{md .Metric}} | {{md .Bound}} | {{md .Version}} | {{status .Status}} | {{md .Detail}} |
{{end}}{{else}}No threshold gates what the system serves.
{{end}}{{$r := $}}{{range .Frameworks}}
### {{fw $r .Framework}}

| item | title | status | evidence | findings → fix | maps to |
|---|---|---|---|---|---|
{{range .Rows}}| {{md .Ref}} | {{md .Title}} | {{mark .Status}} {{status .Status}}{{if .Reason}}: {{md .Reason}}{{end}} | {{range .Evidence}}{{md .}}<br>{{end}} | {{range .Findings}}{{md .What}} → {{md .Fix}}<br>{{end}} | {{md (join .Maps ", ")}} |
{{end}}{{end}}
Rows: {{counts .Counts}}.
{{end}}
## Crosswalk {{.CrosswalkVersion}}

The rows and the evidence that decides them (a row is evidenced when every kind it lists holds, partial when the partial kinds hold). NIST AI RMF and ISO/IEC 42001 identifiers with our own short titles.

| row | title | evidenced by | partial with | NIST AI RMF | ISO/IEC 42001 |
|---|---|---|---|---|---|
{{range .Crosswalk.Rows}}| {{.Ref}} | {{.Title}} | {{if .File}}file {{.File}}; {{end}}{{if .Manual}}manual{{end}}{{join .Evidenced ", "}} | {{join .Partial ", "}} | {{join .NIST ", "}} | {{join .ISO ", "}} |
{{end}}`))
})

var htmlTmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.Must(template.New("body").Funcs(funcs).Parse(`<h1>Compliance report: {{.Project}}</h1>
<p class="note">{{.Disclaimer}}</p>
<p>Generated {{.Now}} for bundle <code>{{.BundleHash}}</code>, with crosswalk {{.CrosswalkVersion}} (report schema {{.SchemaVersion}}).
Frameworks: {{range $i, $f := .Frameworks}}{{if $i}}; {{end}}{{$f.Title}} ({{$f.Version}}){{end}}.
AI Act dates: {{.Dates.Set}}, {{.Dates.Title}}: high-risk obligations from {{.Dates.HighRiskFrom}}, Art 50 from {{.Dates.TransparencyFrom}}.
{{if .Signer}}Signed by {{.Signer}} (key {{.SignerKey}}).{{else}}Not signed.{{end}}</p>
<h2>cairn's audit log</h2>
<p{{if .AuditHead}} data-cairn-audit-head="cairn-audit-head: {{.AuditHead}}"{{end}}>{{.Log.Entries}} entries, head <code>{{.Log.Head}}</code>, chain verified {{.Log.VerifiedFrom}}.
Retention: {{.Log.RetainedDays}} days since {{.Log.First}} (six months is 184 days). Heartbeats: {{.Log.Heartbeats}}; {{if .Log.Continuous}}no gap over {{.Log.MaxGap}} (longest {{.Log.LongestGap}}){{else}}{{.Log.GapFinding}}{{end}}.</p>
{{range .Systems}}<h2>System {{.Name}}</h2>
<p>{{.Scope}}. Declared at {{.Pos}}; role {{.Role}}, Annex III {{.AnnexIII}}.</p>
<h3>Served now</h3>
<table><tr><th>deployment</th><th>object</th><th>alias</th><th>version</th><th>digest</th><th>lineage</th></tr>
{{range .Served}}<tr><td>{{.Deployment}}</td><td>{{.Object}}</td><td>{{.Alias}}</td><td>{{.Version}}</td><td>{{.Digest}}</td><td>{{.Lineage}}</td></tr>
{{end}}</table>
<h3>Declared documents</h3>
<table><tr><th>document</th><th>path</th><th>status</th><th>detail</th></tr>
{{range .Files}}<tr><td>{{.Field}}</td><td>{{.Path}}</td><td>{{.Status}}</td><td>{{.Detail}}</td></tr>
{{end}}</table>
<h3>Thresholds: prior-defined (Art 9(8))</h3>
<table><tr><th>object</th><th>metric</th><th>bound</th><th>version</th><th>status</th><th>detail</th></tr>
{{range .Bounds}}<tr><td>{{.Object}}</td><td>{{.Metric}}</td><td>{{.Bound}}</td><td>{{.Version}}</td><td>{{status .Status}}</td><td>{{.Detail}}</td></tr>
{{end}}</table>
{{$r := $}}{{range .Frameworks}}<h3>{{fw $r .Framework}}</h3>
<table><tr><th>item</th><th>title</th><th>status</th><th>evidence</th><th>findings → fix</th><th>maps to</th></tr>
{{range .Rows}}<tr><td>{{.Ref}}</td><td>{{.Title}}</td><td class="{{.Status}}">{{mark .Status}} {{status .Status}}{{if .Reason}}: {{.Reason}}{{end}}</td><td>{{range .Evidence}}<div>{{.}}</div>{{end}}</td><td>{{range .Findings}}<div>{{.What}} → {{.Fix}}</div>{{end}}</td><td>{{join .Maps ", "}}</td></tr>
{{end}}</table>
{{end}}<p>Rows: {{counts .Counts}}.</p>
{{end}}<h2>Crosswalk {{.CrosswalkVersion}}</h2>
<table><tr><th>row</th><th>title</th><th>evidenced by</th><th>partial with</th><th>NIST AI RMF</th><th>ISO/IEC 42001</th></tr>
{{range .Crosswalk.Rows}}<tr><td>{{.Ref}}</td><td>{{.Title}}</td><td>{{if .File}}file {{.File}}; {{end}}{{if .Manual}}manual{{end}}{{join .Evidenced ", "}}</td><td>{{join .Partial ", "}}</td><td>{{join .NIST ", "}}</td><td>{{join .ISO ", "}}</td></tr>
{{end}}</table>
`)).New("html").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Compliance report: {{.Project}}</title>
<style>` + Style + `</style>
</head><body>
{{template "body" .}}
</body></html>
`))
})

// Style is the report's stylesheet, for documents that embed HTMLBody.
const Style = "body{font-family:sans-serif;margin:2em;max-width:90em}table{border-collapse:collapse;margin-bottom:1em}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}.evidenced{color:#060}.partial{color:#a60}.missing{color:#b00}.note{background:#f4f4f4;padding:.5em 1em}"

// HTMLBody renders the report's sections for embedding in another
// document (the audit report), escaped like the whole document.
func HTMLBody(r *Report) (template.HTML, error) {
	var b strings.Builder
	if err := htmlTmpl().ExecuteTemplate(&b, "body", r); err != nil {
		return "", err
	}
	return template.HTML(b.String()), nil //nolint:gosec // html/template output, escaped
}
