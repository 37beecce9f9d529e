// Package tooltest finds the real tools tests run (promtool, xmllint, cue,
// chromium, python3): a missing one skips the test, or fails it when CI
// requires the real tools (CAIRN_REQUIRE_TOOLS=1). `make tools` installs them.
package tooltest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Find returns the path of the first of names on PATH (or in $GOPATH/bin,
// where `go install` puts cue). install says how to get it, for the message.
func Find(t testing.TB, install string, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if gopath, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, n := range names {
			p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", n)
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if os.Getenv("CAIRN_REQUIRE_TOOLS") == "1" {
		t.Fatalf("%s is required (CAIRN_REQUIRE_TOOLS=1) but not found: %s", names[0], install)
	}
	t.Skipf("%s not installed (%s)", names[0], install)
	return ""
}
