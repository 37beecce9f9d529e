package data

import (
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding"
)

// This file is the fast path under Validate and Drift: instead of a row at a
// time as boxed Values, each column is streamed as typed chunks (one Parquet
// page, or csvChunk rows of a CSV file). Parquet columns are independent, so
// they are decoded in parallel, one column per worker; memory is one page
// per worker, whatever the row count.

// chunk is a run of consecutive rows of one column. Non-null values are
// packed; defs marks which rows hold them.
type chunk struct {
	path  string
	row0  int    // 0-based index of the first row in the file
	n     int    // rows in the chunk
	defs  []byte // nil: no nulls; else row i is null when defs[i] < maxDef
	max   byte   // maxDef
	lines []int  // CSV: the file line of each row, for messages
	kind  Kind   // kind of the packed values: Int/Time → i64, Float → f64, String → sdata/soffs, otherwise vals
	i64   []int64
	f64   []float64
	sdata []byte
	soffs []uint32 // value j is sdata[soffs[j]:soffs[j+1]]
	vals  []Value
}

func (c *chunk) null(i int) bool { return c.defs != nil && c.defs[i] < c.max }

func (c *chunk) nvals() int {
	switch c.kind {
	case KindInt, KindTime:
		return len(c.i64)
	case KindFloat:
		return len(c.f64)
	case KindString:
		return max(len(c.soffs)-1, 0)
	}
	return len(c.vals)
}

func (c *chunk) bytesAt(j int) []byte { return c.sdata[c.soffs[j]:c.soffs[j+1]] }

// value boxes packed value j (for the rare paths: messages, coercions).
func (c *chunk) value(j int) Value {
	switch c.kind {
	case KindInt, KindTime:
		return Value{Kind: c.kind, Int: c.i64[j]}
	case KindFloat:
		return Value{Kind: KindFloat, Float: c.f64[j]}
	case KindString:
		return Value{Kind: KindString, Str: string(c.bytesAt(j))}
	}
	return c.vals[j]
}

// rowErr is a RowError for row i of the chunk.
func (c *chunk) rowErr(i int, err error) *RowError {
	e := &RowError{Path: c.path, Row: c.row0 + i + 1, Err: err}
	if c.lines != nil {
		e.Line = c.lines[i]
	}
	return e
}

// rowOf maps packed value j back to its row in the chunk.
func (c *chunk) rowOf(j int) int {
	if c.defs == nil {
		return j
	}
	for i := range c.n {
		if !c.null(i) {
			if j == 0 {
				return i
			}
			j--
		}
	}
	return c.n - 1
}

// numbers returns the packed values coerced to a numeric dtype as float64
// (timestamps in Unix seconds), converting into *buf when needed. bad is the
// index of the first value that does not coerce, or -1.
func (c *chunk) numbers(dtype string, buf *[]float64) (xs []float64, bad int) {
	if c.kind == KindFloat && dtype == "float" {
		for j, x := range c.f64 {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, j
			}
		}
		return c.f64, -1
	}
	b := (*buf)[:0]
	defer func() { *buf = b[:0] }()
	switch {
	case c.kind == KindFloat && dtype == "int":
		for j, x := range c.f64 {
			if x != math.Trunc(x) || math.Abs(x) >= 1<<53 {
				return nil, j
			}
			b = append(b, x)
		}
	case c.kind == KindInt && (dtype == "int" || dtype == "float"):
		for _, x := range c.i64 {
			b = append(b, float64(x))
		}
	case c.kind == KindTime && dtype == "timestamp":
		for _, x := range c.i64 {
			b = append(b, float64(x)/1e9)
		}
	default:
		for j := range c.nvals() {
			v, err := Coerce(c.value(j), dtype)
			if err != nil {
				return nil, j
			}
			x, _ := v.Number()
			b = append(b, x)
		}
	}
	return b, -1
}

// sink consumes the chunks of one column in row order. An error should be a
// *RowError (from chunk.rowErr) so that the earliest row can be reported.
type sink func(*chunk) error

// columnSource streams selected columns of a sample to one sink per column.
type columnSource interface {
	columns() []string
	// scan feeds every column to its sink and returns the number of rows.
	// With several errors the one at the earliest row (then column) wins, as
	// a row-by-row reader would have met it first.
	scan(sinks []sink) (rows int, err error)
	Close() error
}

// openColumns opens a sample for column scanning.
func openColumns(path string, columns []string) (columnSource, error) {
	r, err := Open(path, columns)
	if err != nil {
		return nil, err
	}
	return columnsOf(r), nil
}

// columnsOf scans an open Reader by columns: Parquet readers that have not
// been advanced yet use the typed, parallel path; others go row by row.
func columnsOf(r Reader) columnSource {
	if p, ok := r.(*pqReader); ok && p.row == 0 && p.err == nil && !forceRowScan {
		return p
	}
	return &rowColumns{r: r}
}

