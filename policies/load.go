package policies

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/cairn-dev/cairn/internal/diag"
	"github.com/cairn-dev/cairn/limits"
)

// TeamDir is where a spec repo keeps its own policies, relative to its root.
const TeamDir = "policies"

// Options configure which modules an Engine or a test run loads.
type Options struct {
	// Dir is the spec repo root. Its policies/*.rego are loaded (and, for
	// Test, its policies/*_test.rego). Empty loads no team policies.
	Dir string
	// NoBuiltins leaves the built-in library out.
	NoBuiltins bool
	// Modules are extra Rego modules, file name → text, loaded after the
	// team's (for embedding callers and tests).
	Modules map[string]string
	// CacheDir, when set, keeps each policy's last results by the hash of
	// its Rego and of the input it reads (cache.go); CacheSalt names the
	// cairn build, whose built-ins the results also depend on.
	CacheDir, CacheSalt string
}

// teamSources reads dir/policies/*.rego, sorted, named "policies/<file>".
func teamSources(dir string, withTests bool) ([]source, error) {
	if dir == "" {
		return nil, nil
	}
	matches, err := filepath.Glob(filepath.Join(dir, TeamDir, "*.rego"))
	if err != nil {
		return nil, err
	}
	sort.Strings(matches)
	var out []source
	for _, m := range matches {
		isTest := strings.HasSuffix(m, "_test.rego")
		if isTest && !withTests {
			continue
		}
		if st, err := os.Stat(m); err == nil && st.Size() > limits.Get().FileBytes {
			e := &limits.Exceeded{What: fmt.Sprintf("team policy %s is %s", TeamDir+"/"+filepath.Base(m), limits.Bytes(st.Size())), Flag: "max-file-size", Max: limits.Bytes(limits.Get().FileBytes)}
			return nil, e
		}
		b, err := os.ReadFile(m)
		if err != nil {
			return nil, fmt.Errorf("reading team policy: %w", err)
		}
		out = append(out, source{name: TeamDir + "/" + filepath.Base(m), text: string(b), test: isTest})
	}
	return out, nil
}

// secretFindings are the credentials written into team policies (a token in
// a rule, an allow-list holding a key), each a no_secrets denial at its file
// and line: the policy files are in the repo like the specs, and a waiver
// cannot cover them. Built-in modules are cairn's and are not scanned.
func secretFindings(srcs []source) diag.List {
	var out diag.List
	for _, s := range srcs {
		if strings.HasPrefix(s.name, builtinPrefix) {
			continue
		}
		for i, line := range strings.Split(s.text, "\n") {
			if kind, col := diag.SecretKind(line); kind != "" {
				out = append(out, diag.Diagnostic{Severity: diag.Deny, Code: "no_secrets", Title: "No secrets in specs",
					Message: fmt.Sprintf("team policy %s line %d contains what looks like %s; read it from the environment, never from the repo", s.name, i+1, kind),
					Pos:     diag.Position{File: s.name, Line: i + 1, Col: col}})
			}
		}
	}
	return out
}

// sources collects every module the options name, in a fixed order.
func (o Options) sources(withTests bool) ([]source, error) {
	var all []source
	if !o.NoBuiltins {
		b, err := builtinSources(withTests)
		if err != nil {
			return nil, err
		}
		all = append(all, b...)
	}
	t, err := teamSources(o.Dir, withTests)
	if err != nil {
		return nil, err
	}
	all = append(all, t...)
	names := make([]string, 0, len(o.Modules))
	for n := range o.Modules {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		isTest := strings.HasSuffix(n, "_test.rego")
		if isTest && !withTests {
			continue
		}
		all = append(all, source{name: filepath.ToSlash(n), text: o.Modules[n], test: isTest})
	}
	return all, nil
}

// parse parses every source as Rego v1 with METADATA annotations; syntax
// errors come back as diagnostics at file:line:col.
func parse(srcs []source) (map[string]*ast.Module, diag.List) {
	mods := make(map[string]*ast.Module, len(srcs))
	var errs diag.List
	for _, s := range srcs {
		m, err := ast.ParseModuleWithOpts(s.name, s.text, ast.ParserOptions{
			RegoVersion:       ast.RegoV1,
			ProcessAnnotation: true,
		})
		if err != nil {
			errs = append(errs, regoDiags(err, s.name)...)
			continue
		}
		mods[s.name] = m
	}
	return mods, errs
}

// capabilities are this OPA's built-ins less those that reach the network or
// the host, and less time.now_ns: a policy reads the time from input.now so
// that a run is reproducible. A policy calling one fails to compile.
func capabilities() *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	kept := caps.Builtins[:0:0]
	for _, b := range caps.Builtins {
		if removedBuiltin(b.Name) {
			continue
		}
		kept = append(kept, b)
	}
	caps.Builtins = append(kept, matchStringsDecl)
	caps.AllowNet = []string{}
	return caps
}

func removedBuiltin(name string) bool {
	return name == "http.send" || name == "opa.runtime" || name == "time.now_ns" ||
		strings.HasPrefix(name, "net.")
}

func newCompiler() *ast.Compiler {
	return ast.NewCompiler().
		WithCapabilities(capabilities()).
		WithDefaultRegoVersion(ast.RegoV1)
}

// regoDiags turns OPA parse, compile and evaluation errors into diagnostics
// at their file:line:col. fallbackFile is used when an error has no location.
func regoDiags(err error, fallbackFile string) diag.List {
	var out diag.List
	var astErrs ast.Errors
	var astErr *ast.Error
	switch {
	case errors.As(err, &astErrs):
		for _, e := range astErrs {
			out = append(out, astDiag(e, fallbackFile))
		}
	case errors.As(err, &astErr):
		out = append(out, astDiag(astErr, fallbackFile))
	default:
		out = append(out, diag.Diagnostic{Severity: diag.Error, Code: "rego_error", Message: err.Error(), Pos: diag.Position{File: fallbackFile}})
	}
	return out
}

func astDiag(e *ast.Error, fallbackFile string) diag.Diagnostic {
	d := diag.Diagnostic{Severity: diag.Error, Code: e.Code, Message: e.Message, Pos: diag.Position{File: fallbackFile}}
	if e.Location != nil {
		d.Pos = locPos(e.Location, fallbackFile)
	}
	return d
}

func locPos(l *ast.Location, fallbackFile string) diag.Position {
	f := l.File
	if f == "" {
		f = fallbackFile
	}
	return diag.Position{File: f, Line: l.Row, Col: l.Col}
}
