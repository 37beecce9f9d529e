// Package audit builds the compliance audit report from the bundle and the
// state: what is served at each alias and label with its gate evidence, the
// waivers, the policy decisions per apply, where specs and state disagree,
// and whether the hash-chained audit log verifies.
package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	ttemplate "text/template"
	"time"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/internal/diag"
	"github.com/cairn-dev/cairn/internal/md"
	"github.com/cairn-dev/cairn/reconciler"
	"github.com/cairn-dev/cairn/rollout"
	"github.com/cairn-dev/cairn/state"
)

// ExpiringWithin is how close to its expiry a waiver is reported as expiring.
const ExpiringWithin = 14 * 24 * time.Hour

// Report is the compliance audit report: what is served, with which
// evidence, which waivers apply, and where specs and state disagree.
type Report struct {
	FormatVersion int          `json:"format_version"`
	Now           string       `json:"now"`
	Project       string       `json:"project"`
	BundleHash    string       `json:"bundle_hash"`
	Served        []Served     `json:"served"`
	Waivers       []WaiverInfo `json:"waivers"`
	Differences   []Difference `json:"differences"`
	Policy        PolicyReport `json:"policy"`
	Audit         AuditSummary `json:"audit"`
}

// PolicyReport is the policy section: what the check finds now (denials
// and the waivers that let denials through), and per apply the policy
// decisions it acted on, from the audit log.
type PolicyReport struct {
	Checked bool             `json:"checked"` // Current was filled by a check
	Current []PolicyResult   `json:"current"`
	Applies []PolicyDecision `json:"applies"`
}

// PolicyResult is one denial, warning or waived denial now.
type PolicyResult struct {
	Severity string `json:"severity"`
	Policy   string `json:"policy"`
	Target   string `json:"target"`
	Pos      string `json:"pos,omitempty"`
	Message  string `json:"message"`
	Waiver   string `json:"waiver,omitempty"`
}

// PolicyDecision is what one apply acted on: the audit entry recording it,
// its warnings and the waivers it used (approver, expiry and reason).
type PolicyDecision struct {
	Seq      int64          `json:"seq"`
	Time     string         `json:"time"`
	Actor    string         `json:"actor"`
	Commit   string         `json:"commit,omitempty"`
	Bundle   string         `json:"bundle"`
	Denials  int            `json:"denials"`
	Warnings int            `json:"warnings"`
	Waived   []PolicyResult `json:"waived"`
}

// SetCheck puts the check stage's results in the policy section.
func (r *Report) SetCheck(ds diag.List) {
	r.Policy.Checked = true
	r.Policy.Current = []PolicyResult{}
	for _, d := range ds {
		if d.Severity == diag.Deny || d.Severity == diag.Waived || d.Severity == diag.Error {
			r.Policy.Current = append(r.Policy.Current, PolicyResult{Severity: string(d.Severity), Policy: d.Code, Target: d.Object,
				Pos: d.Pos.String(), Message: d.Message, Waiver: d.Waiver})
		}
	}
}

// policyDecisions reads the policy_check entries of the audit log.
func policyDecisions(log []state.AuditEntry) []PolicyDecision {
	out := []PolicyDecision{}
	for _, e := range log {
		if e.Action != reconciler.AuditPolicy {
			continue
		}
		var v struct {
			Denials  int `json:"denials"`
			Warnings int `json:"warnings"`
			Waived   []struct {
				Policy string `json:"policy"`
				Target string `json:"target"`
				Pos    string `json:"pos"`
				Waiver string `json:"waiver"`
			} `json:"waived"`
		}
		_ = json.Unmarshal([]byte(e.After), &v)
		d := PolicyDecision{Seq: e.Seq, Time: state.FormatTime(e.Time), Actor: e.Actor, Commit: e.Commit,
			Bundle: strings.TrimPrefix(e.Object, "bundles/"), Denials: v.Denials, Warnings: v.Warnings, Waived: []PolicyResult{}}
		for _, w := range v.Waived {
			d.Waived = append(d.Waived, PolicyResult{Severity: "waived", Policy: w.Policy, Target: w.Target, Pos: w.Pos, Waiver: w.Waiver})
		}
		out = append(out, d)
	}
	return out
}

