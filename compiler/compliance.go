package compiler

import (
	"fmt"
	"maps"
	"slices"
	"sort"
)

// compliance checks the compliance block against the rest of the specs
// and derives each system's facts: every deployment it names exists, an
// Art 6(3) exemption is claimed only by a listed system that does not
// profile people, every declared file exists inside the repo (hashed, so
// reports can show which version of it they saw).
func (r *resolver) compliance(b *Bundle) {
	c := b.Compliance
	if c == nil {
		return
	}
	if c.Systems == nil {
		c.Systems = map[string]*System{}
	}
	names := make([]string, 0, len(c.Systems))
	for n := range c.Systems {
		names = append(names, n)
	}
	sort.Strings(names)
	owner := map[string]string{} // deployment → the system that claims it
	for _, n := range names {
		s := c.Systems[n]
		s.Name = n
		s.Pos = r.at("compliance", "systems."+n)
		for i, d := range s.Deployments {
			field := fmt.Sprintf("systems.%s.deployments.%d", n, i)
			switch {
			case !ref(r, b.Deployments, "deployments", d, "compliance", field):
			case owner[d] != "":
				r.errf(CodeCompliance, "compliance", field, "deployment %s belongs to system %s already; a deployment is part of one AI system", d, owner[d])
			default:
				owner[d] = n
			}
		}
		if e := s.Exemption63; e != nil {
			field := "systems." + n + ".exemption_6_3"
			switch {
			case s.AnnexIII == "not_listed":
				r.errf(CodeCompliance, "compliance", field, "system %s is not listed in Annex III: it needs no Art 6(3) exemption", n)
			case s.Profiling:
				r.errf(CodeCompliance, "compliance", field, "system %s profiles natural persons: an Annex III system that profiles is always high-risk (Art 6(3), last subparagraph); the exemption is refused", n)
			}
			if err := r.c.fs.hashFile(e.AssessmentFile); err != nil {
				r.fileErr(err, "compliance", field+".assessment_file")
			}
		}
		for field, f := range map[string]string{"instructions_for_use": s.Files.InstructionsForUse, "fria": s.Files.FRIA,
			"post_market_plan": s.Files.PostMarketPlan, "incident_register": s.Files.IncidentRegister} {
			if f == "" {
				continue
			}
			if err := r.c.fs.hashFile(f); err != nil {
				r.fileErr(err, "compliance", "systems."+n+".files."+field)
			}
		}
		s.HighRisk = s.AnnexIII != "not_listed" && (s.Exemption63 == nil || s.Profiling)
	}
	for _, name := range slices.Sorted(maps.Keys(b.Prompts)) {
		if d := b.Prompts[name].Disclosure; d != nil && d.File != "" {
			if err := r.c.fs.hashFile(d.File); err != nil {
				r.fileErr(err, "prompts/"+name, "disclosure.file")
			}
		}
	}
}
