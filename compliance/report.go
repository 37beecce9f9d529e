package compliance

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/internal/diag"
	"github.com/cairn-dev/cairn/internal/gitfile"
	"github.com/cairn-dev/cairn/reconciler"
	"github.com/cairn-dev/cairn/state"
)

// SchemaVersion names the JSON report's schema (docs/compliance-report.schema.json).
const SchemaVersion = "cairn.compliance/v1"

// RetentionDays is six months, as Art 19 and 26(6) count the minimum.
const RetentionDays = 184

// Disclaimer is printed in every report.
const Disclaimer = "Evidence for a reviewer, not legal advice: each row says what cairn's records show against an item, and what they cannot show."

// Statuses of a row.
const (
	Evidenced     = "evidenced"
	Partial       = "partial"
	Missing       = "missing"
	Manual        = "manual"
	NotApplicable = "not_applicable"
)

// Options are a report's inputs besides the bundle and the state.
type Options struct {
	Now        time.Time
	Frameworks []string // empty: the spec's list
	Dir        string   // the spec repo, for declared files' last commits
	Check      *Check   // the check's results now; nil when not run
	// Signer is who signs the report (a principal of the allowed signers
	// file), SignerKey the key's fingerprint; empty: unsigned.
	Signer, SignerKey string
	// Bounds is the prior-defined judgement of the gates' thresholds
	// (reconciler.JudgeBounds); nil: no history, every bound unknown.
	Bounds []BoundStatus
}

// Check is the part of the check's results a report uses.
type Check struct{ Diagnostics diag.List }

func (c *Check) denials() []string {
	var out []string
	for _, d := range c.Diagnostics {
		if d.Severity == diag.Deny || d.Severity == diag.Error {
			out = append(out, fmt.Sprintf("%s %s: %s (%s)", d.Severity, d.Code, d.Message, d.Pos.String()))
		}
	}
	return out
}

// BoundStatus is reconciler.JudgeBounds' verdict on one threshold.
type BoundStatus = reconciler.BoundStatus

// Report is the compliance report: per declared AI system and framework,
// every row with its status, evidence and findings.
type Report struct {
	SchemaVersion    string          `json:"schema_version"`
	CrosswalkVersion string          `json:"crosswalk_version"`
	Disclaimer       string          `json:"disclaimer"`
	Now              string          `json:"now"`
	Project          string          `json:"project"`
	BundleHash       string          `json:"bundle_hash"`
	Dates            Dates           `json:"dates"`
	Frameworks       []FrameworkInfo `json:"frameworks"`
	Log              LogSummary      `json:"log"`
	// AuditHead is "#seq hash" of the log's head the report was built on
	// (audit verify-report checks it is still in the chain).
	AuditHead string         `json:"cairn_audit_head"`
	Signer    string         `json:"signer,omitempty"`
	SignerKey string         `json:"signer_key,omitempty"`
	Systems   []SystemReport `json:"systems"`
	Crosswalk *Crosswalk     `json:"crosswalk"`
}

// Dates is the date set the report applies.
type Dates struct {
	Set              string `json:"set"`
	Title            string `json:"title"`
	HighRiskFrom     string `json:"high_risk_from"`
	TransparencyFrom string `json:"transparency_from"`
}

// FrameworkInfo names a framework the report covers and its version.
type FrameworkInfo struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	Version string `json:"version"`
}

// SystemReport is one AI system's section.
type SystemReport struct {
	Name       string          `json:"name"`
	Role       string          `json:"role"`
	AnnexIII   string          `json:"annex_iii"`
	HighRisk   bool            `json:"high_risk"`
	Scope      string          `json:"scope"` // why these rows apply
	Pos        string          `json:"pos"`
	Served     []Served        `json:"served"`
	Files      []DeclaredFile  `json:"files"`
	Bounds     []BoundStatus   `json:"bounds"`
	Frameworks []FrameworkRows `json:"frameworks"`
	Counts     map[string]int  `json:"counts"` // status → rows, over every framework
	Evidence   []Evidence      `json:"evidence"`
}

// DeclaredFile is a document the system declares, as git last saw it.
type DeclaredFile struct {
	Field      string `json:"field"`
	Path       string `json:"path"`
	SHA256     string `json:"sha256,omitempty"`
	Commit     string `json:"commit,omitempty"`
	CommitTime string `json:"commit_time,omitempty"`
	Status     string `json:"status"` // current | stale | uncommitted | missing
	Detail     string `json:"detail"`
}

