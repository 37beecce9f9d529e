// Package compliance maps the evidence cairn holds — the specs, the
// registry, eval runs, the audit log — to the rows of the EU AI Act, NIST AI
// RMF and ISO/IEC 42001, per declared AI system, with a status, the
// evidence and each gap as a finding with its fix. The mapping is data (the
// crosswalk, versioned and printed in every report), not code.
package compliance

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
)

//go:embed crosswalk.json
var crosswalkJSON []byte

// Crosswalk is the versioned mapping from framework rows to evidence kinds.
type Crosswalk struct {
	Version    string               `json:"version"`
	Frameworks map[string]Framework `json:"frameworks"`
	DateSets   map[string]DateSet   `json:"date_sets"`
	Kinds      map[string]string    `json:"evidence_kinds"` // the closed list, with what each means
	Files      map[string]string    `json:"files"`          // declared file → its spec field
	Rows       []CrosswalkRow       `json:"rows"`
	Titles     map[string]string    `json:"titles"` // NIST and ISO identifiers → our short titles
}

// Framework names a framework and the version of it the crosswalk follows.
type Framework struct {
	Title   string `json:"title"`
	Version string `json:"version"`
}

// DateSet is when the AI Act's obligations apply under one reading.
type DateSet struct {
	Title            string `json:"title"`
	HighRiskFrom     string `json:"high_risk_from"`
	TransparencyFrom string `json:"transparency_from"`
}

// CrosswalkRow is one EU AI Act row (or, with Framework set, a row only
// that framework has) and the evidence that decides its status.
type CrosswalkRow struct {
	ID    string   `json:"id"`
	Ref   string   `json:"ref"`
	Title string   `json:"title"`
	Roles []string `json:"roles"` // provider, deployer
	// Framework is set for rows of one framework only (NIST AI 600-1's
	// generative-AI risks); empty rows are the AI Act's, mapped onward.
	Framework string `json:"framework,omitempty"`
	// Evidenced are the kinds that together make the row evidenced;
	// Partial the kinds enough for partial.
	Evidenced []string `json:"evidenced,omitempty"`
	Partial   []string `json:"partial,omitempty"`
	// Manual rows are judged by people; File names a declared document
	// (manual, shown with its hash and last commit).
	Manual bool   `json:"manual,omitempty"`
	File   string `json:"file,omitempty"`
	// FIManual: for a financial institution, covered by its
	// financial-services governance (Art 17(4)).
	FIManual bool `json:"fi_manual,omitempty"`
	// Transparency rows apply from the transparency date (Art 50), not
	// the high-risk date, and to systems that are not high-risk too.
	Transparency bool `json:"transparency,omitempty"`
	// When limits the row: product_component, annex_4, annex_5bc, llm.
	When string   `json:"when,omitempty"`
	NIST []string `json:"nist"`
	ISO  []string `json:"iso"`
}

// LoadCrosswalk returns the embedded crosswalk, checked: every evidence
// kind a row names is in the closed list, every file is a declared file,
// every NIST and ISO identifier has a title.
func LoadCrosswalk() (*Crosswalk, error) {
	var c Crosswalk
	if err := json.Unmarshal(crosswalkJSON, &c); err != nil {
		return nil, fmt.Errorf("compliance: crosswalk.json: %w", err)
	}
	return &c, c.check()
}

func (c *Crosswalk) check() error {
	seen := map[string]bool{}
	for _, r := range c.Rows {
		if seen[r.ID] {
			return fmt.Errorf("compliance: crosswalk row %s twice", r.ID)
		}
		seen[r.ID] = true
		for _, k := range slices.Concat(r.Evidenced, r.Partial) {
			if _, ok := c.Kinds[k]; !ok {
				return fmt.Errorf("compliance: crosswalk row %s: evidence kind %q is not in the closed list", r.ID, k)
			}
		}
		if _, ok := c.Files[r.File]; r.File != "" && !ok {
			return fmt.Errorf("compliance: crosswalk row %s: unknown file %q", r.ID, r.File)
		}
		for _, id := range slices.Concat(r.NIST, r.ISO) {
			if c.Titles[id] == "" {
				return fmt.Errorf("compliance: crosswalk row %s: %s has no title", r.ID, id)
			}
		}
		if r.Framework != "" && c.Frameworks[r.Framework].Title == "" {
			return fmt.Errorf("compliance: crosswalk row %s: unknown framework %q", r.ID, r.Framework)
		}
		if !r.Manual && r.File == "" && len(r.Evidenced) == 0 {
			return fmt.Errorf("compliance: crosswalk row %s: neither manual nor evidenced by anything", r.ID)
		}
	}
	return nil
}

// Frameworks are the identifiers reports accept.
var Frameworks = []string{"eu-ai-act", "nist-ai-rmf", "iso-42001"}