// Served is one alias/label as recorded in state, with its gate evidence now.
type Served struct {
	Object      string                 `json:"object"`
	Name        string                 `json:"name"`
	Version     string                 `json:"version"`
	Subject     string                 `json:"subject,omitempty"`
	Deployments []string               `json:"deployments"`
	Gates       []reconciler.GateCheck `json:"gates"`
}

// WaiverInfo is a declared waiver and its status at Now.
type WaiverInfo struct {
	Policy   string `json:"policy"`
	Target   string `json:"target"`
	Reason   string `json:"reason"`
	Approver string `json:"approver"`
	Expires  string `json:"expires"`
	Status   string `json:"status"` // active | expiring | expired | invalid
	DaysLeft int    `json:"days_left"`
}

// Difference is one place where the specs and the state disagree.
type Difference struct {
	Object string `json:"object"`
	Field  string `json:"field"`
	Spec   string `json:"spec"`
	State  string `json:"state"`
}

// AuditSummary says whether the audit chain verifies.
type AuditSummary struct {
	Entries  int    `json:"entries"`
	Head     string `json:"head"`
	Verified bool   `json:"verified"`
	Problem  string `json:"problem,omitempty"`
}

// BuildReport builds the report at now (passed in, so reports are reproducible).
func BuildReport(ctx context.Context, b *compiler.Bundle, st state.Ops, now time.Time) (*Report, error) {
	r := &Report{FormatVersion: reconciler.FormatVersion, Now: now.UTC().Format(time.RFC3339), Project: b.Project.Name, BundleHash: b.Hash(),
		Served: []Served{}, Waivers: []WaiverInfo{}, Differences: []Difference{}}
	ptrs, err := st.ListPointers(ctx, "")
	if err != nil {
		return nil, err
	}
	// Every read below is an indexed query, streamed: the log is never
	// loaded whole.
	var checks []state.AuditEntry
	if err := st.ScanAudit(ctx, state.AuditQuery{Action: reconciler.AuditPolicy}, func(e state.AuditEntry) error {
		checks = append(checks, e)
		return nil
	}); err != nil {
		return nil, err
	}
	r.Policy = PolicyReport{Current: []PolicyResult{}, Applies: policyDecisions(checks)}
	inState := map[string]string{}
	progress, err := rollout.Recorded(ctx, st)
	if err != nil {
		return nil, err
	}
	for _, p := range ptrs {
		inState[p.Object+"."+p.Name] = p.Version
		kind, name, _ := strings.Cut(p.Object, "/")
		s := Served{Object: p.Object, Name: p.Name, Version: p.Version, Deployments: []string{}}
		var gate compiler.Gate
		t := reconciler.MovePromptLabel
		switch kind {
		case "prompts":
			if pr := b.Prompts[name]; pr != nil {
				gate = pr.Gates[p.Name]
			}
		case "models":
			t = reconciler.MoveModelAlias
			if m := b.Models[name]; m != nil {
				gate = m.Gates[p.Name]
			}
		}
		// Approvals are a property of the review that moved it: they are
		// read from the move's audit entry, not re-checked against today's count.
		approvals := gate.Approvals
		gate.Approvals = 0
		s.Subject, s.Gates, err = reconciler.GateEvidence(ctx, b, st, t, p.Object, p.Name, p.Version, gate)
		if err != nil {
			return nil, err
		}
		moves, err := latestMove(ctx, st, t, p.Object, p.Name)
		if err != nil {
			return nil, err
		}
		if g, ok := approvalEvidence(moves, t, p.Object, p.Name, p.Version, approvals); ok {
			s.Gates = append(s.Gates, g)
		}
		for _, dn := range slices.Sorted(maps.Keys(b.Deployments)) {
			d := b.Deployments[dn]
			if !(d.Model == name && kind == "models" || d.Prompt == name && kind == "prompts") {
				continue
			}
			switch {
			case d.Alias == p.Name:
				s.Deployments = append(s.Deployments, dn)
			case d.Rollout.Candidate == p.Name && d.Rollout.Strategy != "direct":
				role := d.Rollout.Strategy
				// The share served: where the recorded analysis took this
				// canary, its first step, or the fixed split.
				switch pr, ok := progress[dn]; {
				case len(d.Rollout.Steps) > 0 && ok && pr.Canary == p.Version:
					role += fmt.Sprintf(" %d%%", pr.Weight)
				case len(d.Rollout.Steps) > 0:
					role += fmt.Sprintf(" %d%%", d.Rollout.Steps[0].Weight)
				case d.Rollout.TrafficPercent != nil:
					role += fmt.Sprintf(" %d%%", *d.Rollout.TrafficPercent)
				}
				s.Deployments = append(s.Deployments, dn+" ("+role+")")
			}
		}
		r.Served = append(r.Served, s)
	}
	diff := func(obj, field, name, spec string) {
		if st := inState[obj+"."+name]; st != spec {
			r.Differences = append(r.Differences, Difference{Object: obj, Field: field + "." + name, Spec: orUnset(spec), State: orUnset(st)})
		}
		delete(inState, obj+"."+name)
	}
	for _, n := range slices.Sorted(maps.Keys(b.Models)) {
		for _, a := range slices.Sorted(maps.Keys(b.Models[n].Aliases)) {
			diff("models/"+n, "aliases", a, b.Models[n].Aliases[a])
		}
	}
	for _, n := range slices.Sorted(maps.Keys(b.Prompts)) {
		p := b.Prompts[n]
		for _, l := range slices.Sorted(maps.Keys(p.Labels)) {
			diff("prompts/"+n, "labels", l, p.Labels[l])
		}
		pv, err := st.GetPromptVersion(ctx, n, p.Version)
		switch {
		case errors.Is(err, state.ErrNotFound):
			r.Differences = append(r.Differences, Difference{Object: "prompts/" + n, Field: "version", Spec: p.Version + " " + p.ContentHash, State: "(not registered)"})
		case err != nil:
			return nil, err
		case pv.ContentHash != p.ContentHash:
			r.Differences = append(r.Differences, Difference{Object: "prompts/" + n, Field: "version", Spec: p.Version + " " + p.ContentHash, State: p.Version + " " + pv.ContentHash})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(inState)) {
		obj, name, _ := strings.Cut(k, ".")
		r.Differences = append(r.Differences, Difference{Object: obj, Field: name, Spec: "(not in specs)", State: inState[k]})
	}
	for _, w := range b.Governance.Waivers {
		r.Waivers = append(r.Waivers, waiverInfo(w, now))
	}
	head, p, err := state.VerifyScan(ctx, st, "")
	if err != nil {
		return nil, err
	}
	if p != nil {
		r.Audit.Problem = p.Error()
		if h, ok, err := st.AuditHead(ctx); err == nil && ok {
			head = h
		}
	} else {
		r.Audit.Verified = true
	}
	r.Audit.Entries, r.Audit.Head = int(head.Seq), head.Hash
	return r, nil
}

// latestMove returns the latest audit entry moving obj's name (an alias
// or label), if any, read from the end of the index.
func latestMove(ctx context.Context, st state.Ops, t reconciler.ActionType, obj, name string) ([]state.AuditEntry, error) {
	var out []state.AuditEntry
	err := st.ScanAudit(ctx, state.AuditQuery{Object: obj, Action: string(t), Desc: true}, func(e state.AuditEntry) error {
		var after struct {
			Name string `json:"name"`
		}
		if json.Unmarshal([]byte(e.After), &after) == nil && after.Name == name {
			out = append(out, e)
			return errFound
		}
		return nil
	})
	if errors.Is(err, errFound) {
		err = nil
	}
	return out, err
}

var errFound = errors.New("found")

// approvalEvidence finds the approvals gate recorded in the audit entry of
// the latest move of obj's name to version. ok is false when approvals are
// neither required nor recorded.
func approvalEvidence(log []state.AuditEntry, t reconciler.ActionType, obj, name, version string, required int) (reconciler.GateCheck, bool) {
	for i := len(log) - 1; i >= 0; i-- {
		e := log[i]
		if e.Action != string(t) || e.Object != obj {
			continue
		}
		var after struct {
			Name    string                 `json:"name"`
			Version string                 `json:"version"`
			Gates   []reconciler.GateCheck `json:"gates"`
		}
		if json.Unmarshal([]byte(e.After), &after) != nil || after.Name != name {
			continue
		}
		if after.Version != version {
			break // the latest move went elsewhere: state was changed outside cairn since
		}
		when := fmt.Sprintf("at the move by %s on %s", e.Actor, e.Time.UTC().Format(time.RFC3339))
		for _, g := range after.Gates {
			if g.Gate == "approvals" {
				g.Detail += " (recorded " + when + ")"
				return g, true
			}
		}
		if required == 0 {
			return reconciler.GateCheck{}, false
		}
		return reconciler.GateCheck{Gate: "approvals", Status: reconciler.GateFailed,
			Detail: fmt.Sprintf("%d required; none recorded %s (not required then)", required, when)}, true
	}
	if required == 0 {
		return reconciler.GateCheck{}, false
	}
	return reconciler.GateCheck{Gate: "approvals", Status: reconciler.GateFailed,
		Detail: fmt.Sprintf("%d required; no move to %s in the audit log (set outside cairn)", required, version)}, true
}

func orUnset(s string) string {
	if s == "" {
		return "(unset)"
	}
	return s
}

// parseDate reads a waiver expiry: a date (end of that day, UTC) or RFC 3339.
func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.Add(24 * time.Hour), nil
	}
	return time.Parse(time.RFC3339, s)
}