// FrameworkRows are one framework's rows for a system.
type FrameworkRows struct {
	Framework string `json:"framework"`
	Rows      []Row  `json:"rows"`
}

// Row is one item of a framework with its status.
type Row struct {
	ID       string    `json:"id"`
	Ref      string    `json:"ref"`
	Title    string    `json:"title"`
	Status   string    `json:"status"`
	Reason   string    `json:"reason,omitempty"`
	Evidence []string  `json:"evidence"`
	Findings []Finding `json:"findings"`
	Maps     []string  `json:"maps"` // the other frameworks' identifiers (or the AI Act rows behind a NIST/ISO row)
}

// Finding is a gap and its fix.
type Finding struct {
	What string `json:"what"`
	Fix  string `json:"fix"`
}

// Build builds the report of every system the bundle declares. A log that
// does not verify is refused: a report on a tampered log would vouch for it.
func Build(ctx context.Context, b *compiler.Bundle, st state.Ops, opts Options) (*Report, error) {
	cw, err := LoadCrosswalk()
	if err != nil {
		return nil, err
	}
	c := b.Compliance
	if c == nil {
		return nil, fmt.Errorf("compliance: the specs declare no compliance block (compliance: {frameworks, systems})")
	}
	fws := opts.Frameworks
	if len(fws) == 0 {
		fws = c.Frameworks
	}
	for _, f := range fws {
		if !slices.Contains(Frameworks, f) {
			return nil, &UsageError{fmt.Sprintf("unknown framework %q (one of %s)", f, strings.Join(Frameworks, ", "))}
		}
	}
	ds := cw.DateSets[c.Dates]
	if ds.HighRiskFrom == "" {
		ds = cw.DateSets["enacted"]
	}
	maxGap, err := parseDuration(c.MaxLogGap)
	if err != nil {
		return nil, fmt.Errorf("compliance: compliance.max_log_gap %q: %w", c.MaxLogGap, err)
	}
	lg, err := summarizeLog(ctx, st, opts.Now, maxGap)
	if err != nil {
		return nil, err
	}
	r := &Report{SchemaVersion: SchemaVersion, CrosswalkVersion: cw.Version, Disclaimer: Disclaimer, Now: opts.Now.UTC().Format(time.RFC3339),
		Project: b.Project.Name, BundleHash: b.Hash(), Log: *lg, Signer: opts.Signer, SignerKey: opts.SignerKey, Crosswalk: cw, Systems: []SystemReport{},
		Dates: Dates{Set: c.Dates, Title: ds.Title, HighRiskFrom: ds.HighRiskFrom, TransparencyFrom: ds.TransparencyFrom}}
	if lg.Entries > 0 {
		r.AuditHead = fmt.Sprintf("#%d %s", lg.Entries, lg.Head)
	}
	if r.Dates.Set == "" {
		r.Dates.Set = "enacted"
	}
	for _, f := range fws {
		r.Frameworks = append(r.Frameworks, FrameworkInfo{ID: f, Title: cw.Frameworks[f].Title, Version: cw.Frameworks[f].Version})
	}
	for _, name := range slices.Sorted(maps.Keys(c.Systems)) {
		s := c.Systems[name]
		col := &collector{ctx: ctx, b: b, st: st, sys: s, log: lg, opts: opts, out: map[string]Evidence{}}
		if err := col.all(); err != nil {
			return nil, fmt.Errorf("compliance: system %s: %w", name, err)
		}
		sr := SystemReport{Name: name, Role: s.Role, AnnexIII: s.AnnexIII, HighRisk: s.HighRisk, Pos: s.Pos.String(), Served: col.served,
			Files: col.files(opts.Dir), Bounds: col.bounds, Counts: map[string]int{}}
		if sr.Served == nil {
			sr.Served = []Served{}
		}
		if sr.Bounds == nil {
			sr.Bounds = []BoundStatus{}
		}
		sr.Scope = scope(s, ds)
		for _, k := range slices.Sorted(maps.Keys(col.out)) {
			sr.Evidence = append(sr.Evidence, col.out[k])
		}
		eu := euRows(cw, c, s, col, sr.Files, opts.Now, ds)
		for _, f := range fws {
			fr := FrameworkRows{Framework: f}
			switch f {
			case "eu-ai-act":
				for _, row := range eu {
					if row.framework == "" {
						fr.Rows = append(fr.Rows, row.Row)
					}
				}
			default:
				fr.Rows = mapped(cw, f, eu)
			}
			for _, row := range fr.Rows {
				sr.Counts[row.Status]++
			}
			sr.Frameworks = append(sr.Frameworks, fr)
		}
		r.Systems = append(r.Systems, sr)
	}
	return r, nil
}

