package data

import (
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"
)

// ColumnSpec names a column to write and its dtype (int, float, string,
// bool, timestamp); every written column is optional (nullable).
type ColumnSpec struct {
	Name  string
	DType string
}

// WriteParquet writes rows to w as a Parquet file with one optional column
// per spec, in the given order of specs (the file stores them sorted by name).
// next fills row (len(cols)) and reports whether there was a row. Used by the
// fixture generator, tests and benchmarks; memory is one row group buffer.
func WriteParquet(w io.Writer, cols []ColumnSpec, rowGroupRows int, next func(row []Value) bool) error {
	group := parquet.Group{}
	for _, c := range cols {
		var n parquet.Node
		switch c.DType {
		case "int":
			n = parquet.Int(64)
		case "float":
			n = parquet.Leaf(parquet.DoubleType)
		case "string":
			n = parquet.String()
		case "bool":
			n = parquet.Leaf(parquet.BooleanType)
		case "timestamp":
			n = parquet.Timestamp(parquet.Nanosecond)
		default:
			return fmt.Errorf("column %q: unknown dtype %q", c.Name, c.DType)
		}
		group[c.Name] = parquet.Optional(n)
	}
	schema := parquet.NewSchema("sample", group)
	// The schema orders columns by name; map each spec to its leaf index.
	leaf := make([]int, len(cols))
	for i, c := range cols {
		lc, ok := schema.Lookup(c.Name)
		if !ok {
			return fmt.Errorf("column %q missing from schema", c.Name)
		}
		leaf[i] = lc.ColumnIndex
	}
	if rowGroupRows <= 0 {
		rowGroupRows = 128 * 1024
	}
	pw := parquet.NewWriter(w, schema, parquet.MaxRowsPerRowGroup(int64(rowGroupRows)))
	vals := make([]Value, len(cols))
	batch := make([]parquet.Row, 0, 1024)
	buf := make([]parquet.Value, len(cols)*1024)
	flush := func() error {
		if _, err := pw.WriteRows(batch); err != nil {
			return err
		}
		batch = batch[:0]
		return nil
	}
	for next(vals) {
		row := buf[len(batch)*len(cols) : (len(batch)+1)*len(cols)]
		for i, v := range vals {
			var pv parquet.Value
			def := 1
			switch v.Kind {
			case KindNull:
				def = 0
			case KindInt, KindTime:
				pv = parquet.Int64Value(v.Int)
			case KindFloat:
				pv = parquet.DoubleValue(v.Float)
			case KindString:
				pv = parquet.ByteArrayValue([]byte(v.Str))
			case KindBool:
				pv = parquet.BooleanValue(v.Bool)
			}
			row[leaf[i]] = pv.Level(0, def, leaf[i])
		}
		batch = append(batch, parquet.Row(row))
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	return pw.Close()
}
