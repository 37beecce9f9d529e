package data

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/cairn-dev/cairn/internal/diag"
)

// Reader streams the rows of a sample file, one at a time, holding only a
// bounded buffer: memory does not grow with the number of rows.
//
//	r, err := data.Open("sample.parquet", []string{"amount", "country"})
//	for r.Next() { v := r.Value(0) ... }
//	if err := r.Err(); err != nil { ... }
type Reader interface {
	// Path is the file being read, for messages.
	Path() string
	// Columns are the selected columns; Value(i) reads Columns()[i].
	Columns() []string
	// Next advances to the next row; false at the end or on error (see Err).
	Next() bool
	// Row is the 1-based number of the current data row (the header is not a row).
	Row() int
	// Value returns column i of the current row. Valid until the next call to Next.
	Value(i int) Value
	// Err is the first error met, naming the file and row.
	Err() error
	Close() error
}

// RowError is a malformed row: the file, the data row and (for CSV) the line.
type RowError struct {
	Path string
	Row  int // 1-based data row
	Line int // 1-based line in a text file, 0 when not applicable
	Err  error
}

func (e *RowError) Error() string {
	// Values from the file are quoted in Err; a huge one is cut to a prefix.
	if e.Line > 0 {
		return diag.Shorten(fmt.Sprintf("%s:%d: row %d: %v", e.Path, e.Line, e.Row, e.Err))
	}
	return diag.Shorten(fmt.Sprintf("%s: row %d: %v", e.Path, e.Row, e.Err))
}

func (e *RowError) Unwrap() error { return e.Err }

// Format is a sample file format.
type Format string

const (
	CSV     Format = "csv"
	Parquet Format = "parquet"
)

// FormatOf picks the format from the file extension.
func FormatOf(path string) (Format, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return CSV, nil
	case ".parquet", ".pq":
		return Parquet, nil
	}
	return "", fmt.Errorf("%s: unknown data format (want .csv or .parquet)", path)
}

// Open opens a CSV or Parquet sample, selecting the named columns (all of
// them, in file order, when columns is nil). A missing column is an error
// that lists the columns the file has.
func Open(path string, columns []string) (Reader, error) {
	f, err := FormatOf(path)
	if err != nil {
		return nil, err
	}
	if f == CSV {
		return openCSV(path, columns)
	}
	return openParquet(path, columns)
}

// selectColumns maps the wanted columns to their indices in have.
func selectColumns(path string, have, want []string) ([]string, []int, error) {
	if want == nil {
		idx := make([]int, len(have))
		for i := range have {
			idx[i] = i
		}
		return append([]string(nil), have...), idx, nil
	}
	pos := make(map[string]int, len(have))
	for i, h := range have {
		pos[h] = i
	}
	idx := make([]int, len(want))
	var missing []string
	for i, w := range want {
		j, ok := pos[w]
		if !ok {
			missing = append(missing, w)
			continue
		}
		idx[i] = j
	}
	if len(missing) > 0 {
		return nil, nil, fmt.Errorf("%s: column %s not found (the file has: %s)", path,
			quoteJoin(missing), strings.Join(have, ", "))
	}
	return append([]string(nil), want...), idx, nil
}

func quoteJoin(s []string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = fmt.Sprintf("%q", x)
	}
	return strings.Join(q, ", ")
}

// Fingerprint identifies the exact bytes a result was computed on.
type Fingerprint struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"` // "sha256:<hex>"
	Bytes  int64  `json:"bytes"`
}

// FingerprintFile hashes a file (streaming).
func FingerprintFile(path string) (Fingerprint, error) {
	f, err := os.Open(path)
	if err != nil {
		return Fingerprint{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return Fingerprint{}, fmt.Errorf("%s: %w", path, err)
	}
	return Fingerprint{Path: filepath.ToSlash(path), SHA256: "sha256:" + hex.EncodeToString(h.Sum(nil)), Bytes: n}, nil
}

// rowErr builds a RowError for the reader's current row.
func rowErr(r Reader, err error) error {
	e := &RowError{Path: r.Path(), Row: r.Row(), Err: err}
	if l, ok := r.(interface{ line() int }); ok {
		e.Line = l.line()
	}
	return e
}