// forceRowScan makes tests compare the typed Parquet path with the row path.
var forceRowScan bool

// firstErr keeps the error at the earliest (row, column).
type firstErr struct {
	mu       sync.Mutex
	err      error
	row, col int
	minRow   atomic.Int64 // earliest failing row so far; workers stop past it
}

func newFirstErr() *firstErr {
	f := &firstErr{}
	f.minRow.Store(math.MaxInt64)
	return f
}

func (f *firstErr) add(col int, err error) {
	row := math.MaxInt
	var re *RowError
	if errors.As(err, &re) {
		row = re.Row
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil || row < f.row || (row == f.row && col < f.col) {
		f.err, f.row, f.col = err, row, col
		if int64(row) < f.minRow.Load() {
			f.minRow.Store(int64(row))
		}
	}
}

// past reports whether a chunk starting at 0-based row0 cannot hold an
// earlier error than the one already found.
func (f *firstErr) past(row0 int) bool { return int64(row0+1) > f.minRow.Load() }

// --- Parquet -----------------------------------------------------------------

func (r *pqReader) columns() []string { return r.cols }

func (r *pqReader) scan(sinks []sink) (int, error) {
	// The row Reader is consumed by a column scan: leave it at its end.
	defer func() { r.row = int(r.rows) }()
	fe := newFirstErr()
	workers := min(runtime.GOMAXPROCS(0), len(sinks))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(sinks) {
					return
				}
				if err := r.scanColumn(i, sinks[i], fe); err != nil {
					fe.add(i, err)
				}
			}
		})
	}
	wg.Wait()
	if fe.err != nil {
		r.err = fe.err
		return 0, fe.err
	}
	return int(r.rows), nil
}

// scanColumn streams column i through every row group, page by page.
func (r *pqReader) scanColumn(i int, s sink, fe *firstErr) error {
	cur := r.curs[i]
	c := &chunk{path: r.path, max: byte(cur.maxDef)}
	var scratch pqScratch
	row := 0
	for _, rg := range r.file.RowGroups() {
		pages := rg.ColumnChunks()[cur.leaf].Pages()
		for {
			if fe.past(row) {
				pages.Close()
				return nil
			}
			p, err := pages.ReadPage()
			if err == io.EOF {
				break
			}
			if err != nil {
				pages.Close()
				return &RowError{Path: r.path, Row: row + 1, Err: fmt.Errorf("column %q: %w", r.cols[i], err)}
			}
			if err := scratch.fill(c, p, cur); err != nil {
				parquet.Release(p)
				pages.Close()
				return &RowError{Path: r.path, Row: row + 1, Err: fmt.Errorf("column %q: %w", r.cols[i], err)}
			}
			c.row0 = row
			err = s(c)
			row += c.n
			parquet.Release(p)
			if err != nil {
				pages.Close()
				return err
			}
		}
		pages.Close()
	}
	if int64(row) != r.rows {
		return &RowError{Path: r.path, Row: row + 1, Err: fmt.Errorf("column %q ends before the %d rows the footer declares", r.cols[i], r.rows)}
	}
	return nil
}

// pqScratch holds the buffers one column's chunks are decoded into.
type pqScratch struct {
	i64   []int64
	f64   []float64
	sdata []byte
	soffs []uint32
	pv    []parquet.Value
	vals  []Value
}

// fill points c at page p's values: the page's own typed buffers where the
// physical type is already what Validate and Drift want, converted copies
// otherwise (dictionaries are expanded, Int32/Float widened, time scaled).
func (s *pqScratch) fill(c *chunk, p parquet.Page, cur *pqCursor) error {
	c.n = int(p.NumRows())
	c.defs = nil
	if cur.maxDef > 0 && p.NumNulls() > 0 {
		c.defs = p.DefinitionLevels()
		if len(c.defs) != c.n {
			return fmt.Errorf("page has %d definition levels for %d rows", len(c.defs), c.n)
		}
	}
	c.i64, c.f64, c.sdata, c.soffs, c.vals = nil, nil, nil, nil, nil
	want := c.n - int(p.NumNulls())
	if !s.typed(c, p, cur) {
		// Booleans and fixed-length byte arrays: the generic (boxed) path.
		if cap(s.pv) < c.n {
			s.pv = make([]parquet.Value, c.n)
		}
		pv := s.pv[:c.n]
		n, err := p.Values().ReadValues(pv)
		if err != nil && err != io.EOF {
			return err
		}
		s.vals = s.vals[:0]
		for _, v := range pv[:n] {
			if !v.IsNull() {
				s.vals = append(s.vals, cur.conv(v))
			}
		}
		c.kind, c.vals = KindNull, s.vals
	}
	if got := c.nvals(); got != want {
		return fmt.Errorf("page has %d values for %d non-null rows", got, want)
	}
	return nil
}

