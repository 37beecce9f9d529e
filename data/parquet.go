package data

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/cairn-dev/cairn/limits"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// pqBatch is how many values each column cursor buffers: memory is
// O(columns × pqBatch), whatever the row count.
const pqBatch = 1024

type pqReader struct {
	path string
	f    *os.File
	file *parquet.File
	cols []string
	curs []*pqCursor
	vals []Value
	row  int
	rows int64
	err  error
}

// pqCursor walks one leaf column through all row groups and pages.
type pqCursor struct {
	file *parquet.File
	leaf int
	conv func(parquet.Value) Value
	// For the typed column scan (columns.go): the kind of the values, the
	// factor to nanoseconds for times, the definition level of a non-null.
	kind   Kind
	mul    int64
	maxDef int
	rg     int
	pages  parquet.Pages
	vr     parquet.ValueReader
	eof    bool // vr is exhausted once buf is consumed
	buf    []parquet.Value
	i, n   int
}

func openParquet(path string, columns []string) (Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	pf, err := parquet.OpenFile(f, st.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: not a readable Parquet file: %w", path, err)
	}
	var have []string
	for _, c := range pf.Root().Columns() {
		have = append(have, c.Name())
	}
	cols, _, err := selectColumns(path, have, columns)
	if err != nil {
		f.Close()
		return nil, err
	}
	if n, max := pf.NumRows(), limits.Get().Rows; n > max {
		f.Close()
		return nil, tooManyRows(path, fmt.Sprintf("%d rows in its footer", n))
	}
	r := &pqReader{path: path, f: f, file: pf, cols: cols, vals: make([]Value, len(cols)), rows: pf.NumRows()}
	for _, name := range cols {
		col := pf.Root().Column(name)
		if !col.Leaf() || col.Repeated() {
			f.Close()
			return nil, fmt.Errorf("%s: column %q is nested or repeated; only flat columns can be features", path, name)
		}
		leaf, ok := pf.Schema().Lookup(name)
		if !ok {
			f.Close()
			return nil, fmt.Errorf("%s: column %q has no leaf in the schema", path, name)
		}
		conv, err := pqConverter(col.Type())
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: column %q: %w", path, name, err)
		}
		kind, mul := pqKind(col.Type())
		r.curs = append(r.curs, &pqCursor{file: pf, leaf: leaf.ColumnIndex, conv: conv, kind: kind, mul: mul,
			maxDef: leaf.MaxDefinitionLevel, buf: make([]parquet.Value, pqBatch)})
	}
	return r, nil
}

// pqConverter maps a column's physical and logical type to a Value kind.
func pqConverter(t parquet.Type) (func(parquet.Value) Value, error) {
	lt := t.LogicalType()
	switch t.Kind() {
	case parquet.Boolean:
		return func(v parquet.Value) Value { return Value{Kind: KindBool, Bool: v.Boolean()} }, nil
	case parquet.Int32, parquet.Int64:
		if lt != nil {
			switch l := lt.Value.(type) {
			case *format.TimestampType:
				mul := int64(1)
				switch l.Unit.Value.(type) {
				case *format.MilliSeconds:
					mul = 1e6
				case *format.MicroSeconds:
					mul = 1e3
				}
				return func(v parquet.Value) Value { return Value{Kind: KindTime, Int: v.Int64() * mul} }, nil
			case *format.DateType:
				return func(v parquet.Value) Value { return Value{Kind: KindTime, Int: v.Int64() * 86400e9} }, nil
			case *format.DecimalType:
				return nil, fmt.Errorf("decimal columns are not supported; store them as double")
			}
		}
		return func(v parquet.Value) Value { return Value{Kind: KindInt, Int: v.Int64()} }, nil
	case parquet.Float:
		return func(v parquet.Value) Value { return Value{Kind: KindFloat, Float: float64(v.Float())} }, nil
	case parquet.Double:
		return func(v parquet.Value) Value { return Value{Kind: KindFloat, Float: v.Double()} }, nil
	case parquet.ByteArray, parquet.FixedLenByteArray:
		if lt != nil {
			if _, ok := lt.Value.(*format.DecimalType); ok {
				return nil, fmt.Errorf("decimal columns are not supported; store them as double")
			}
		}
		return func(v parquet.Value) Value { return Value{Kind: KindString, Str: string(v.ByteArray())} }, nil
	}
	return nil, fmt.Errorf("unsupported physical type %s", t)
}

// pqKind is the Value kind a column's cells convert to, and for times the
// factor from the stored unit to nanoseconds (pqConverter's mapping, unboxed).
func pqKind(t parquet.Type) (Kind, int64) {
	switch t.Kind() {
	case parquet.Boolean:
		return KindBool, 1
	case parquet.Int32, parquet.Int64:
		if lt := t.LogicalType(); lt != nil {
			switch l := lt.Value.(type) {
			case *format.TimestampType:
				switch l.Unit.Value.(type) {
				case *format.MilliSeconds:
					return KindTime, 1e6
				case *format.MicroSeconds:
					return KindTime, 1e3
				}
				return KindTime, 1
			case *format.DateType:
				return KindTime, 86400e9
			}
		}
		return KindInt, 1
	case parquet.Float, parquet.Double:
		return KindFloat, 1
	}
	return KindString, 1
}

func (c *pqCursor) next() (parquet.Value, error) {
	for c.i >= c.n {
		if c.vr != nil && !c.eof {
			n, err := c.vr.ReadValues(c.buf)
			c.i, c.n = 0, n
			if err == io.EOF {
				c.eof = true
			} else if err != nil {
				return parquet.Value{}, err
			}
			continue
		}
		if c.pages != nil {
			p, err := c.pages.ReadPage()
			if err == nil {
				c.vr, c.eof = p.Values(), false
				continue
			}
			c.pages.Close()
			c.pages = nil
			if err != io.EOF {
				return parquet.Value{}, err
			}
		}
		rgs := c.file.RowGroups()
		if c.rg >= len(rgs) {
			return parquet.Value{}, io.ErrUnexpectedEOF
		}
		c.pages = rgs[c.rg].ColumnChunks()[c.leaf].Pages()
		c.rg++
		c.vr = nil
	}
	v := c.buf[c.i]
	c.i++
	return v, nil
}

func (r *pqReader) Path() string      { return r.path }
func (r *pqReader) Columns() []string { return r.cols }
func (r *pqReader) Row() int          { return r.row }
func (r *pqReader) Err() error        { return r.err }
func (r *pqReader) Value(i int) Value { return r.vals[i] }

func (r *pqReader) Close() error {
	for _, c := range r.curs {
		if c.pages != nil {
			c.pages.Close()
		}
	}
	return r.f.Close()
}

func (r *pqReader) Next() bool {
	if r.err != nil || int64(r.row) >= r.rows {
		return false
	}
	r.row++
	for i, c := range r.curs {
		v, err := c.next()
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				err = fmt.Errorf("column %q ends before the %d rows the footer declares", r.cols[i], r.rows)
			}
			r.err = &RowError{Path: r.path, Row: r.row, Err: err}
			return false
		}
		if v.IsNull() {
			r.vals[i] = Value{}
		} else {
			r.vals[i] = c.conv(v)
		}
	}
	return true
}
