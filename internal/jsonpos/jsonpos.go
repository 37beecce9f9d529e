// Package jsonpos says where in a JSON document encoding/json failed, so
// that a malformed file the user wrote is named by line and column.
package jsonpos

import (
	"encoding/json"
	"errors"
	"fmt"
)

// LineCol is the 1-based line and column of byte offset off in data.
func LineCol(data []byte, off int64) (line, col int) {
	line, col = 1, 1
	for i := int64(0); i < off && i < int64(len(data)); i++ {
		if data[i] == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

// Error prefixes a decoding error of data with its line and column (a
// syntax error at the bad byte, a type error at the value), and says a type
// error in the words of the document: field, value, wanted type. Other
// errors are returned as they are.
func Error(data []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		line, col := LineCol(data, se.Offset-1) // Offset is just past the bad byte
		return fmt.Errorf("line %d, column %d: %w", line, col, err)
	case errors.As(err, &te):
		line, col := LineCol(data, te.Offset)
		return fmt.Errorf("line %d, column %d: %s: %s: want %s", line, col, te.Field, te.Value, te.Type)
	}
	return err
}
