package compliance

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/reconciler"
	"github.com/cairn-dev/cairn/state"
)

// approvals reads, for each served version, who approved the move that
// put it in place (the policy_check entry of that apply).
func (c *collector) approvals() error {
	var named, unattributed, none []string
	for _, sv := range c.served {
		if sv.Version == "" {
			continue
		}
		t := string(moveAction(sv.Object))
		var move *state.AuditEntry
		err := c.st.ScanAudit(c.ctx, state.AuditQuery{Object: sv.Object, Action: t, Desc: true}, func(e state.AuditEntry) error {
			var after struct{ Name, Version string }
			if json.Unmarshal([]byte(e.After), &after) != nil || after.Name != sv.Alias {
				return nil
			}
			if after.Version == sv.Version {
				move = &e
			}
			return errStop
		})
		if err != nil && err != errStop {
			return err
		}
		if move == nil {
			none = append(none, fmt.Sprintf("%s@%s v%s (no move recorded)", sv.Object, sv.Alias, sv.Version))
			continue
		}
		var pc struct {
			ApprovedBy   []reconciler.Approver `json:"approved_by"`
			Unattributed bool                  `json:"approvals_unattributed"`
			Approvals    int                   `json:"approvals"`
		}
		var pcSeq int64
		if err := c.st.ScanAudit(c.ctx, state.AuditQuery{Action: reconciler.AuditPolicy, ToSeq: move.Seq, Desc: true, Limit: 1}, func(e state.AuditEntry) error {
			pcSeq = e.Seq
			return json.Unmarshal([]byte(e.After), &pc)
		}); err != nil {
			return err
		}
		where := fmt.Sprintf("%s@%s v%s, move #%d by %s at %s", sv.Object, sv.Alias, sv.Version, move.Seq, move.Actor, state.FormatTime(move.Time))
		switch {
		case len(pc.ApprovedBy) > 0:
			var who []string
			for _, a := range pc.ApprovedBy {
				who = append(who, a.Login+" at "+state.FormatTime(a.At))
			}
			named = append(named, fmt.Sprintf("%s: approved by %s (policy check #%d)", where, strings.Join(who, ", "), pcSeq))
		case pc.Unattributed || pc.Approvals > 0:
			unattributed = append(unattributed, fmt.Sprintf("%s: %d approval(s) given as a count, naming nobody (policy check #%d)", where, pc.Approvals, pcSeq))
		default:
			none = append(none, where+": no approval recorded")
		}
	}
	switch {
	case len(named) > 0 && len(unattributed) == 0 && len(none) == 0:
		c.set("approvals", present, named, "", "")
	case len(named)+len(unattributed) > 0:
		c.set("approvals", weak, append(named, unattributed...), "approvals not attributed to reviewers: "+strings.Join(append(unattributed, none...), "; "),
			"apply from the pull request (cairn pr / reconcile read the reviewers), not with --approvals N")
	default:
		c.set("approvals", absent, none, "no approval recorded for the served versions", "require gates.ALIAS.approvals and apply from the reviewed pull request")
	}
	return nil
}

var errStop = fmt.Errorf("stop")

