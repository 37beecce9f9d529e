package compiler

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/cairn-dev/cairn/internal/diag"
	"github.com/cairn-dev/cairn/limits"
)

// maxSpecFile bounds a spec file: specs are code, and 4 MiB of CUE is far
// past any real one. Referenced files are data, bounded by limits.Get().
const maxSpecFile = 4 << 20

// tooLarge is the error for a referenced file over the file-size limit.
func tooLarge(rel string, size int64) *fileError {
	l := limits.Get()
	e := &limits.Exceeded{What: fmt.Sprintf("file %q is %s", rel, limits.Bytes(size)), Flag: "max-file-size", Max: limits.Bytes(l.FileBytes)}
	return &fileError{CodeFileTooLarge, e.Error()}
}

// repoFS reads files strictly inside a spec repo: no absolute paths, no "..",
// no symlink that points outside.
type repoFS struct {
	root   string // absolute, symlinks resolved
	hashes map[string]string
	// secrets are credentials found in referenced data files (datasets, RAG
	// documents), by file, line and kind; never the secret itself.
	secrets []SecretFinding
	// pre holds referenced files read ahead, side by side (prefetch), by
	// clean path: their bytes or why they could not be opened.
	pre     map[string]prefetched
	preDone chan struct{} // closed when pre is filled
	// dirs holds directories already resolved inside the root: a file in
	// one that is not itself a symlink needs one lstat, not one per
	// element of its path (thousands of datasets and templates per check).
	dirs sync.Map // clean rel dir → real path
}

type prefetched struct {
	b   []byte
	err error
}

// prefetch reads the files rels name on all cores, for readText and scanLines
// to take in turn: resolve checks objects one after another, and reading a
// thousand small datasets and templates one at a time was most of its time.
//
// The reads run in the background: peek, take and done wait for them, so
// the walk over the objects that do not read files overlaps them.
func (r *repoFS) prefetch(rels []string) {
	rels = slices.Compact(slices.Sorted(slices.Values(rels)))
	done := make(chan struct{})
	r.preDone = done
	go func() {
		defer close(done)
		r.read(rels)
	}()
}

// prefetched waits for the reads prefetch started.
func (r *repoFS) prefetched() {
	if r.preDone != nil {
		<-r.preDone
	}
}

// done drops what prefetch read and nothing took.
func (r *repoFS) done() {
	r.prefetched()
	r.pre = nil
}

func (r *repoFS) read(rels []string) {
	got := make([]prefetched, len(rels))
	onCores(len(rels), func(i int) {
		f, err := r.open(rels[i])
		if err != nil {
			got[i].err = err
			return
		}
		got[i].b, err = io.ReadAll(f)
		f.Close()
		if err != nil {
			got[i] = prefetched{err: &fileError{CodeUnreadable, fmt.Sprintf("file %q: %v", rels[i], err)}}
		}
	})
	r.pre = map[string]prefetched{}
	for i, rel := range rels {
		r.pre[rel] = got[i]
	}
}

// peek returns a prefetched file's bytes, leaving them for take.
func (r *repoFS) peek(rel string) (b []byte, err error, ok bool) {
	r.prefetched()
	p, ok := r.pre[rel]
	return p.b, p.err, ok
}

// take returns a prefetched file's bytes once (ok is false if it was not).
func (r *repoFS) take(rel string) (b []byte, err error, ok bool) {
	r.prefetched()
	p, ok := r.pre[rel]
	if ok {
		delete(r.pre, rel)
	}
	return p.b, p.err, ok
}

// scanSecrets records a credential found on one line of a data file.
func (r *repoFS) scanSecrets(rel string, line int, text []byte) {
	if kind, col := diag.SecretKind(string(text)); kind != "" {
		r.secrets = append(r.secrets, SecretFinding{File: path.Clean(filepath.ToSlash(rel)), Line: line, Col: col, Kind: kind})
	}
}

func newRepoFS(dir string) (*repoFS, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, err
	}
	return &repoFS{root: real, hashes: map[string]string{}}, nil
}