// scope says which rows a system gets, and from when.
func scope(s *compiler.System, ds DateSet) string {
	switch {
	case s.AnnexIII == "not_listed":
		return "not listed in Annex III: the high-risk rows do not apply; Art 50 applies from " + ds.TransparencyFrom
	case !s.HighRisk:
		return "listed in Annex III " + s.AnnexIII + " but exempted under Art 6(3) (assessment " + s.Exemption63.AssessmentFile + "): the high-risk rows do not apply"
	}
	return fmt.Sprintf("high-risk, Annex III %s, as %s: the high-risk obligations apply from %s", s.AnnexIII, s.Role, ds.HighRiskFrom)
}

// row is a crosswalk row judged for a system.
type row struct {
	Row
	framework string
	cw        CrosswalkRow
}

// euRows judges every crosswalk row for the system: the AI Act's rows and
// the rows only another framework has.
func euRows(cw *Crosswalk, c *compiler.Compliance, s *compiler.System, col *collector, files []DeclaredFile, now time.Time, ds DateSet) []row {
	var out []row
	llm := slices.ContainsFunc(col.served, func(sv Served) bool { return sv.Kind == "llm" })
	roles := []string{s.Role}
	if s.Role == "both" {
		roles = []string{"provider", "deployer"}
	}
	for _, cr := range cw.Rows {
		// Rows by role: another role's obligations are not listed at all.
		if !slices.ContainsFunc(cr.Roles, func(r string) bool { return slices.Contains(roles, r) }) {
			continue
		}
		r := row{Row: Row{ID: cr.ID, Ref: cr.Ref, Title: cr.Title, Evidence: []string{}, Findings: []Finding{}}, framework: cr.Framework, cw: cr}
		for _, id := range cr.NIST {
			r.Maps = append(r.Maps, "NIST "+id)
		}
		for _, id := range cr.ISO {
			r.Maps = append(r.Maps, "ISO "+id)
		}
		if r.Maps == nil {
			r.Maps = []string{}
		}
		r.Status, r.Reason = judge(cr, c, s, col, files, llm)
		if r.Status == NotApplicable {
			out = append(out, r)
			continue
		}
		from := ds.HighRiskFrom
		if cr.Transparency {
			from = ds.TransparencyFrom
		}
		if now.Format("2006-01-02") < from {
			r.Reason = strings.TrimPrefix(r.Reason+"; applies from "+from, "; ")
		}
		for _, k := range slices.Concat(cr.Evidenced, cr.Partial) {
			e := col.out[k]
			for _, l := range e.Lines {
				if !slices.Contains(r.Evidence, k+": "+l) {
					r.Evidence = append(r.Evidence, k+": "+l)
				}
			}
			if e.Status != present && e.Finding != "" && !slices.ContainsFunc(r.Findings, func(f Finding) bool { return f.What == e.Finding }) {
				r.Findings = append(r.Findings, Finding{What: e.Finding, Fix: e.Fix})
			}
		}
		if cr.File != "" {
			for _, f := range files {
				if f.Field == cr.File {
					if f.Status == "missing" {
						r.Findings = append(r.Findings, Finding{What: f.Detail, Fix: "write the document, commit it and declare it in compliance.systems." + s.Name + ".files." + f.Field})
					} else {
						r.Evidence = append(r.Evidence, fmt.Sprintf("file %s: %s", f.Path, f.Detail))
						if f.Status != "current" {
							r.Findings = append(r.Findings, Finding{What: f.Detail, Fix: "review " + f.Path + " against the served version and commit it"})
						}
					}
				}
			}
		}
		out = append(out, r)
	}
	return out
}