// auditKinds is the evidence read from cairn's own log: policy checks,
// the history of the served aliases, the chain, retention, incidents.
func (c *collector) auditKinds() error {
	// Policy checks: the latest apply's, and whether any apply was refused since.
	var last *state.AuditEntry
	if err := c.st.ScanAudit(c.ctx, state.AuditQuery{Action: reconciler.AuditPolicy, Desc: true, Limit: 1}, func(e state.AuditEntry) error {
		last = &e
		return nil
	}); err != nil {
		return err
	}
	if last == nil {
		c.set("policy_checks", absent, nil, "no apply recorded a policy check", "apply the specs with cairn (every apply records its policy check)")
	} else {
		var pc struct {
			Denials, Warnings int
			Waived            []json.RawMessage
		}
		_ = json.Unmarshal([]byte(last.After), &pc)
		l := fmt.Sprintf("latest policy check #%d at %s: %d denials, %d warnings, %d waived (%s)", last.Seq, state.FormatTime(last.Time), pc.Denials, pc.Warnings, len(pc.Waived), last.Hash)
		c.set("policy_checks", present, []string{l}, "", "")
	}
	// The waivers that let a denial through on what the system is made of.
	if ws := c.waivers(); len(ws) > 0 {
		e := c.out["policy_checks"]
		c.set("policy_checks", e.Status, append(e.Lines, ws...), e.Finding, e.Fix)
	}
	if n := c.opts.Check; n != nil {
		if denies := n.denials(); len(denies) > 0 {
			e := c.out["policy_checks"]
			c.set("policy_checks", weak, append(e.Lines, denies...), "the check denies the specs now", "fix the denials (cairn check) or waive them with an expiry")
		}
	}
	// Change history of the served aliases.
	var hist, noHist []string
	for _, sv := range c.served {
		t := string(moveAction(sv.Object))
		// The first and the latest move of this alias, each read from its
		// end of the index: memory and time stay flat in the log's length.
		var first, latest state.AuditEntry
		found := false
		for _, desc := range []bool{false, true} {
			if err := c.st.ScanAudit(c.ctx, state.AuditQuery{Object: sv.Object, Action: t, Desc: desc}, func(e state.AuditEntry) error {
				var after struct{ Name string }
				if json.Unmarshal([]byte(e.After), &after) != nil || after.Name != sv.Alias {
					return nil
				}
				if desc {
					latest = e
				} else {
					first, found = e, true
				}
				return errStop
			}); err != nil && err != errStop {
				return err
			}
		}
		if !found {
			noHist = append(noHist, sv.Object+"@"+sv.Alias)
			continue
		}
		hist = append(hist, fmt.Sprintf("%s@%s: moves from #%d (%s) to the latest, #%d (%s, %s)", sv.Object, sv.Alias, first.Seq, state.FormatTime(first.Time), latest.Seq, state.FormatTime(latest.Time), latest.Hash))
	}
	c.kind("change_history", hist, noHist, "aliases with no move in the audit log (set outside cairn): ", "move aliases only through cairn apply")
	// The chain and cairn's own log.
	lg := c.log
	if lg.Verified {
		c.set("audit_chain", present, []string{fmt.Sprintf("%d entries, head #%d %s, verified %s", lg.Entries, lg.Entries, lg.Head, lg.VerifiedFrom)}, "", "")
	} else {
		c.set("audit_chain", absent, nil, "the audit log is empty", "apply the specs")
	}
	lines := []string{lg.summary()}
	switch {
	case lg.Entries == 0:
		c.set("log_retention", absent, nil, "the audit log is empty", "apply the specs; run cairn reconcile daily (it appends a heartbeat)")
	case lg.RetainedDays >= RetentionDays && lg.Continuous:
		c.set("log_retention", present, lines, "", "")
	case lg.RetainedDays < RetentionDays:
		c.set("log_retention", weak, lines, fmt.Sprintf("the verified log spans %d of %d days", lg.RetainedDays, RetentionDays), "keep the state (and its log) for at least six months; it is partial until then")
	default:
		c.set("log_retention", weak, lines, lg.GapFinding, "run cairn reconcile at least daily (each run appends a heartbeat); a gap cannot be filled after the fact")
	}
	// The system's own serving log.
	switch sl := c.sys.ServingLog; {
	case sl == nil:
		c.set("serving_log", absent, nil, "the system does not declare where its per-use serving log lives (cairn's log records changes, not uses)", "declare compliance.systems."+c.sys.Name+".serving_log: {location, retention_days}")
	case sl.RetentionDays < RetentionDays:
		c.set("serving_log", weak, []string{fmt.Sprintf("declared: %s, kept %d days", sl.Location, sl.RetentionDays)}, fmt.Sprintf("the serving log is kept %d days, fewer than %d", sl.RetentionDays, RetentionDays), "keep it at least six months (Art 19, 26(6))")
	default:
		c.set("serving_log", present, []string{fmt.Sprintf("declared (not verified by cairn): %s, kept %d days", sl.Location, sl.RetentionDays)}, "", "")
	}
	return c.incidents()
}

