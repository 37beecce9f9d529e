// Package junittest checks JUnit reports against the schema Jenkins
// validates them with: the xunit plugin's junit-10.xsd (embedded here, MIT,
// copied from ../shared/data/schemas/junit-10.xsd, jenkinsci/xunit-plugin at
// 8c515de2), with xmllint (Debian libxml2-utils, installed by `make tools`).
package junittest

import (
	_ "embed"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/cairn-dev/cairn/internal/tooltest"
)

//go:embed junit-10.xsd
var schema []byte

// XMLLint returns xmllint's path, skipping the test when it is missing —
// or failing it when CI requires the real tools (CAIRN_REQUIRE_TOOLS=1).
func XMLLint(t testing.TB) string {
	t.Helper()
	return tooltest.Find(t, "make tools: apt-get install --no-install-recommends libxml2-utils", "xmllint")
}

// Valid fails t unless doc is valid against Jenkins' JUnit schema.
func Valid(t testing.TB, name string, doc []byte) {
	t.Helper()
	if out, err := Validate(XMLLint(t), doc); err != nil {
		t.Errorf("%s: Jenkins' junit-10.xsd rejects it: %v\n%s", name, err, out)
	}
}

// Validate runs xmllint --schema junit-10.xsd on doc; the error is non-nil
// when the document is invalid (xmllint's output says why).
func Validate(xmllint string, doc []byte) ([]byte, error) {
	dir, err := os.MkdirTemp("", "junittest")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	xsd, report := filepath.Join(dir, "junit-10.xsd"), filepath.Join(dir, "report.xml")
	if err := os.WriteFile(xsd, schema, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(report, doc, 0o644); err != nil {
		return nil, err
	}
	return exec.Command(xmllint, "--noout", "--schema", xsd, report).CombinedOutput()
}
