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