// incidents lists the rollbacks and alerts of the system's deployments and
// models: each may be a serious incident (Art 73), reportable within 15
// days of awareness, 10 for a death, 2 when widespread.
func (c *collector) incidents() error {
	var lines []string
	add := func(e state.AuditEntry, what string) {
		lines = append(lines, fmt.Sprintf("%s at %s (#%d %s): if serious, report by %s (15 days; 10 if a death, by %s; 2 if widespread, by %s)",
			what, state.FormatTime(e.Time), e.Seq, e.Hash, day(e.Time, 15), day(e.Time, 10), day(e.Time, 2)))
		if e.Time.After(c.lastIncident) {
			c.lastIncident = e.Time
		}
	}
	for _, sv := range c.served {
		if err := c.st.ScanAudit(c.ctx, state.AuditQuery{Object: "deployments/" + sv.Deployment, Action: "rollout_rollback"}, func(e state.AuditEntry) error {
			add(e, "rollback of "+sv.Deployment)
			return nil
		}); err != nil {
			return err
		}
		if sv.Kind == "classic" {
			if err := c.st.ScanAudit(c.ctx, state.AuditQuery{Object: sv.Object, Action: "alert_received"}, func(e state.AuditEntry) error {
				alert, _, _ := strings.Cut(e.After, " ")
				add(e, "alert "+alert+" on "+sv.Object)
				return nil
			}); err != nil {
				return err
			}
		}
	}
	if len(lines) == 0 {
		lines = []string{"no rollback or alert recorded"}
	}
	c.set("incidents", present, lines, "", "")
	return nil
}

func day(t time.Time, days int) string { return t.UTC().AddDate(0, 0, days).Format("2006-01-02") }

// operation is the evidence of how the system runs: alert route, SLOs,
// rendered targets.
func (c *collector) operation() {
	if w := c.b.Project.AlertWebhook; w != "" {
		c.set("alert_route", present, []string{"project.alert_webhook " + w + " (" + c.b.Project.Pos.String() + ")"}, "", "")
	} else {
		c.set("alert_route", absent, nil, "the project declares no alert route", "declare project.alert_webhook (cairn renders the Alertmanager route)")
	}
	var slos, noSLO, tg, noTg []string
	rendered, _ := c.st.RenderedHashes(c.ctx)
	for _, sv := range c.served {
		d := c.b.Deployments[sv.Deployment]
		if len(d.SLOs) > 0 {
			slos = append(slos, sv.Deployment+": "+strings.Join(d.SLOs, ", "))
		} else {
			noSLO = append(noSLO, sv.Deployment)
		}
		var files []string
		for p := range rendered {
			if strings.Contains(p, "/"+sv.Deployment+".") || strings.Contains(p, "/"+sv.Deployment+"/") {
				files = append(files, p)
			}
		}
		slices.Sort(files)
		l := fmt.Sprintf("%s: target %s, namespace %s", sv.Deployment, d.Target, d.Namespace)
		if d.Resources != nil {
			l += fmt.Sprintf(", cpu %s, memory %s", d.Resources.CPU, d.Resources.Memory)
		}
		if len(files) > 0 {
			tg = append(tg, l+", rendered "+strings.Join(files, ", "))
		} else {
			noTg = append(noTg, sv.Deployment+" (not rendered yet)")
		}
	}
	c.kind("slos", slos, noSLO, "deployments without SLOs: ", "declare slos for them")
	c.kind("deploy_targets", tg, noTg, "deployments not rendered: ", "apply the specs")
}

