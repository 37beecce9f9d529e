package compiler

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
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

// IsKind reports whether s is a kind of named object ("models", …): a
// top-level map from names to objects, each with its source position.
func IsKind(s string) bool { return isKind(s) }

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
	file *ast.File // nil once its units are taken, if it is independent
	src  []byte    // the file's bytes, for the compile cache's key
	// What parseFiles reads off the syntax before it lets it go.
	ix     *posIndex     // where its fields are written
	pkg    string        // its package clause's name
	pkgPos diag.Position // and where
	units  []unit        // its objects, when indep
	indep  bool          // see independent
}

// parseFiles reads and parses every spec file, reporting unreadable, huge,
// non-UTF-8 and malformed files at their location.
// With a cache directory, an independent file whose bytes are as they were
// is not parsed again (parsecache.go).
func parseFiles(r *repoFS, rels []string, opts Options) ([]parsed, diag.List) {
	var store *parseStore
	if opts.CacheDir != "" {
		store = readParseStore(filepath.Join(opts.CacheDir, "parse.bin"))
	}
	keys := make([][32]byte, len(rels))
	hits := make([]bool, len(rels))
	// Files parse independently: spread them over the cores, keep the order.
	results := make([]parsed, len(rels))
	errs := make([]diag.List, len(rels))
	onCores(len(rels), func(i int) {
		if store == nil {
			results[i], errs[i] = parseFile(r, rels[i])
		} else {
			var src []byte
			if src, errs[i] = readSpec(r, rels[i]); len(errs[i]) > 0 {
				return
			}
			keys[i] = parseKey(opts.CacheSalt, rels[i], src)
			if results[i], hits[i] = store.get(keys[i], rels[i], src); hits[i] {
				return
			}
			results[i], errs[i] = parseSrc(rels[i], src)
		}
		if len(errs[i]) == 0 {
			results[i].digest()
		}
	})
	if store != nil {
		for i := range rels {
			switch {
			case hits[i]:
				store.used[keys[i]] = true
			case len(errs[i]) == 0:
				store.put(keys[i], &results[i])
			}
		}
		opts.background(store.save)
	}
	var out []parsed
	var ds diag.List
	for i := range rels {
		if len(errs[i]) > 0 {
			ds = append(ds, errs[i]...)
			continue
		}
		out = append(out, results[i])
	}
	if len(ds) > 0 {
		return nil, ds
	}
	// One CUE package: files may omit the clause, but named ones must agree.
	pkg, pkgFile := "", ""
	for _, p := range out {
		name := p.pkg
		if name == "" {
			continue
		}
		if pkg == "" {
			pkg, pkgFile = name, p.rel
			continue
		}
		if name != pkg {
			ds = append(ds, diag.Diagnostic{Severity: diag.Error, Code: CodePackage,
				Message: fmt.Sprintf("package %q differs from package %q in %s; all spec files form one package", name, pkg, pkgFile),
				Pos:     p.pkgPos})
		}
	}
	return out, ds
}

// digest reads what the compiler needs off a file's syntax: its field
// positions, its package and, when it is independent, its objects. The
// syntax of an independent file is then let go (a parsed file is about
// ten times its bytes, and at 10,000 models the syntax of every file held
// through the schema evaluation was most of the peak); evaluate parses it
// again if the repo must be evaluated whole.
func (p *parsed) digest() {
	p.ix = newPosIndex()
	p.ix.add(p.file)
	p.pkg = p.file.PackageName()
	for _, d := range p.file.Decls {
		if pc, ok := d.(*ast.Package); ok {
			p.pkgPos = posOf(pc.Pos())
		}
	}
	if p.units, p.indep = independent(*p); p.indep {
		p.file = nil
	}
}

// parseFile reads and parses one spec file.
func parseFile(r *repoFS, rel string) (parsed, diag.List) {
	src, ds := readSpec(r, rel)
	if len(ds) > 0 {
		return parsed{}, ds
	}
	return parseSrc(rel, src)
}

// readSpec reads one spec file, reporting unreadable, huge and non-UTF-8
// files at their location.
func readSpec(r *repoFS, rel string) ([]byte, diag.List) {
	var ds diag.List
	real, err := r.resolve(rel)
	if err != nil {
		fe := err.(*fileError)
		return nil, append(ds, diag.Diagnostic{Severity: diag.Error, Code: fe.code, Message: fe.msg, Pos: diag.Position{File: rel}})
	}
	st, err := os.Stat(real)
	if err != nil {
		return nil, append(ds, diag.Diagnostic{Severity: diag.Error, Code: CodeUnreadable, Message: "cannot read spec file: " + stripRoot(err.Error(), r.root), Pos: diag.Position{File: rel}})
	}
	if st.Size() > maxSpecFile {
		return nil, append(ds, diag.Diagnostic{Severity: diag.Error, Code: CodeFileTooLarge,
			Message: fmt.Sprintf("spec file is %d bytes; the limit is %d (split it into several files under specs/)", st.Size(), maxSpecFile),
			Pos:     diag.Position{File: rel}})
	}
	src, err := os.ReadFile(real)
	if err != nil {
		return nil, append(ds, diag.Diagnostic{Severity: diag.Error, Code: CodeUnreadable, Message: "cannot read spec file: " + stripRoot(err.Error(), r.root), Pos: diag.Position{File: rel}})
	}
	if !utf8.Valid(src) {
		line, col := invalidUTF8At(src)
		return nil, append(ds, diag.Diagnostic{Severity: diag.Error, Code: CodeNotUTF8, Message: "spec file is not valid UTF-8",
			Pos: diag.Position{File: rel, Line: line, Col: col}})
	}
	return src, nil
}

