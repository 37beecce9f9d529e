package data

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/cairn-dev/cairn/limits"
)

type csvReader struct {
	path   string
	f      *os.File
	r      *csv.Reader
	cols   []string
	idx    []int
	nfield int
	rec    []string
	row    int
	err    error
}

func openCSV(path string, columns []string) (Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r := csv.NewReader(newLineGuard(bufio.NewReaderSize(f, 64<<10), path))
	r.ReuseRecord = true
	header, err := r.Read()
	if err == io.EOF {
		f.Close()
		return nil, fmt.Errorf("%s: empty file: expected a header row naming the columns", path)
	}
	var le *LineError
	if errors.As(err, &le) {
		f.Close()
		return nil, le
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: bad header: %w", path, csvErr(err))
	}
	header = append([]string(nil), header...)
	if err := checkHeader(header); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s:1: bad header: %w", path, err)
	}
	cols, idx, err := selectColumns(path, header, columns)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &csvReader{path: path, f: f, r: r, cols: cols, idx: idx, nfield: len(header)}, nil
}

// checkHeader rejects headers that cannot name columns: empty or duplicate
// names, or a first row that is evidently data (every field a number).
func checkHeader(h []string) error {
	if len(h) > 0 {
		h[0] = strings.TrimPrefix(h[0], "\ufeff") // a UTF-8 byte order mark
	}
	seen := make(map[string]int, len(h))
	numeric := 0
	for i, name := range h {
		name = strings.TrimSpace(name)
		h[i] = name
		if name == "" {
			return fmt.Errorf("column %d has an empty name", i+1)
		}
		if j, ok := seen[name]; ok {
			return fmt.Errorf("column %q appears twice (columns %d and %d)", name, j+1, i+1)
		}
		seen[name] = i
		if _, err := strconv.ParseFloat(name, 64); err == nil {
			numeric++
		}
	}
	if numeric == len(h) {
		return fmt.Errorf("the first row %q looks like data, not column names", strings.Join(h, ","))
	}
	return nil
}

func csvErr(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (c *csvReader) Path() string      { return c.path }
func (c *csvReader) Columns() []string { return c.cols }
func (c *csvReader) Row() int          { return c.row }
func (c *csvReader) Err() error        { return c.err }
func (c *csvReader) Close() error      { return c.f.Close() }

func (c *csvReader) Next() bool {
	if c.err != nil {
		return false
	}
	rec, err := c.r.Read()
	if err == io.EOF {
		return false
	}
	c.row++
	if max := limits.Get().Rows; int64(c.row) > max {
		c.err = tooManyRows(c.path, fmt.Sprintf("more than %d rows", max))
		return false
	}
	if err != nil {
		line := 0
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			line = pe.StartLine
		}
		var le *LineError
		if errors.As(err, &le) {
			c.err = le
			return false
		}
		if errors.Is(err, csv.ErrFieldCount) {
			err = fmt.Errorf("ragged row: %d fields, the header has %d", len(rec), c.nfield)
		} else {
			err = csvErr(err)
		}
		c.err = &RowError{Path: c.path, Row: c.row, Line: line, Err: err}
		return false
	}
	c.rec = rec
	return true
}

func (c *csvReader) Value(i int) Value {
	s := c.rec[c.idx[i]]
	if nullStrings[s] {
		return Value{}
	}
	return Value{Kind: KindString, Str: s}
}

// Line is the file line of the current row (for messages).
func (c *csvReader) line() int {
	l, _ := c.r.FieldPos(0)
	return l
}
