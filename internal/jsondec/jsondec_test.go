package jsondec

import (
	"encoding/json"
	"reflect"
	"testing"
)

// Unmarshal gives what json.Unmarshal gives, result and error, including
// where goccy fails part way and encoding/json decodes into a fresh value.
func TestUnmarshalAgrees(t *testing.T) {
	type row struct {
		ID   *string                    `json:"id"`
		Vars map[string]json.RawMessage `json:"vars"`
		N    int                        `json:"n"`
	}
	for _, doc := range []string{
		`{"id": "a", "vars": {"q": 1}, "n": 2}`,
		`{"ID": "case", "VARS": {}}`,
		`{"id": "a", "id": "b"}`,
		`{"vars": {"q": 1}, "n": 2.5}`,
		`{"vars": {"q": 1}, "n": "x"}`,
		`{"id": "a\u00e9\ud83d\ude00", "n": 1} trailing`,
		"{\"id\": \"a\xffb\"}",
		`{"id": `,
		``,
		`null`,
	} {
		var got, want row
		gerr := Unmarshal([]byte(doc), &got)
		werr := json.Unmarshal([]byte(doc), &want)
		if (gerr == nil) != (werr == nil) || (werr != nil && gerr.Error() != werr.Error()) {
			t.Errorf("%q: error %v, encoding/json %v", doc, gerr, werr)
		}
		if werr == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("%q: %+v, encoding/json %+v", doc, got, want)
		}
	}
}
