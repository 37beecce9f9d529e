package diagfmt

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/cairn-dev/cairn/internal/diag"
)

// GitHub code scanning's ingestion rules: every result has a physical
// location, the run says what its columns count, every rule has a helpUri;
// a byte column after a multi-byte character becomes a code-point column.
func TestSARIFForGitHub(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "cairn.cue"), []byte("package x\nproject: description: \"café\" + 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l := diag.List{
		{Severity: diag.Deny, Code: "owners", Message: "no owners", Object: "models/m", Pos: diag.Position{File: "cairn.cue", Line: 2, Col: 30}},
		{Severity: diag.Error, Code: "E001", Message: "no position at all"},
	}
	var buf bytes.Buffer
	if err := writeSARIF(&buf, l, Options{Root: root, FallbackFile: "cairn.cue"}); err != nil {
		t.Fatal(err)
	}
	var log sarifLog
	if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	run := log.Runs[0]
	if run.ColumnKind != "unicodeCodePoints" {
		t.Errorf("columnKind %q", run.ColumnKind)
	}
	for _, r := range run.Tool.Driver.Rules {
		if r.HelpURI == "" {
			t.Errorf("rule %s has no helpUri", r.ID)
		}
	}
	for _, r := range run.Results {
		if len(r.Locations) == 0 || r.Locations[0].PhysicalLocation == nil || r.Locations[0].PhysicalLocation.ArtifactLocation.URI == "" {
			t.Errorf("result %s has no physical location", r.RuleID)
		}
	}
	// "café" has a two-byte é: byte column 30 is code point 29.
	if got := run.Results[0].Locations[0].PhysicalLocation.Region.StartColumn; got != 29 {
		t.Errorf("column %d, want 29", got)
	}
}

// A rule that names the law it enforces (METADATA related_resources) links
// to it; the others link to their source.
func TestSARIFHelpURIFromMetadata(t *testing.T) {
	l := diag.List{
		{Severity: diag.Deny, Code: "ai_act_fria", Message: "no FRIA", Object: "compliance"},
		{Severity: diag.Deny, Code: "owners", Message: "no owners", Object: "models/m"},
	}
	var buf bytes.Buffer
	rules := []Rule{{ID: "ai_act_fria", Title: "FRIA", HelpURI: "https://eur-lex.europa.eu/eli/reg/2024/1689/oj"}}
	if err := writeSARIF(&buf, l, Options{Rules: rules}); err != nil {
		t.Fatal(err)
	}
	var log sarifLog
	if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range log.Runs[0].Tool.Driver.Rules {
		got[r.ID] = r.HelpURI
	}
	if got["ai_act_fria"] != "https://eur-lex.europa.eu/eli/reg/2024/1689/oj" || got["owners"] != "https://github.com/cairn-dev/cairn/blob/main/policies/lib/owners.rego" {
		t.Errorf("helpUris %v", got)
	}
}