// parseSrc parses one spec file's bytes.
func parseSrc(rel string, src []byte) (parsed, diag.List) {
	var ds diag.List
	f, err := parser.ParseFile(rel, src, parser.ParseComments)
	if err != nil {
		for _, e := range errors.Errors(err) {
			format, args := e.Msg()
			ds = append(ds, diag.Diagnostic{Severity: diag.Error, Code: CodeSyntax,
				Message: "syntax error: " + fmt.Sprintf(format, args...), Pos: posOf(e.Position())})
		}
		return parsed{}, ds
	}
	var imp *ast.ImportSpec
	for is := range f.ImportSpecs() {
		if imp == nil {
			imp = is
		}
	}
	if imp != nil {
		return parsed{}, append(ds, diag.Diagnostic{Severity: diag.Error, Code: CodeImport,
			Message: "spec files cannot import packages; the cairn schema is applied without an import",
			Pos:     posOf(imp.Pos())})
	}
	return parsed{rel: rel, file: f, src: src}, nil
}

// posIndex records where each field path is written in the user's files, from
// the syntax: cheap, and exact even where CUE merges values from several files.
type posIndex struct {
	pos map[string]diag.Position // one file's: "models/fraud.aliases.prod" → first place written
	// fields is the repo's, over its files' pos (merge).
	fields *FieldPositions
	// top lists the top-level labels as written, in order: a label such as
	// "models/x" or "a.b" cannot be told from a nested path by its key.
	top []topLabel
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

type topLabel struct {
	name string
	pos  diag.Position
}

func newPosIndex() *posIndex {
	return &posIndex{pos: map[string]diag.Position{}, defined: map[string][]diag.Position{}}
}

// merge adds o's positions after ix's (files in order: the first written wins).
// repoIndex is the repo's index over its files' indexes, in order.
func repoIndex(files []parsed) *posIndex {
	ix := &posIndex{defined: map[string][]diag.Position{}, fields: &FieldPositions{objects: map[string][]int{}}}
	for _, f := range files {
		ix.merge(f.ix)
	}
	return ix
}

// merge adds a file's index to the repo's: its positions by reference
// (FieldPositions), its objects and top-level labels by copy.
func (ix *posIndex) merge(o *posIndex) {
	i := len(ix.fields.files)
	ix.fields.files = append(ix.fields.files, o.pos)
	for obj, where := range o.defined {
		ix.defined[obj] = append(ix.defined[obj], where...)
		ix.fields.objects[obj] = append(ix.fields.objects[obj], i)
	}
	ix.top = append(ix.top, o.top...)
}

func (ix *posIndex) add(f *ast.File) {
	ix.walk(f.Decls, "", 0, "")
}

// walk records field positions. key is the dotted path so far, depth its
// length and kind its first element (paths are built as strings: this runs
// over every field of every file).
func (ix *posIndex) walk(decls []ast.Decl, key string, depth int, kind string) {
	for _, d := range decls {
		switch x := d.(type) {
		case *ast.Field:
			name, ok := labelName(x.Label)
			if !ok {
				continue
			}
			// Keys are Bundle.FieldPos's: "kind/name" for an object, then dots.
			k, knd := name, name
			switch {
			case depth == 1 && isKind(kind):
				k, knd = kind+"/"+name, kind
			case depth > 0:
				k, knd = key+"."+name, kind
			}
			if _, seen := ix.pos[k]; !seen {
				ix.pos[k] = posOf(x.Label.Pos())
			}
			if depth == 0 {
				ix.top = append(ix.top, topLabel{name, posOf(x.Label.Pos())})
			}
			if depth == 1 && isKind(knd) {
				obj := k
				fp := posOf(x.Label.Pos())
				known := ix.defined[obj]
				dup := false
				for _, w := range known {
					if w.File == fp.File {
						dup = true
					}
				}
				if !dup {
					ix.defined[obj] = append(known, fp)
				}
			}
			ix.value(x.Value, k, depth+1, knd)
		case *ast.EmbedDecl:
			ix.value(x.Expr, key, depth, kind)
		}
	}
}

func (ix *posIndex) value(v ast.Expr, key string, depth int, kind string) {
	switch x := v.(type) {
	case *ast.StructLit:
		ix.walk(x.Elts, key, depth, kind)
	case *ast.ListLit:
		for i, e := range x.Elts {
			k := key + "." + strconv.Itoa(i)
			if _, seen := ix.pos[k]; !seen {
				ix.pos[k] = posOf(e.Pos())
			}
			ix.value(e, k, depth+1, kind)
		}
	case *ast.BinaryExpr: // a & b: both sides may carry fields
		ix.value(x.X, key, depth, kind)
		ix.value(x.Y, key, depth, kind)
	}
}

// lookup returns the position of the longest prefix of path that the user wrote.
func (ix *posIndex) lookup(path []string) diag.Position {
	for n := len(path); n > 0; n-- {
		k := strings.Join(path[:n], ".")
		if n >= 2 && isKind(path[0]) {
			k = path[0] + "/" + k[len(path[0])+1:]
		}
		if p, ok := ix.fields.Get(k); ok {
			return p
		}
	}
	return diag.Position{}
}
