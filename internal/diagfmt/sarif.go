package diagfmt

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/cairn-dev/cairn/internal/diag"
)

// SARIF 2.1.0, the subset cairn writes. Field names follow the spec.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool       sarifTool     `json:"tool"`
	ColumnKind string        `json:"columnKind"`
	Results    []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID               string        `json:"id"`
	Name             string        `json:"name,omitempty"`
	ShortDescription *sarifMessage `json:"shortDescription,omitempty"`
	FullDescription  *sarifMessage `json:"fullDescription,omitempty"`
	HelpURI          string        `json:"helpUri"`
}

type sarifResult struct {
	RuleID       string             `json:"ruleId"`
	RuleIndex    int                `json:"ruleIndex"`
	Level        string             `json:"level"`
	Message      sarifMessage       `json:"message"`
	Locations    []sarifLocation    `json:"locations,omitempty"`
	Suppressions []sarifSuppression `json:"suppressions,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn,omitempty"`
}

type sarifLogical struct {
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind,omitempty"`
}

type sarifSuppression struct {
	Kind          string `json:"kind"`
	Status        string `json:"status"`
	Justification string `json:"justification,omitempty"`
}

const sarifSchemaURI = "https://json.schemastore.org/sarif-2.1.0.json"

func sarifLevel(s diag.Severity) string {
	switch s {
	case diag.Error, diag.Deny:
		return "error"
	case diag.Warn:
		return "warning"
	}
	return "note" // waived: reported, but suppressed
}

func writeSARIF(w io.Writer, l diag.List, opts Options) error {
	rs := rules(l, opts)
	index := map[string]int{}
	driver := sarifDriver{Name: "cairn", Version: opts.ToolVersion, InformationURI: "https://github.com/cairn-dev/cairn", Rules: []sarifRule{}}
	for i, r := range rs {
		index[r.ID] = i
		sr := sarifRule{ID: r.ID, HelpURI: helpURI(r.ID)}
		if r.HelpURI != "" {
			sr.HelpURI = r.HelpURI
		}
		if r.Title != "" {
			sr.ShortDescription = &sarifMessage{Text: r.Title}
		}
		if r.Description != "" {
			sr.FullDescription = &sarifMessage{Text: r.Description}
		}
		driver.Rules = append(driver.Rules, sr)
	}
	run := sarifRun{Tool: sarifTool{Driver: driver}, ColumnKind: "unicodeCodePoints", Results: []sarifResult{}}
	lines := lineCache{root: opts.Root}
	for _, d := range l {
		res := sarifResult{RuleID: d.Code, RuleIndex: index[d.Code], Level: sarifLevel(d.Severity), Message: sarifMessage{Text: d.Message}}
		var loc sarifLocation
		if inRepo(d.Pos) {
			loc.PhysicalLocation = &sarifPhysical{ArtifactLocation: sarifArtifact{URI: uriPath(opts.PathPrefix + d.Pos.File)}}
			if d.Pos.Line > 0 {
				loc.PhysicalLocation.Region = &sarifRegion{StartLine: d.Pos.Line}
				if d.Pos.Col > 0 {
					loc.PhysicalLocation.Region.StartColumn = lines.codePointColumn(d.Pos)
				}
			}
		} else if opts.FallbackFile != "" {
			// Every result needs a location for code scanning: the repo's main
			// spec file, with the object named logically below.
			loc.PhysicalLocation = &sarifPhysical{ArtifactLocation: sarifArtifact{URI: uriPath(opts.PathPrefix + opts.FallbackFile)},
				Region: &sarifRegion{StartLine: 1}}
		}
		if d.Object != "" {
			loc.LogicalLocations = []sarifLogical{{FullyQualifiedName: where(d), Kind: "object"}}
		}
		if loc.PhysicalLocation != nil || loc.LogicalLocations != nil {
			res.Locations = []sarifLocation{loc}
		}
		if d.Severity == diag.Waived {
			res.Suppressions = []sarifSuppression{{Kind: "external", Status: "accepted", Justification: d.Waiver}}
		}
		run.Results = append(run.Results, res)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Schema: sarifSchemaURI, Version: "2.1.0", Runs: []sarifRun{run}})
}

// uriPath escapes a relative file path as a URI reference (spaces and the like).
func uriPath(p string) string {
	r := strings.NewReplacer("%", "%25", " ", "%20", "#", "%23", "?", "%3F")
	return r.Replace(p)
}

// helpURI links a rule to where it is defined: a built-in policy's Rego, or
// the catalog of compiler codes.
func helpURI(id string) string {
	const repo = "https://github.com/cairn-dev/cairn/blob/main/"
	if len(id) == 4 && id[0] == 'E' {
		return repo + "compiler/codes.go"
	}
	return repo + "policies/lib/" + id + ".rego"
}

// lineCache reads spec files once to turn byte columns into code points.
type lineCache struct {
	root  string
	files map[string][]string
}

func (c *lineCache) codePointColumn(p diag.Position) int {
	if c.root == "" {
		return p.Col
	}
	if c.files == nil {
		c.files = map[string][]string{}
	}
	ls, ok := c.files[p.File]
	if !ok {
		data, err := os.ReadFile(filepath.Join(c.root, filepath.FromSlash(p.File)))
		if err == nil && len(data) <= 4<<20 {
			ls = strings.Split(string(data), "\n")
		}
		c.files[p.File] = ls
	}
	if p.Line < 1 || p.Line > len(ls) || p.Col-1 > len(ls[p.Line-1]) {
		return p.Col
	}
	return utf8.RuneCountInString(ls[p.Line-1][:p.Col-1]) + 1
}
