package compiler

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"

	"github.com/cairn-dev/cairn/internal/diag"
)

// kinds are the top-level fields whose members are named objects.
var kinds = []string{"providers", "features", "models", "prompts", "rag", "evals", "slos", "deployments"}

func isKind(s string) bool {
	for _, k := range kinds {
		if k == s {
			return true
		}
	}
	return false
}

// specFiles lists the repo's spec files: *.cue at the root and anywhere below specs/.
func specFiles(root string) ([]string, error) {
	var files []string
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".cue") {
			files = append(files, e.Name())
		}
	}
	specDir := filepath.Join(root, "specs")
	if st, err := os.Stat(specDir); err == nil && st.IsDir() {
		err := filepath.WalkDir(specDir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(d.Name(), ".cue") {
				rel, _ := filepath.Rel(root, p)
				files = append(files, filepath.ToSlash(rel))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(files) // the order files are listed in never changes the result
	return files, nil
}

func posOf(p token.Pos) diag.Position {
	if !p.IsValid() {
		return diag.Position{}
	}
	return diag.Position{File: p.Filename(), Line: p.Line(), Col: p.Column()}
}

// parsed is one spec file's syntax.
type parsed struct {
	rel  string
	file *ast.File
}

// parseFiles reads and parses every spec file, reporting unreadable, huge,
// non-UTF-8 and malformed files at their location.
func parseFiles(r *repoFS, rels []string) ([]parsed, diag.List) {
	var out []parsed
	var ds diag.List
	for _, rel := range rels {
		real, err := r.resolve(rel)
		if err != nil {
			fe := err.(*fileError)
			ds = append(ds, diag.Diagnostic{Severity: diag.Error, Code: fe.code, Message: fe.msg, Pos: diag.Position{File: rel}})
			continue
		}
		st, err := os.Stat(real)
		if err != nil {
			ds = append(ds, diag.Diagnostic{Severity: diag.Error, Code: CodeUnreadable, Message: "cannot read spec file: " + stripRoot(err.Error(), r.root), Pos: diag.Position{File: rel}})
			continue
		}
		if st.Size() > maxSpecFile {
			ds = append(ds, diag.Diagnostic{Severity: diag.Error, Code: CodeFileTooLarge,
				Message: fmt.Sprintf("spec file is %d bytes; the limit is %d (split it into several files under specs/)", st.Size(), maxSpecFile),
				Pos:     diag.Position{File: rel}})
			continue
		}
		src, err := os.ReadFile(real)
		if err != nil {
			ds = append(ds, diag.Diagnostic{Severity: diag.Error, Code: CodeUnreadable, Message: "cannot read spec file: " + stripRoot(err.Error(), r.root), Pos: diag.Position{File: rel}})
			continue
		}
		if !utf8.Valid(src) {
			line, col := invalidUTF8At(src)
			ds = append(ds, diag.Diagnostic{Severity: diag.Error, Code: CodeNotUTF8, Message: "spec file is not valid UTF-8",
				Pos: diag.Position{File: rel, Line: line, Col: col}})
			continue
		}
		f, err := parser.ParseFile(rel, src, parser.ParseComments)
		if err != nil {
			for _, e := range errors.Errors(err) {
				format, args := e.Msg()
				ds = append(ds, diag.Diagnostic{Severity: diag.Error, Code: CodeSyntax,
					Message: "syntax error: " + fmt.Sprintf(format, args...), Pos: posOf(e.Position())})
			}
			continue
		}
		var imp *ast.ImportSpec
		for is := range f.ImportSpecs() {
			if imp == nil {
				imp = is
			}
		}
		if imp != nil {
			ds = append(ds, diag.Diagnostic{Severity: diag.Error, Code: CodeImport,
				Message: "spec files cannot import packages; the cairn schema is applied without an import",
				Pos:     posOf(imp.Pos())})
			continue
		}
		out = append(out, parsed{rel, f})
	}
	if len(ds) > 0 {
		return nil, ds
	}
	// One CUE package: files may omit the clause, but named ones must agree.
	pkg, pkgFile := "", ""
	for _, p := range out {
		name := p.file.PackageName()
		if name == "" {
			continue
		}
		if pkg == "" {
			pkg, pkgFile = name, p.rel
			continue
		}
		if name != pkg {
			var pos diag.Position
			for _, d := range p.file.Decls {
				if pc, ok := d.(*ast.Package); ok {
					pos = posOf(pc.Pos())
				}
			}
			ds = append(ds, diag.Diagnostic{Severity: diag.Error, Code: CodePackage,
				Message: fmt.Sprintf("package %q differs from package %q in %s; all spec files form one package", name, pkg, pkgFile),
				Pos:     pos})
		}
	}
	return out, ds
}

// posIndex records where each field path is written in the user's files, from
// the syntax: cheap, and exact even where CUE merges values from several files.
type posIndex struct {
	pos map[string]diag.Position // "models.fraud.aliases.prod" → first place written
	// defined records, for each object "kind/name", every file that declares it.
	defined map[string][]diag.Position
}

func labelName(l ast.Label) (string, bool) {
	name, _, err := ast.LabelName(l)
	if err != nil {
		return "", false
	}
	return name, true
}

func (ix *posIndex) add(f *ast.File) {
	ix.walk(f.Decls, nil, f)
}

func (ix *posIndex) walk(decls []ast.Decl, prefix []string, f *ast.File) {
	for _, d := range decls {
		switch x := d.(type) {
		case *ast.Field:
			name, ok := labelName(x.Label)
			if !ok {
				continue
			}
			p := append(append([]string(nil), prefix...), name)
			key := strings.Join(p, ".")
			if _, seen := ix.pos[key]; !seen {
				ix.pos[key] = posOf(x.Label.Pos())
			}
			if len(p) == 2 && isKind(p[0]) {
				obj := p[0] + "/" + p[1]
				fp := posOf(x.Label.Pos())
				known := ix.defined[obj]
				dup := false
				for _, k := range known {
					if k.File == fp.File {
						dup = true
					}
				}
				if !dup {
					ix.defined[obj] = append(known, fp)
				}
			}
			ix.value(x.Value, p, f)
		case *ast.EmbedDecl:
			ix.value(x.Expr, prefix, f)
		}
	}
}

func (ix *posIndex) value(v ast.Expr, p []string, f *ast.File) {
	switch x := v.(type) {
	case *ast.StructLit:
		ix.walk(x.Elts, p, f)
	case *ast.ListLit:
		for i, e := range x.Elts {
			q := append(append([]string(nil), p...), fmt.Sprint(i))
			key := strings.Join(q, ".")
			if _, seen := ix.pos[key]; !seen {
				ix.pos[key] = posOf(e.Pos())
			}
			ix.value(e, q, f)
		}
	case *ast.BinaryExpr: // a & b: both sides may carry fields
		ix.value(x.X, p, f)
		ix.value(x.Y, p, f)
	}
}

// lookup returns the position of the longest prefix of path that the user wrote.
func (ix *posIndex) lookup(path []string) diag.Position {
	for n := len(path); n > 0; n-- {
		if p, ok := ix.pos[strings.Join(path[:n], ".")]; ok {
			return p
		}
	}
	return diag.Position{}
}