// llm is the evidence of served prompts: disclosure, factuality and
// toxicity gates, privacy controls.
func (c *collector) llm() {
	var disc, noDisc, fact, noFact, tox, noTox, priv, noPriv []string
	anyPrompt := false
	for _, sv := range c.served {
		if sv.Kind != "llm" || !strings.HasPrefix(sv.Object, "prompts/") {
			continue
		}
		anyPrompt = true
		name := strings.TrimPrefix(sv.Object, "prompts/")
		p := c.b.Prompts[name]
		d := c.b.Deployments[sv.Deployment]
		switch {
		case d.InteractsWithPeople != nil && !*d.InteractsWithPeople:
			disc = append(disc, sv.Deployment+": declares interacts_with_people: false")
		case p != nil && p.Disclosure != nil && p.Disclosure.Text != "":
			disc = append(disc, fmt.Sprintf("%s: %q", name, p.Disclosure.Text))
		case p != nil && p.Disclosure != nil:
			disc = append(disc, fmt.Sprintf("%s: file %s %s", name, p.Disclosure.File, c.b.Files[p.Disclosure.File]))
		default:
			noDisc = append(noDisc, name)
		}
		if p == nil {
			continue
		}
		scorers := map[string]string{}
		for _, en := range c.gateOf(sv).Evals {
			if e := c.b.Evals[en]; e != nil {
				for _, m := range e.Metrics {
					scorers[m.Scorer] = en + " (dataset " + e.DatasetHash + ")"
				}
			}
		}
		if e, ok := scorers["factuality"]; ok {
			fact = append(fact, name+"@"+sv.Alias+": "+e)
		} else {
			noFact = append(noFact, name+"@"+sv.Alias)
		}
		if e, ok := scorers["toxicity"]; ok {
			tox = append(tox, name+"@"+sv.Alias+": "+e)
		} else {
			noTox = append(noTox, name+"@"+sv.Alias)
		}
		if r := c.b.RAG[p.RAG]; r != nil {
			if r.Classification != "" {
				priv = append(priv, fmt.Sprintf("%s: RAG source %s classified %s, pii %t", name, r.Name, r.Classification, r.PII))
			} else {
				noPriv = append(noPriv, "rag "+r.Name)
			}
		} else {
			priv = append(priv, name+": no retrieval source")
		}
	}
	if !anyPrompt {
		c.vacuous("no prompt is served by this system", "disclosure", "factuality_eval", "toxicity_eval", "privacy_controls")
		return
	}
	c.kind("disclosure", disc, noDisc, "prompts served to people without an AI disclosure: ", "declare prompts.NAME.disclosure: {text} or {file}")
	c.kind("factuality_eval", fact, noFact, "served prompts without a factuality gate: ", "gate them on an eval with a factuality metric")
	c.kind("toxicity_eval", tox, noTox, "served prompts without a toxicity gate: ", "gate them on an eval with a toxicity metric")
	c.kind("privacy_controls", priv, noPriv, "unclassified sources: ", "declare rag.NAME.sources[].classification")
}

// signed is Annex IV 2(g)'s "signed by the responsible persons": evidenced
// only when the report is signed by one of the system's responsible people.
func (c *collector) signed() {
	switch s := c.opts.Signer; {
	case s == "":
		c.set("signed_report", absent, nil, "the report is not signed", "cairn audit report --sign KEY --signer "+firstOr(c.sys.Responsible, "PERSON"))
	case slices.Contains(c.sys.Responsible, s):
		c.set("signed_report", present, []string{fmt.Sprintf("signed by %s (%s), a declared responsible person; key %s", s, c.opts.Now.UTC().Format("2006-01-02"), c.opts.SignerKey)}, "", "")
	default:
		c.set("signed_report", weak, []string{"signed by " + s + ", key " + c.opts.SignerKey}, s+" is not one of the system's responsible people ("+strings.Join(c.sys.Responsible, ", ")+")", "sign with the key of a responsible person, or declare the signer in responsible")
	}
}

func firstOr(xs []string, d string) string {
	if len(xs) > 0 {
		return xs[0]
	}
	return d
}

// waivers lists the declared waivers on the system's objects (its
// deployments, what they serve, the evals gating it, the compliance block)
// with approver, expiry and reason.
func (c *collector) waivers() []string {
	objs := map[string]bool{"compliance": true}
	for _, sv := range c.served {
		objs["deployments/"+sv.Deployment], objs[sv.Object] = true, true
		for _, e := range c.gateOf(sv).Evals {
			objs["evals/"+e] = true
		}
	}
	var out []string
	for _, w := range c.b.Governance.Waivers {
		if objs[w.Target] {
			out = append(out, fmt.Sprintf("waiver of %s on %s, approved by %s, expires %s: %s", w.Policy, w.Target, w.Approver, w.Expires, w.Reason))
		}
	}
	return out
}