// judge decides one row's status from the evidence.
func judge(cr CrosswalkRow, c *compiler.Compliance, s *compiler.System, col *collector, files []DeclaredFile, llm bool) (string, string) {
	switch cr.When {
	case "product_component":
		if !s.ProductComponent {
			return NotApplicable, "the system is not a product component (product_component: false)"
		}
	case "annex_4":
		if s.AnnexIII != "4a" && s.AnnexIII != "4b" {
			return NotApplicable, "only for employment systems (Annex III 4(a), 4(b))"
		}
	case "annex_5bc":
		if s.AnnexIII != "5b" && s.AnnexIII != "5c" {
			return NotApplicable, "only for deployers of Annex III 5(b) and 5(c) systems"
		}
	case "llm":
		if !llm {
			return NotApplicable, "the system serves no LLM prompt"
		}
	}
	if !cr.Transparency && !s.HighRisk {
		if s.AnnexIII == "not_listed" {
			return NotApplicable, "not a high-risk system (Annex III: not listed)"
		}
		return NotApplicable, "exempted under Art 6(3)"
	}
	if cr.FIManual && c.FinancialInstitution {
		return Manual, "covered by financial-services governance (17(4))"
	}
	if cr.Manual {
		return Manual, "judged by people; cairn holds no evidence for it"
	}
	st := byKinds(cr, col)
	if cr.File == "" {
		return st, ""
	}
	var f DeclaredFile
	for _, df := range files {
		if df.Field == cr.File {
			f = df
		}
	}
	reason := ""
	if c.FinancialInstitution && cr.File == "post_market_plan" {
		reason = "72(4): the plan may point to the institution's existing monitoring system"
	}
	switch {
	case f.Status == "missing" || f.Status == "":
		return Missing, reason
	case f.Status != "current":
		return Partial, reason
	case st != Evidenced && len(cr.Evidenced) > 0:
		return Partial, strings.TrimPrefix(reason+"; the document is declared, the evidence behind it is not complete", "; ")
	}
	return Manual, strings.TrimPrefix(reason+"; the declared document is current; its content is for a reviewer", "; ")
}

// byKinds is evidenced when every evidenced kind is present, partial when
// every partial kind is at least weak (or some evidenced kind holds), missing otherwise.
func byKinds(cr CrosswalkRow, col *collector) string {
	all, some := true, false
	for _, k := range cr.Evidenced {
		switch col.out[k].Status {
		case present:
			some = true
		case weak:
			all, some = false, true
		default:
			all = false
		}
	}
	if all && len(cr.Evidenced) > 0 {
		return Evidenced
	}
	if len(cr.Partial) > 0 {
		ok := true
		for _, k := range cr.Partial {
			if col.out[k].Status == absent || col.out[k].Status == "" {
				ok = false
			}
		}
		if ok {
			return Partial
		}
		return Missing
	}
	if some {
		return Partial
	}
	return Missing
}

// mapped builds a NIST AI RMF or ISO/IEC 42001 view: one row per
// identifier the crosswalk maps AI Act rows to, its status combined from
// those rows, plus the rows only that framework has.
func mapped(cw *Crosswalk, fw string, eu []row) []Row {
	by := map[string][]row{}
	for _, r := range eu {
		if r.framework != "" && r.framework != fw {
			continue
		}
		ids := r.cw.NIST
		if fw == "iso-42001" {
			ids = r.cw.ISO
		}
		if r.framework == fw {
			by[r.Ref] = append(by[r.Ref], r)
			continue
		}
		for _, id := range ids {
			by[id] = append(by[id], r)
		}
	}
	var out []Row
	for _, id := range slices.SortedFunc(maps.Keys(by), compareIDs) {
		rs := by[id]
		out0 := Row{ID: id, Ref: id, Title: cw.Titles[id], Evidence: []string{}, Findings: []Finding{}, Maps: []string{}}
		if rs[0].framework == fw {
			out0 = rs[0].Row
			out0.ID, out0.Maps = rs[0].ID, []string{}
			for _, n := range rs[0].cw.NIST {
				out0.Maps = append(out0.Maps, "NIST "+n)
			}
		}
		var sts []string
		for _, r := range rs {
			if r.framework != fw {
				out0.Maps = append(out0.Maps, "EU AI Act "+r.Ref+": "+r.Status)
			}
			sts = append(sts, r.Status)
			for _, e := range r.Evidence {
				if !slices.Contains(out0.Evidence, e) {
					out0.Evidence = append(out0.Evidence, e)
				}
			}
			for _, f := range r.Findings {
				if !slices.Contains(out0.Findings, f) {
					out0.Findings = append(out0.Findings, f)
				}
			}
		}
		out0.Status, out0.Reason = combine(sts)
		if rs[0].framework == fw {
			out0.Reason = rs[0].Reason
		}
		out = append(out, out0)
	}
	return out
}