// fileError is a problem with a referenced file; the caller places it at the
// spec field that names the file.
type fileError struct {
	code string
	msg  string
}

func (e *fileError) Error() string { return e.msg }

// resolve checks that rel names something inside the repo and returns its real path.
func (r *repoFS) resolve(rel string) (string, error) {
	if rel == "" {
		return "", &fileError{CodeFileMissing, "empty file path"}
	}
	if filepath.IsAbs(rel) || strings.HasPrefix(rel, "/") || (len(rel) > 1 && rel[1] == ':') {
		return "", &fileError{CodeEscape, fmt.Sprintf("path %q is absolute; file references are relative to the spec repo root", rel)}
	}
	clean := path.Clean(filepath.ToSlash(rel))
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", &fileError{CodeEscape, fmt.Sprintf("path %q leaves the spec repo", rel)}
	}
	full := filepath.Join(r.root, filepath.FromSlash(clean))
	dir, base := path.Split(clean)
	if d, ok := r.dirs.Load(dir); ok && base != "" && base != "." {
		if st, err := os.Lstat(filepath.Join(d.(string), base)); err == nil && st.Mode()&fs.ModeSymlink == 0 {
			return filepath.Join(d.(string), base), nil
		}
	}
	real, err := filepath.EvalSymlinks(full)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", &fileError{CodeFileMissing, fmt.Sprintf("file %q does not exist", rel)}
		}
		return "", &fileError{CodeUnreadable, fmt.Sprintf("file %q: %v", rel, stripRoot(err.Error(), r.root))}
	}
	if real != r.root && !strings.HasPrefix(real, r.root+string(filepath.Separator)) {
		return "", &fileError{CodeEscape, fmt.Sprintf("path %q is a symlink that leaves the spec repo", rel)}
	}
	if base != "" && base != "." {
		// real's directory is the real path of clean's: record it, if it
		// is inside the root too.
		if d := filepath.Dir(real); d == r.root || strings.HasPrefix(d, r.root+string(filepath.Separator)) {
			if st, err := os.Lstat(full); err == nil && st.Mode()&fs.ModeSymlink == 0 {
				r.dirs.Store(dir, d)
			}
		}
	}
	return real, nil
}

func stripRoot(s, root string) string {
	return strings.ReplaceAll(s, root+string(filepath.Separator), "")
}

// readText reads a referenced text file: inside the repo, not too large, UTF-8, not binary.
func (r *repoFS) readText(rel string) ([]byte, error) {
	b, err, ok := r.take(rel)
	if !ok {
		f, err := r.open(rel)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if b, err = io.ReadAll(f); err != nil {
			return nil, &fileError{CodeUnreadable, fmt.Sprintf("file %q: %v", rel, err)}
		}
	} else if err != nil {
		return nil, err
	}
	if bytes.IndexByte(b[:min(len(b), 8192)], 0) >= 0 {
		return nil, &fileError{CodeBinary, fmt.Sprintf("file %q is binary; a text file is expected here", rel)}
	}
	if !utf8.Valid(b) {
		line, col := invalidUTF8At(b)
		return nil, &fileError{CodeNotUTF8, fmt.Sprintf("file %q is not valid UTF-8 (first bad byte at line %d, column %d)", rel, line, col)}
	}
	r.record(rel, b)
	return b, nil
}

func (r *repoFS) record(rel string, b []byte) {
	sum := sha256.Sum256(b)
	r.hashes[path.Clean(filepath.ToSlash(rel))] = "sha256:" + hex.EncodeToString(sum[:])
}

