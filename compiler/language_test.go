package compiler

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

// internals are what a message must never show a user: CUE's own terms,
// Go type names and raw regular expressions. Messages speak the spec
// language: field paths and values as the user wrote them.
var internals = []struct {
	what string
	re   *regexp.Regexp
}{
	{"a CUE definition", regexp.MustCompile(`#[A-Z][A-Za-z]+\b`)},
	{"CUE bottom", regexp.MustCompile(`_\|_`)},
	{"a CUE internal term", regexp.MustCompile(`(?i)\b(incomplete value|conflicting values|disjunction|unification|structural cycle|cue: )`)},
	{"a Go type name", regexp.MustCompile(`\*?\b(compiler|diag|json|yaml|cue|ast)\.[A-Z]\w+|\bmap\[string\]|\[\]string\b|\binterface \{\}|\bfloat64\b|\bint64\b`)},
	{"a raw regular expression", regexp.MustCompile(`\^\[|\]\{\d|\\[dws]\b|\(\?[imsU]+\)|=~`)},
}

// TestMessagesSpeakTheSpecLanguage runs every bad spec of the catalog and
// asserts that no diagnostic shows CUE internals, Go type names or raw
// regular expressions.
func TestMessagesSpeakTheSpecLanguage(t *testing.T) {
	files, err := filepath.Glob("../testdata/compiler/bad/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatal(err)
	}
	for _, file := range files {
		a, err := txtar.ParseFile(file)
		if err != nil {
			t.Fatal(err)
		}
		_, ds := Compile(writeArchive(t, a), Options{})
		for _, d := range ds {
			for _, in := range internals {
				if m := in.re.FindString(d.Message); m != "" {
					t.Errorf("%s: %s shows %s (%q): %s", filepath.Base(file), d.Code, in.what, m, strings.TrimSpace(d.Message))
				}
			}
		}
	}
}
