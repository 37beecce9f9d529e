// Package jsondec decodes JSON on the check's hot paths: with goccy/go-json,
// which takes a quarter to a third of encoding/json's time on the spec and
// the cached policy results, and with encoding/json — the reference —
// whenever goccy refuses, so that what is refused is said in encoding/json's
// words. The callers' tests hold the two decoders equal on their data.
package jsondec

import (
	"encoding/json"
	"reflect"

	gojson "github.com/goccy/go-json"
)

// Unmarshal decodes data into v, a non-nil pointer, as json.Unmarshal does.
func Unmarshal(data []byte, v any) error {
	if gojson.Unmarshal(data, v) == nil {
		return nil
	}
	// What goccy half filled must not mix with encoding/json's result.
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv.Elem().SetZero()
	}
	return json.Unmarshal(data, v)
}