// combine merges the statuses of the AI Act rows behind one identifier:
// not applicable and manual rows count only when nothing else does.
func combine(sts []string) (string, string) {
	n := map[string]int{}
	for _, s := range sts {
		n[s]++
	}
	judged := n[Evidenced] + n[Partial] + n[Missing]
	switch {
	case judged == 0 && n[Manual] > 0:
		return Manual, "every row behind it is judged by people"
	case judged == 0:
		return NotApplicable, "no row behind it applies to this system"
	case n[Evidenced] == judged:
		return Evidenced, ""
	case n[Missing] == judged:
		return Missing, ""
	}
	return Partial, fmt.Sprintf("%d of %d rows behind it evidenced", n[Evidenced], judged)
}

// compareIDs orders identifiers by function, then numerically ("MEASURE 2.9" < "MEASURE 2.10").
func compareIDs(a, b string) int {
	order := func(s string) string {
		for i, p := range []string{"GOVERN", "MAP", "MEASURE", "MANAGE", "AI 600-1"} {
			if strings.HasPrefix(s, p) {
				return fmt.Sprint(i)
			}
		}
		return "9"
	}
	if oa, ob := order(a), order(b); oa != ob {
		return strings.Compare(oa, ob)
	}
	pa, pb := numParts(a), numParts(b)
	for i := 0; i < len(pa) && i < len(pb); i++ {
		if pa[i] != pb[i] {
			if pa[i] < pb[i] {
				return -1
			}
			return 1
		}
	}
	if len(pa) != len(pb) {
		return len(pa) - len(pb)
	}
	return strings.Compare(a, b)
}

func numParts(s string) []int {
	var out []int
	n, in := 0, false
	for _, r := range s {
		if r >= '0' && r <= '9' {
			n, in = n*10+int(r-'0'), true
			continue
		}
		if in {
			out = append(out, n)
			n, in = 0, false
		}
	}
	if in {
		out = append(out, n)
	}
	return out
}

// files reports each declared document: its hash, its last commit, and
// whether it is older than the newest version the system serves.
func (c *collector) files(dir string) []DeclaredFile {
	s := c.sys
	var newest time.Time
	for _, sv := range c.served {
		if sv.Since.After(newest) {
			newest = sv.Since
		}
	}
	decl := []struct{ field, path string }{{"instructions_for_use", s.Files.InstructionsForUse}, {"fria", s.Files.FRIA},
		{"post_market_plan", s.Files.PostMarketPlan}, {"incident_register", s.Files.IncidentRegister}}
	var out []DeclaredFile
	for _, d := range decl {
		f := DeclaredFile{Field: d.field, Path: d.path}
		if d.path == "" {
			f.Status, f.Detail = "missing", "no "+strings.ReplaceAll(d.field, "_", " ")+" declared (files."+d.field+")"
			out = append(out, f)
			continue
		}
		f.SHA256 = c.b.Files[d.path]
		commit, at, ok, err := gitfile.LastCommit(dir, d.path)
		switch {
		case err != nil || !ok:
			f.Status, f.Detail = "uncommitted", fmt.Sprintf("%s, not committed to git: its age cannot be shown", f.SHA256)
		default:
			f.Commit, f.CommitTime = commit, at.UTC().Format(time.RFC3339)
			f.Status, f.Detail = "current", fmt.Sprintf("%s, last commit %s at %s", f.SHA256, short(commit), f.CommitTime)
			switch {
			case at.Before(newest):
				f.Status = "stale"
				f.Detail += fmt.Sprintf(", older than the served version (registered %s)", newest.UTC().Format(time.RFC3339))
			case d.field == "incident_register" && at.Before(c.lastIncident):
				f.Status = "stale"
				f.Detail += fmt.Sprintf(", older than the last rollback or alert (%s): is it in the register?", c.lastIncident.UTC().Format(time.RFC3339))
			}
		}
		out = append(out, f)
	}
	// A claimed exemption's assessment is shown too.
	if e := s.Exemption63; e != nil {
		f := DeclaredFile{Field: "exemption_6_3", Path: e.AssessmentFile, SHA256: c.b.Files[e.AssessmentFile], Status: "current"}
		f.Detail = f.SHA256
		if commit, at, ok, err := gitfile.LastCommit(dir, e.AssessmentFile); err == nil && ok {
			f.Commit, f.CommitTime = commit, at.UTC().Format(time.RFC3339)
			f.Detail += ", last commit " + short(commit) + " at " + f.CommitTime
		}
		out = append(out, f)
	}
	return out
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
