package gitops

import (
	htemplate "html/template"
	"sync"
	"text/template"

	"github.com/cairn-dev/cairn/internal/md"
)

// mdAudit follows audit.WriteReport's Markdown with the reconcile
// sections; every repository value goes through md.
var mdAudit = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("md").Funcs(template.FuncMap{"md": md.Cell}).Parse(`{{if .Result}}
## Reconciled commit

Repository {{md .Source}}{{if .Ref}} at {{md .Ref}}{{end}}: commit ` + "`{{.Commit.SHA}}`" + ` by {{md .Commit.Author}} ({{md .Commit.Message}}).
Result: **{{.Result}}**. Approvals: {{.Approvals.Count}} ({{md .Approvals.Source}}).
{{end}}
## Drift
{{if not .Result}}
Found locally in {{md .Source}}{{if .Commit.SHA}} at commit ` + "`{{.Commit.SHA}}`" + `{{end}}, without fetching or applying: rendered files, aliases and labels moved since the last reconcile, eval evidence, waivers, deprecation dates.
{{end}}
{{if .Drift}}| kind | object | detail | where |
|---|---|---|---|
{{range .Drift}}| {{.Kind}} | {{md .Object}} | {{md .Detail}} | {{if .Pos.IsValid}}{{md .Pos.String}}{{end}} |
{{end}}{{else}}No drift.
{{end}}{{with .Operating}}
## Operating metrics

From {{.From}} to {{.To}} (excluded){{if .Object}}, {{md .Object}}{{end}}.

| metric | value | n | left out | definition |
|---|---|---|---|---|
{{range .Figures}}| {{.Name}} | {{md .Formatted}} | {{.N}} | {{.LeftOut}} | {{md .Definition}} |
{{end}}{{end}}`))
})

// html/template escapes every value.
var htmlAudit = sync.OnceValue(func() *htemplate.Template {
	return htemplate.Must(htemplate.New("html").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>cairn audit report: {{.Project}}</title><style>{{.Style}}</style></head><body>
<h1>cairn audit report: {{.Project}}</h1>
<p>Generated {{.Now}} for bundle <code>{{.BundleHash}}</code>; {{if .Result}}repository {{.Source}}{{if .Ref}} at {{.Ref}}{{end}}, commit <code>{{.Commit.SHA}}</code> by {{.Commit.Author}}. Result: <strong>{{.Result}}</strong>. Approvals: {{.Approvals.Count}} ({{.Approvals.Source}}).{{else}}spec directory {{.Source}}{{if .Commit.SHA}} at commit <code>{{.Commit.SHA}}</code>{{end}}.{{end}}
Audit log: {{.Audit.Entries}} entries, {{if .Audit.Verified}}chain verified (head <code data-cairn-audit-head="cairn-audit-head: #{{.Audit.Entries}} {{.Audit.Head}}">{{.Audit.Head}}</code>){{else}}<strong>chain broken</strong>: {{.Audit.Problem}}{{end}}.</p>
<h2>Served versions</h2>
<table><tr><th>object</th><th>alias/label</th><th>version</th><th>deployments</th><th>gate evidence</th></tr>
{{range .Served}}<tr><td>{{.Object}}</td><td>{{.Name}}</td><td>{{.Version}}</td><td>{{range .Deployments}}{{.}} {{end}}</td><td>{{range .Gates}}<div>{{.Status}} {{.Gate}}: {{.Detail}}</div>{{end}}</td></tr>
{{end}}</table>
<h2>Waivers</h2>
<table><tr><th>policy</th><th>target</th><th>status</th><th>expires</th><th>approver</th><th>reason</th></tr>
{{range .Waivers}}<tr><td>{{.Policy}}</td><td>{{.Target}}</td><td>{{.Status}}</td><td>{{.Expires}}</td><td>{{.Approver}}</td><td>{{.Reason}}</td></tr>
{{end}}</table>
<h2>Specs vs state</h2>
<table><tr><th>object</th><th>field</th><th>spec</th><th>state</th></tr>
{{range .Differences}}<tr><td>{{.Object}}</td><td>{{.Field}}</td><td>{{.Spec}}</td><td>{{.State}}</td></tr>
{{end}}</table>
<h2>Drift</h2>
<table><tr><th>kind</th><th>object</th><th>detail</th><th>where</th></tr>
{{range .Drift}}<tr><td>{{.Kind}}</td><td>{{.Object}}</td><td>{{.Detail}}</td><td>{{if .Pos.IsValid}}{{.Pos.String}}{{end}}</td></tr>
{{end}}</table>
{{with .Operating}}<h2>Operating metrics</h2>
<p>From {{.From}} to {{.To}} (excluded){{if .Object}}, {{.Object}}{{end}}.</p>
<table><tr><th>metric</th><th>value</th><th>n</th><th>left out</th><th>definition</th></tr>
{{range .Figures}}<tr><td>{{.Name}}</td><td>{{.Formatted}}</td><td>{{.N}}</td><td>{{.LeftOut}}</td><td>{{.Definition}}</td></tr>
{{end}}</table>{{end}}
{{.ComplianceHTML}}
</body></html>
`))
})