func (s *pqScratch) typed(c *chunk, p parquet.Page, cur *pqCursor) bool {
	data := p.Data()
	var idx []int32
	if d := p.Dictionary(); d != nil {
		idx = data.Int32()
		data = d.Page().Data()
		for _, k := range idx {
			if k < 0 || int(k) >= d.Len() {
				return false // the generic path reports the bad index
			}
		}
	}
	kind := cur.kind
	switch data.Kind() {
	case encoding.Int64:
		v := data.Int64()
		if idx != nil || cur.mul != 1 {
			s.i64 = s.i64[:0]
			if idx != nil {
				for _, k := range idx {
					s.i64 = append(s.i64, v[k]*cur.mul)
				}
			} else {
				for _, x := range v {
					s.i64 = append(s.i64, x*cur.mul)
				}
			}
			v = s.i64
		}
		c.kind, c.i64 = kind, v
	case encoding.Int32:
		v := data.Int32()
		s.i64 = s.i64[:0]
		if idx != nil {
			for _, k := range idx {
				s.i64 = append(s.i64, int64(v[k])*cur.mul)
			}
		} else {
			for _, x := range v {
				s.i64 = append(s.i64, int64(x)*cur.mul)
			}
		}
		c.kind, c.i64 = kind, s.i64
	case encoding.Double:
		v := data.Double()
		if idx != nil {
			s.f64 = s.f64[:0]
			for _, k := range idx {
				s.f64 = append(s.f64, v[k])
			}
			v = s.f64
		}
		c.kind, c.f64 = KindFloat, v
	case encoding.Float:
		v := data.Float()
		s.f64 = s.f64[:0]
		if idx != nil {
			for _, k := range idx {
				s.f64 = append(s.f64, float64(v[k]))
			}
		} else {
			for _, x := range v {
				s.f64 = append(s.f64, float64(x))
			}
		}
		c.kind, c.f64 = KindFloat, s.f64
	case encoding.ByteArray:
		if kind != KindString {
			return false
		}
		d, o := data.ByteArray()
		if idx != nil {
			s.sdata, s.soffs = s.sdata[:0], append(s.soffs[:0], 0)
			for _, k := range idx {
				s.sdata = append(s.sdata, d[o[k]:o[k+1]]...)
				s.soffs = append(s.soffs, uint32(len(s.sdata)))
			}
			d, o = s.sdata, s.soffs
		}
		c.kind, c.sdata, c.soffs = KindString, d, o
	default:
		return false
	}
	return true
}

// --- row readers (CSV) -----------------------------------------------------

// csvChunk is how many rows a row reader gathers before handing them to the sinks.
const csvChunk = 4096

type rowColumns struct{ r Reader }

func (rc *rowColumns) columns() []string { return rc.r.Columns() }
func (rc *rowColumns) Close() error      { return rc.r.Close() }

func (rc *rowColumns) scan(sinks []sink) (int, error) {
	r := rc.r
	_, csv := r.(*csvReader)
	cs := make([]*chunk, len(sinks))
	for i := range cs {
		cs[i] = &chunk{path: r.Path(), max: 1, kind: KindNull}
	}
	lines := make([]int, 0, csvChunk)
	fe := newFirstErr()
	live := make([]bool, len(sinks)) // a sink that failed gets no more chunks
	for i := range live {
		live[i] = true
	}
	row0 := 0
	workers := min(runtime.GOMAXPROCS(0), len(sinks))
	flush := func() {
		// Reading is sequential; parsing the cells (the sinks' Coerce) is
		// most of the work, so the columns of a batch go to parallel workers.
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for {
					i := int(next.Add(1) - 1)
					if i >= len(cs) {
						return
					}
					if c := cs[i]; c.n > 0 && live[i] {
						c.row0 = row0
						if csv {
							c.lines = lines
						}
						if err := sinks[i](c); err != nil {
							fe.add(i, err)
							live[i] = false
						}
					}
				}
			})
		}
		wg.Wait()
		for _, c := range cs {
			c.n, c.defs, c.vals = 0, c.defs[:0], c.vals[:0]
		}
		row0 += len(lines)
		lines = lines[:0]
	}
	for !fe.past(row0) && r.Next() {
		l := 0
		if csv {
			l = r.(*csvReader).line()
		}
		lines = append(lines, l)
		for i, c := range cs {
			v := r.Value(i)
			c.n++
			if v.IsNull() {
				c.defs = append(c.defs, 0)
				continue
			}
			c.defs = append(c.defs, 1)
			c.vals = append(c.vals, v)
		}
		if len(lines) == csvChunk {
			flush()
		}
	}
	flush()
	if fe.err != nil {
		return 0, fe.err
	}
	if err := r.Err(); err != nil {
		return 0, err
	}
	return r.Row(), nil
}