// hashFile records the hash of a file referenced as data (e.g. a RAG document, possibly binary).
func (r *repoFS) hashFile(rel string) error {
	real, err := r.resolve(rel)
	if err != nil {
		return err
	}
	st, err := os.Stat(real)
	if err != nil {
		return &fileError{CodeUnreadable, fmt.Sprintf("file %q: %v", rel, stripRoot(err.Error(), r.root))}
	}
	if st.Size() > limits.Get().FileBytes {
		return tooLarge(rel, st.Size())
	}
	b, err := os.ReadFile(real)
	if err != nil {
		return &fileError{CodeUnreadable, fmt.Sprintf("file %q: %v", rel, stripRoot(err.Error(), r.root))}
	}
	// Text documents must be text: a non-UTF-8 or NUL-holding one would
	// pass here and stop apply half done. (PDFs and other binary formats
	// are read by their loaders.)
	if textDocument(rel) {
		if i := bytes.IndexByte(b, 0); i >= 0 {
			line := 1 + bytes.Count(b[:i], []byte("\n"))
			return &fileError{CodeBinary, fmt.Sprintf("file %q is binary (a NUL byte on line %d); a text document is expected", rel, line)}
		}
		if !utf8.Valid(b) {
			line, col := invalidUTF8At(b)
			return &fileError{CodeNotUTF8, fmt.Sprintf("file %q is not valid UTF-8 (first bad byte at line %d, column %d)", rel, line, col)}
		}
		for i, l := range bytes.Split(b, []byte("\n")) {
			r.scanSecrets(rel, i+1, l)
		}
	}
	r.record(rel, b)
	return nil
}

// textDocument reports whether a RAG document is a text format by its name.
func textDocument(rel string) bool {
	switch strings.ToLower(path.Ext(rel)) {
	case ".md", ".markdown", ".txt", ".text", ".html", ".htm", ".csv", ".json", ".jsonl", ".rst", ".adoc":
		return true
	}
	return false
}

// open opens a referenced text file for streaming: inside the repo, not
// too large. The caller checks content line by line (scanLines) so a large
// dataset is never held in memory whole.
func (r *repoFS) open(rel string) (*os.File, error) {
	real, err := r.resolve(rel)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(real)
	if err != nil {
		return nil, &fileError{CodeUnreadable, fmt.Sprintf("file %q: %v", rel, stripRoot(err.Error(), r.root))}
	}
	if st.IsDir() {
		return nil, &fileError{CodeFileMissing, fmt.Sprintf("%q is a directory, not a file", rel)}
	}
	if st.Size() > limits.Get().FileBytes {
		return nil, tooLarge(rel, st.Size())
	}
	f, err := os.Open(real)
	if err != nil {
		return nil, &fileError{CodeUnreadable, fmt.Sprintf("file %q: %v", rel, stripRoot(err.Error(), r.root))}
	}
	return f, nil
}

// scanLines streams a text file line by line, hashing it as it goes and
// rejecting binary and non-UTF-8 content at its line and column; fn sees each
// line (without its newline) and its number. The hash is recorded at the end.
func (r *repoFS) scanLines(rel string, fn func(line int, text []byte)) error {
	var in io.Reader
	size := 64 * 1024
	if b, err, ok := r.take(rel); ok {
		if err != nil {
			return err
		}
		in, size = bytes.NewReader(b), min(size, len(b)+16)
	} else {
		f, err := r.open(rel)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	h := sha256.New()
	br := bufio.NewReaderSize(io.TeeReader(in, h), size)
	lim := limits.Get()
	over := func(line int, what, flag, max string) error {
		e := &limits.Exceeded{What: fmt.Sprintf("file %q: line %d %s", rel, line, what), Flag: flag, Max: max}
		return &fileError{CodeFileTooLarge, e.Error()}
	}
	for line := 1; ; line++ {
		text, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull { // a long line: gather it whole, up to the limit
			long := append([]byte(nil), text...)
			for err == bufio.ErrBufferFull && int64(len(long)) <= lim.LineBytes {
				text, err = br.ReadSlice('\n')
				long = append(long, text...)
			}
			text = long
		}
		if int64(len(bytes.TrimRight(text, "\r\n"))) > lim.LineBytes {
			return over(line, "is too long", "max-line-length", limits.Bytes(lim.LineBytes))
		}
		if len(text) > 0 && int64(line) > lim.Rows {
			return over(line, "is past the most lines a data file may have", "max-rows", strconv.FormatInt(lim.Rows, 10))
		}
		if len(text) > 0 {
			if bytes.IndexByte(text, 0) >= 0 {
				return &fileError{CodeBinary, fmt.Sprintf("file %q is binary (a NUL byte on line %d); a text file is expected here", rel, line)}
			}
			if !utf8.Valid(text) {
				_, col := invalidUTF8At(text)
				return &fileError{CodeNotUTF8, fmt.Sprintf("file %q is not valid UTF-8 (first bad byte at line %d, column %d)", rel, line, col)}
			}
			text = bytes.TrimRight(text, "\r\n")
			r.scanSecrets(rel, line, text)
			fn(line, text)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return &fileError{CodeUnreadable, fmt.Sprintf("file %q: %v", rel, err)}
		}
	}
	r.hashes[path.Clean(filepath.ToSlash(rel))] = "sha256:" + hex.EncodeToString(h.Sum(nil))
	return nil
}

func invalidUTF8At(b []byte) (line, col int) {
	line, col = 1, 1
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return line, col
		}
		if r == '\n' {
			line++
			col = 1
		} else {
			col++
		}
		i += n
	}
	return line, col
}

