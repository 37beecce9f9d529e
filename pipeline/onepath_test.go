package pipeline

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"testing"
)

// stages are the calls only this package makes: a command that made one of
// them itself would be a second pipeline, where a gate could be skipped.
var stages = map[string]bool{
	"compiler.Compile": true, "policies.New": true, "reconciler.BuildPlan": true, "reconciler.Apply": true,
	"reconciler.PlanAndApply": true, "targets.Render": true, "targets.RenderWithNotes": true,
}

// TestCommandsCallThePipeline fails when a command that can change or
// serve something (check, plan, apply, render, pr, reconcile and the
// reconcile loop) calls a stage directly instead of through this package.
func TestCommandsCallThePipeline(t *testing.T) {
	files := []string{"check.go", "plan.go", "apply.go", "render.go", "reconcile.go", "audit.go"}
	var paths []string
	for _, f := range files {
		paths = append(paths, filepath.Join("..", "cmd", "cairn", f))
	}
	paths = append(paths, filepath.Join("..", "gitops", "reconcile.go"))
	for _, p := range paths {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); ok && stages[x.Name+"."+sel.Sel.Name] {
				t.Errorf("%s: calls %s.%s itself; go through the pipeline package", fset.Position(call.Pos()), x.Name, sel.Sel.Name)
			}
			return true
		})
	}
	// pr compiles the pull request's base only to compare eval results; the
	// head goes through the pipeline.
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join("..", "cmd", "cairn", "pr.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Name.Name == "prEvalDeltas" {
			continue
		}
		ast.Inspect(fd, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if x, ok := sel.X.(*ast.Ident); ok && stages[x.Name+"."+sel.Sel.Name] {
					t.Errorf("%s: pr calls %s.%s itself", fset.Position(sel.Pos()), x.Name, sel.Sel.Name)
				}
			}
			return true
		})
	}
}