// WriteReport writes the report as md, json or html (every value escaped).
func WriteReport(w io.Writer, r *Report, format string) error {
	switch format {
	case "json":
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	case "md", "markdown", "":
		return mdReport().Execute(w, r)
	case "html":
		return htmlReport().Execute(w, r)
	}
	return fmt.Errorf("unknown report format %q (md, json, html)", format)
}

var funcs = map[string]any{"md": md.Cell, "mark": reconciler.GateMark, "join": strings.Join}

// Markdown is text: every spec/state value goes through md (md.Cell).
var mdReport = sync.OnceValue(func() *ttemplate.Template {
	return ttemplate.Must(ttemplate.New("md").Funcs(funcs).Parse(`# cairn audit report: {{md .Project}}

Generated {{.Now}} for bundle ` + "`{{.BundleHash}}`" + `.
Audit log: {{.Audit.Entries}} entries, {{if .Audit.Verified}}chain verified (head ` + "`{{.Audit.Head}}`" + `) <!-- cairn-audit-head: #{{.Audit.Entries}} {{.Audit.Head}} -->{{else}}**CHAIN BROKEN**: {{md .Audit.Problem}}{{end}}.

## Served versions

| object | alias/label | version | deployments | gate evidence |
|---|---|---|---|---|
{{range .Served}}| {{md .Object}} | {{md .Name}} | {{md .Version}} | {{md (join .Deployments ", ")}} | {{range .Gates}}{{mark .Status}} {{md .Gate}}: {{md .Detail}}<br>{{end}} |
{{end}}
## Waivers

{{if .Waivers}}| policy | target | status | expires | approver | reason |
|---|---|---|---|---|---|
{{range .Waivers}}| {{md .Policy}} | {{md .Target}} | {{.Status}} | {{md .Expires}} | {{md .Approver}} | {{md .Reason}} |
{{end}}{{else}}None declared.
{{end}}
## Policy decisions

{{if .Policy.Checked}}{{if .Policy.Current}}Now:

| severity | policy | target | at | message | waiver |
|---|---|---|---|---|---|
{{range .Policy.Current}}| {{.Severity}} | {{md .Policy}} | {{md .Target}} | {{md .Pos}} | {{md .Message}} | {{md .Waiver}} |
{{end}}{{else}}Now: no denials and no waived denials.
{{end}}{{end}}
{{if .Policy.Applies}}Per apply (from the audit log):

| audit entry | time | actor | denials | warnings | waivers used (approver, expiry, reason) |
|---|---|---|---|---|---|
{{range .Policy.Applies}}| #{{.Seq}} | {{.Time}} | {{md .Actor}} | {{.Denials}} | {{.Warnings}} | {{range .Waived}}{{md .Policy}} on {{md .Target}}: {{md .Waiver}}<br>{{end}} |
{{end}}{{else}}No apply recorded a waiver or a warning.
{{end}}
## Specs vs state

{{if .Differences}}| object | field | spec | state |
|---|---|---|---|
{{range .Differences}}| {{md .Object}} | {{md .Field}} | {{md .Spec}} | {{md .State}} |
{{end}}{{else}}State matches the specs.
{{end}}`))
})

