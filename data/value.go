// Package data checks declared feature quality rules, drift monitors and
// train/serve parity against real data samples (CSV and Parquet), streaming
// them so that memory does not grow with the number of rows.
package data

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Kind is the kind of a Value as the file stores it.
type Kind uint8

const (
	KindNull Kind = iota
	KindInt
	KindFloat
	KindString
	KindBool
	KindTime // Int holds Unix nanoseconds (UTC)
)

func (k Kind) String() string {
	switch k {
	case KindNull:
		return "null"
	case KindInt:
		return "int"
	case KindFloat:
		return "float"
	case KindString:
		return "string"
	case KindBool:
		return "bool"
	case KindTime:
		return "timestamp"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is one cell. CSV cells are strings (or null); Parquet cells carry the
// column's physical type. Coerce interprets a cell as a declared dtype.
type Value struct {
	Kind  Kind
	Int   int64
	Float float64
	Str   string
	Bool  bool
}

// IsNull reports whether the cell holds no value.
func (v Value) IsNull() bool { return v.Kind == KindNull }

// String renders the cell for reports and examples.
func (v Value) String() string {
	switch v.Kind {
	case KindNull:
		return "null"
	case KindInt:
		return strconv.FormatInt(v.Int, 10)
	case KindFloat:
		return strconv.FormatFloat(v.Float, 'g', -1, 64)
	case KindString:
		return v.Str
	case KindBool:
		return strconv.FormatBool(v.Bool)
	case KindTime:
		return time.Unix(0, v.Int).UTC().Format(time.RFC3339Nano)
	}
	return "?"
}

// Key is a canonical text form used to compare cells with allowed values and
// to count categories: numbers print the same whether stored as int or float.
func (v Value) Key() string {
	if v.Kind == KindInt {
		return strconv.FormatFloat(float64(v.Int), 'g', -1, 64)
	}
	return v.String()
}

// Number returns the cell as a float64 for numeric statistics (timestamps in
// Unix seconds).
func (v Value) Number() (float64, bool) {
	switch v.Kind {
	case KindInt:
		return float64(v.Int), true
	case KindFloat:
		return v.Float, true
	case KindTime:
		return float64(v.Int) / 1e9, true
	}
	return 0, false
}

// nullStrings are the CSV spellings of a missing value (pandas' defaults, so
// that exported frames read back as they were written).
var nullStrings = map[string]bool{
	"": true, "NA": true, "N/A": true, "n/a": true, "null": true, "NULL": true,
	"NaN": true, "nan": true, "None": true, "<NA>": true,
}

// timeLayouts are the textual timestamp forms accepted in CSV files.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02"}

// Coerce interprets v as the declared dtype (int, float, string, bool,
// timestamp). Nulls stay null. The error says what the value is and why it
// does not fit, for dtype rule examples and row errors.
func Coerce(v Value, dtype string) (Value, error) {
	if v.Kind == KindNull {
		return v, nil
	}
	switch dtype {
	case "int":
		switch v.Kind {
		case KindInt:
			return v, nil
		case KindFloat:
			if v.Float == math.Trunc(v.Float) && math.Abs(v.Float) < 1<<53 {
				return Value{Kind: KindInt, Int: int64(v.Float)}, nil
			}
		case KindString:
			s := strings.TrimSpace(v.Str)
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				return Value{Kind: KindInt, Int: n}, nil
			}
		}
	case "float":
		switch v.Kind {
		case KindInt:
			return Value{Kind: KindFloat, Float: float64(v.Int)}, nil
		case KindFloat:
			if !math.IsNaN(v.Float) && !math.IsInf(v.Float, 0) {
				return v, nil
			}
		case KindString:
			f, err := strconv.ParseFloat(strings.TrimSpace(v.Str), 64)
			if err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
				return Value{Kind: KindFloat, Float: f}, nil
			}
		}
	case "string":
		if v.Kind == KindString {
			return v, nil
		}
	case "bool":
		switch v.Kind {
		case KindBool:
			return v, nil
		case KindString:
			if b, err := strconv.ParseBool(strings.TrimSpace(v.Str)); err == nil {
				return Value{Kind: KindBool, Bool: b}, nil
			}
		}
	case "timestamp":
		switch v.Kind {
		case KindTime:
			return v, nil
		case KindString:
			s := strings.TrimSpace(v.Str)
			for _, layout := range timeLayouts {
				if t, err := time.Parse(layout, s); err == nil {
					return Value{Kind: KindTime, Int: t.UnixNano()}, nil
				}
			}
		}
	default:
		return v, fmt.Errorf("unknown dtype %q", dtype)
	}
	return v, fmt.Errorf("%s value %q is not a valid %s", v.Kind, v.String(), dtype)
}

// numericDType reports whether drift treats the dtype as continuous.
func numericDType(dtype string) bool {
	return dtype == "int" || dtype == "float" || dtype == "timestamp"
}