func hasMeta(p string) bool { return strings.ContainsAny(p, "*?[") }

// globToRegexp turns a slash-separated glob with ** into an anchored regexp.
func globToRegexp(g string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(g); i++ {
		c := g[i]
		switch {
		case c == '*' && i+1 < len(g) && g[i+1] == '*':
			i++
			if i+1 < len(g) && g[i+1] == '/' {
				i++
				b.WriteString("(?:.*/)?")
			} else {
				b.WriteString(".*")
			}
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		case c == '[':
			j := strings.IndexByte(g[i:], ']')
			if j < 0 {
				return nil, fmt.Errorf("unclosed [ in glob %q", g)
			}
			b.WriteString(g[i : i+j+1])
			i += j
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// glob returns the repo-relative regular files a path, directory or glob names, sorted.
func (r *repoFS) glob(pattern string) ([]string, error) {
	p := path.Clean(filepath.ToSlash(pattern))
	if !hasMeta(p) {
		real, err := r.resolve(p)
		if err != nil {
			return nil, err
		}
		st, err := os.Stat(real)
		if err != nil {
			return nil, &fileError{CodeUnreadable, err.Error()}
		}
		if !st.IsDir() {
			return []string{p}, nil
		}
		p += "/**"
	}
	// Walk from the longest prefix without metacharacters.
	segs := strings.Split(p, "/")
	var prefix []string
	for _, s := range segs {
		if hasMeta(s) {
			break
		}
		prefix = append(prefix, s)
	}
	base := strings.Join(prefix, "/")
	if base == "" {
		base = "."
	}
	if _, err := r.resolve(base); err != nil {
		if fe, ok := err.(*fileError); ok && fe.code == CodeFileMissing {
			return nil, &fileError{CodeGlobEmpty, fmt.Sprintf("%q matches no file: directory %q does not exist", pattern, base)}
		}
		return nil, err
	}
	re, err := globToRegexp(p)
	if err != nil {
		return nil, &fileError{CodeSchema, err.Error()}
	}
	var out []string
	err = filepath.WalkDir(filepath.Join(r.root, filepath.FromSlash(base)), func(full string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(r.root, full)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if d.Name() == ".git" || d.Name() == ".cairn" {
				return filepath.SkipDir
			}
			return nil
		}
		if !re.MatchString(rel) {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			if _, err := r.resolve(rel); err != nil {
				return err
			}
		} else if !d.Type().IsRegular() {
			return nil
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		if fe, ok := err.(*fileError); ok {
			return nil, fe
		}
		return nil, &fileError{CodeUnreadable, stripRoot(err.Error(), r.root)}
	}
	if len(out) == 0 {
		return nil, &fileError{CodeGlobEmpty, fmt.Sprintf("%q matches no file", pattern)}
	}
	sort.Strings(out)
	return out, nil
}

// onCores calls f(i) for i in [0, n) on as many goroutines as there are
// cores, in order of i, and returns when all are done.
func onCores(n int, f func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(runtime.GOMAXPROCS(0), n); w++ {
		wg.Go(func() {
			for i := range next {
				f(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}