// html/template escapes every value it interpolates.
var htmlReport = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("html").Funcs(funcs).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>cairn audit report: {{.Project}}</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}.bad{color:#b00}</style>
</head><body>
<h1>cairn audit report: {{.Project}}</h1>
<p>Generated {{.Now}} for bundle <code>{{.BundleHash}}</code>.
Audit log: {{.Audit.Entries}} entries, {{if .Audit.Verified}}chain verified (head <code data-cairn-audit-head="cairn-audit-head: #{{.Audit.Entries}} {{.Audit.Head}}">{{.Audit.Head}}</code>){{else}}<strong class="bad">chain broken</strong>: {{.Audit.Problem}}{{end}}.</p>
<h2>Served versions</h2>
<table><tr><th>object</th><th>alias/label</th><th>version</th><th>deployments</th><th>gate evidence</th></tr>
{{range .Served}}<tr><td>{{.Object}}</td><td>{{.Name}}</td><td>{{.Version}}</td><td>{{join .Deployments ", "}}</td><td>{{range .Gates}}<div>{{mark .Status}} {{.Gate}}: {{.Detail}}</div>{{end}}</td></tr>
{{end}}</table>
<h2>Waivers</h2>
{{if .Waivers}}<table><tr><th>policy</th><th>target</th><th>status</th><th>expires</th><th>approver</th><th>reason</th></tr>
{{range .Waivers}}<tr><td>{{.Policy}}</td><td>{{.Target}}</td><td>{{.Status}}</td><td>{{.Expires}}</td><td>{{.Approver}}</td><td>{{.Reason}}</td></tr>
{{end}}</table>{{else}}<p>None declared.</p>{{end}}
<h2>Policy decisions</h2>
{{if .Policy.Checked}}{{if .Policy.Current}}<table><tr><th>severity</th><th>policy</th><th>target</th><th>at</th><th>message</th><th>waiver</th></tr>
{{range .Policy.Current}}<tr><td>{{.Severity}}</td><td>{{.Policy}}</td><td>{{.Target}}</td><td>{{.Pos}}</td><td>{{.Message}}</td><td>{{.Waiver}}</td></tr>
{{end}}</table>{{else}}<p>Now: no denials and no waived denials.</p>{{end}}{{end}}
{{if .Policy.Applies}}<table><tr><th>audit entry</th><th>time</th><th>actor</th><th>denials</th><th>warnings</th><th>waivers used</th></tr>
{{range .Policy.Applies}}<tr><td>#{{.Seq}}</td><td>{{.Time}}</td><td>{{.Actor}}</td><td>{{.Denials}}</td><td>{{.Warnings}}</td><td>{{range .Waived}}<div>{{.Policy}} on {{.Target}}: {{.Waiver}}</div>{{end}}</td></tr>
{{end}}</table>{{else}}<p>No apply recorded a waiver or a warning.</p>{{end}}
<h2>Specs vs state</h2>
{{if .Differences}}<table><tr><th>object</th><th>field</th><th>spec</th><th>state</th></tr>
{{range .Differences}}<tr><td>{{.Object}}</td><td>{{.Field}}</td><td>{{.Spec}}</td><td>{{.State}}</td></tr>
{{end}}</table>{{else}}<p>State matches the specs.</p>{{end}}
</body></html>
`))
})

// waiverInfo is a waiver with its status at now.
func waiverInfo(w compiler.Waiver, now time.Time) WaiverInfo {
	wi := WaiverInfo{Policy: w.Policy, Target: w.Target, Reason: w.Reason, Approver: w.Approver, Expires: w.Expires}
	exp, err := parseDate(w.Expires)
	switch {
	case err != nil:
		wi.Status = "invalid"
	case !now.Before(exp):
		wi.Status = "expired"
	case exp.Sub(now) <= ExpiringWithin:
		wi.Status = "expiring"
	default:
		wi.Status = "active"
	}
	if err == nil {
		wi.DaysLeft = int(exp.Sub(now).Hours() / 24)
	}
	return wi
}
