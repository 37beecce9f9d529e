package policies

import (
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/tester"
	"github.com/open-policy-agent/opa/v1/types"
)

// matchStringsDecl is cairn's one custom built-in:
// cairn.match_strings(x, pattern) returns [path, string] for every string
// leaf of x that matches the regular expression, paths as walk gives them.
// It does in Go what `walk` + `regex.match` do in Rego, which on a large
// bundle was most of a check's time (walk builds a path for every node).
var matchStringsDecl = &ast.Builtin{
	Name: "cairn.match_strings",
	Decl: types.NewFunction(types.Args(types.A, types.S), types.NewArray(nil, types.NewArray(nil, types.A))),
}

var patternCache sync.Map // pattern → *matcher

func compiled(pattern string) (*matcher, error) {
	if m, ok := patternCache.Load(pattern); ok {
		return m.(*matcher), nil
	}
	m, err := newMatcher(pattern)
	if err != nil {
		return nil, err
	}
	patternCache.Store(pattern, m)
	return m, nil
}

func matchStrings(_ rego.BuiltinContext, x, pattern *ast.Term) (*ast.Term, error) {
	p, ok := pattern.Value.(ast.String)
	if !ok {
		return nil, ast.NewError(ast.TypeErr, pattern.Location, "cairn.match_strings: the pattern must be a string")
	}
	re, err := compiled(string(p))
	if err != nil {
		return nil, err
	}
	var out []*ast.Term
	var path []*ast.Term
	var visit func(v ast.Value)
	visit = func(v ast.Value) {
		switch v := v.(type) {
		case ast.String:
			if re.MatchString(string(v)) {
				out = append(out, ast.ArrayTerm(ast.ArrayTerm(append([]*ast.Term(nil), path...)...), ast.StringTerm(string(v))))
			}
		case ast.Object:
			v.Foreach(func(k, e *ast.Term) {
				path = append(path, k)
				visit(e.Value)
				path = path[:len(path)-1]
			})
		case *ast.Array:
			for i := 0; i < v.Len(); i++ {
				path = append(path, ast.InternedTerm(i))
				visit(v.Elem(i).Value)
				path = path[:len(path)-1]
			}
		case ast.Set:
			v.Foreach(func(e *ast.Term) {
				path = append(path, e)
				visit(e.Value)
				path = path[:len(path)-1]
			})
		}
	}
	visit(x.Value)
	return ast.ArrayTerm(out...), nil
}

var matchStringsFunc = rego.Function2(&rego.Function{Name: matchStringsDecl.Name, Decl: matchStringsDecl.Decl, Memoize: true}, matchStrings)

// customBuiltins are handed to every query and to the test runner.
func customBuiltins() []*tester.Builtin {
	return []*tester.Builtin{{Decl: matchStringsDecl, Func: matchStringsFunc}}
}
