// Package policies evaluates a compiled Bundle against the built-in Rego
// library (policies/lib) and a spec repo's own policies/*.rego, applies the
// repo's waivers and returns the results as diagnostics located in the
// user's files.
package policies

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

//go:embed lib/*.rego lib/*.json
var libFS embed.FS

// builtinPrefix names built-in module files in diagnostics, so they can never
// be confused with a file of the user's repo.
const builtinPrefix = "builtin/"

// source is one Rego file: its name as shown in diagnostics and its text.
type source struct {
	name string
	text string
	test bool // a *_test.rego file
}

// builtinSources returns the embedded library, sorted by name; tests only when asked.
func builtinSources(withTests bool) ([]source, error) {
	entries, err := fs.Glob(libFS, "lib/*.rego")
	if err != nil {
		return nil, err
	}
	sort.Strings(entries)
	var out []source
	for _, e := range entries {
		isTest := strings.HasSuffix(e, "_test.rego")
		if isTest && !withTests {
			continue
		}
		b, err := libFS.ReadFile(e)
		if err != nil {
			return nil, err
		}
		out = append(out, source{name: builtinPrefix + path.Base(e), text: string(b), test: isTest})
	}
	return out, nil
}

// builtinData is the policy data the built-ins read (data.cairn.catalog...).
func builtinData() (map[string]any, error) {
	b, err := libFS.ReadFile("lib/deprecations.json")
	if err != nil {
		return nil, err
	}
	var dep map[string]any
	if err := json.Unmarshal(b, &dep); err != nil {
		return nil, fmt.Errorf("embedded deprecations catalog: %w", err)
	}
	return map[string]any{"cairn": map[string]any{"catalog": map[string]any{"deprecations": dep}}}, nil
}
