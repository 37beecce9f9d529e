package policies

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/ast"
	"github.com/open-policy-agent/opa/util"
)

// jsonValue must give what OPA's own route gives.
func TestJSONValueAgreesWithOPA(t *testing.T) {
	docs := []string{
		`{}`, `[]`, `null`, `true`, `"x"`, `0`, `-1.5e+10`, `{"a":{"b":[1,2,{"c":null}],"d":""},"e":[[],{}]}`,
		`{"esc":"a\"b\\c\/d\u00e9\ud83d\ude00\n\t","uni":"héllo ✓","num":[1e3,1E-3,12345678901234567890,-0]}`,
		` { "a" : [ 1 , 2 ] , "b" : { } } `,
		"{\"bad utf8\":\"\xff\xfe\"}",
		`{"dup":1,"dup":2}`,
	}
	docs = append(docs, string(mustJSON(t, cleanBundle())))
	for _, d := range docs {
		compareJSONValue(t, []byte(d))
	}
	for _, bad := range []string{``, `{`, `{"a"}`, `{"a":1,}`, `[1,]`, `01`, `"\x"`, `tru`, `{} x`, "\"a\x01\"", `1.`, `--1`} {
		if _, err := jsonValue([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	keys, vals, err := jsonMembers([]byte(` {"a": [1, {"x": "]"}], "b":"}" , "c" :3} `))
	if err != nil || strings.Join(keys, ",") != "a,b,c" || string(vals[0]) != `[1, {"x": "]"}]` || string(vals[1]) != `"}"` || string(vals[2]) != "3" {
		t.Errorf("jsonMembers: %q %q %v", keys, vals, err)
	}
}

func compareJSONValue(t *testing.T, data []byte) {
	t.Helper()
	var doc any
	werr := util.UnmarshalJSON(data, &doc)
	var want ast.Value
	if werr == nil {
		want, werr = ast.InterfaceToValue(doc)
	}
	got, gerr := jsonValue(data)
	// OPA's route also takes a JSON value followed by null ("0null": its
	// check for trailing data reads the null token as nothing); JSON does not.
	if !json.Valid(data) {
		if gerr == nil {
			t.Fatalf("%q is not JSON, but jsonValue parsed it", data)
		}
		return
	}
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%q: OPA's error %v, jsonValue's %v", data, werr, gerr)
	}
	if werr == nil && ast.Compare(got, want) != 0 {
		t.Fatalf("%q:\njsonValue %v\nOPA       %v", data, got, want)
	}
}

func FuzzJSONValue(f *testing.F) {
	for _, s := range []string{`{"a":[1,"b",null,true]}`, `"\u00e9"`, `-0.5e3`, `{"x":{}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		compareJSONValue(t, data)
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
