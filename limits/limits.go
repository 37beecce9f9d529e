// Package limits bounds what cairn reads from files it did not write: spec
// files, the files specs reference (datasets, templates, RAG documents,
// policy data) and data samples. A hostile or mistaken file fails early, in
// little memory, with a short message naming the limit and how to raise it.
//
// The limits are process configuration, like GOMAXPROCS: the CLI sets them
// once from its flags (--max-file-size, --max-line-length, --max-rows,
// --max-document-size) or the CAIRN_MAX_* environment variables before it
// runs a command, and every reader asks Get, so no path reads more than the
// user allowed.
package limits

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/dustin/go-humanize"
)

// Limits are the bounds on input. Zero fields mean the default.
type Limits struct {
	// FileBytes bounds a file a spec references: an eval dataset, a prompt
	// template, a policy data file, a RAG document as the compiler hashes it.
	FileBytes int64
	// DocumentBytes bounds one RAG document as `rag build` loads and splits it.
	DocumentBytes int64
	// LineBytes bounds one line of a text data file (CSV, JSONL): a file
	// without newlines — a binary blob, a file of NUL bytes — fails at once
	// instead of being buffered whole.
	LineBytes int64
	// Rows bounds the rows of one data file or dataset.
	Rows int64
}

// Default are the limits unless the user sets others.
var Default = Limits{
	FileBytes:     64 << 20,
	DocumentBytes: 10 << 20,
	LineBytes:     4 << 20,
	Rows:          100_000_000,
}

var current atomic.Pointer[Limits]

// Get returns the limits in force, each zero field filled from Default.
func Get() Limits {
	l := Default
	if p := current.Load(); p != nil {
		l = p.withDefaults()
	}
	return l
}

// Set replaces the limits in force and returns the previous ones (tests
// restore them).
func Set(l Limits) Limits {
	prev := Get()
	l = l.withDefaults()
	current.Store(&l)
	return prev
}

func (l Limits) withDefaults() Limits {
	if l.FileBytes <= 0 {
		l.FileBytes = Default.FileBytes
	}
	if l.DocumentBytes <= 0 {
		l.DocumentBytes = Default.DocumentBytes
	}
	if l.LineBytes <= 0 {
		l.LineBytes = Default.LineBytes
	}
	if l.Rows <= 0 {
		l.Rows = Default.Rows
	}
	return l
}

// Setting names one limit: its flag, its environment variable, whether it
// is a size, and where its value lives.
type Setting struct {
	Flag  string // without dashes
	Env   string
	Size  bool // a byte size ("64MiB"); else a count ("1000000", "1e6")
	Usage string
	Field func(*Limits) *int64
}

// Settings are the configurable limits, in the order help lists them.
var Settings = []Setting{
	{"max-file-size", "CAIRN_MAX_FILE_SIZE", true, "largest file a spec may reference (dataset, template, policy data)", func(l *Limits) *int64 { return &l.FileBytes }},
	{"max-document-size", "CAIRN_MAX_DOCUMENT_SIZE", true, "largest RAG document rag build loads", func(l *Limits) *int64 { return &l.DocumentBytes }},
	{"max-line-length", "CAIRN_MAX_LINE_LENGTH", true, "longest line of a CSV or JSONL data file", func(l *Limits) *int64 { return &l.LineBytes }},
	{"max-rows", "CAIRN_MAX_ROWS", false, "most rows of one data file or dataset", func(l *Limits) *int64 { return &l.Rows }},
}

// Parse reads a setting's value: a size such as "64MiB", "10MB" or "4096",
// or a count such as "1000000" or "1e6". Zero and negative values are errors.
func (s Setting) Parse(v string) (int64, error) {
	v = strings.TrimSpace(v)
	if s.Size {
		n, err := humanize.ParseBytes(v)
		if err != nil || n == 0 || n > 1<<62 {
			return 0, fmt.Errorf("%q: want a positive size such as 64MiB, 10MB or 4096", short(v))
		}
		return int64(n), nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(v, 64)
		if ferr != nil || f != float64(int64(f)) {
			return 0, fmt.Errorf("%q: want a positive whole number such as 1000000 or 1e6", short(v))
		}
		n = int64(f)
	}
	if n <= 0 {
		return 0, fmt.Errorf("%q: want a positive whole number such as 1000000 or 1e6", short(v))
	}
	return n, nil
}

// Format shows a value of this setting as a user would write it.
func (s Setting) Format(n int64) string {
	if s.Size {
		return humanize.IBytes(uint64(n))
	}
	return strconv.FormatInt(n, 10)
}

// Bytes shows a size for messages ("64 MiB").
func Bytes(n int64) string { return humanize.IBytes(uint64(n)) }

func envOf(flag string) string {
	for _, s := range Settings {
		if s.Flag == flag {
			return s.Env
		}
	}
	return ""
}

func short(v string) string {
	if len(v) > 40 {
		return v[:40] + "…"
	}
	return v
}

// Exceeded is the error a reader returns when input breaks a limit: what
// broke it and the flag that raises it.
type Exceeded struct {
	What string // `file "evals/x.jsonl" is 80 MiB`, `file "x.csv": line 3 is too long`
	Flag string // "max-file-size"
	Max  string // "64 MiB"
}

func (e *Exceeded) Error() string {
	return fmt.Sprintf("%s (limit %s; raise it with --%s or $%s)", e.What, e.Max, e.Flag, envOf(e.Flag))
}

// ReadFile reads a whole file the user named (a flag's file, not one a
// spec references) within the file-size limit.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	max := Get().FileBytes
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, &Exceeded{What: fmt.Sprintf("file %q is larger", path), Flag: "max-file-size", Max: Bytes(max)}
	}
	return data, nil
}
