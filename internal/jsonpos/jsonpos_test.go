package jsonpos

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestError(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"{\n  \"a\": 1,\n  \"b\": x\n}", "line 3, column 8: invalid character 'x'"},
		{`{"n": "many"}`, "line 1, column 13: n: string: want int"},
		{`{"n": 1}`, ""},
	} {
		var v struct {
			N int `json:"n"`
		}
		err := json.Unmarshal([]byte(tc.in), &v)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%q: %v", tc.in, err)
			}
			continue
		}
		if got := Error([]byte(tc.in), err); got == nil || !strings.HasPrefix(got.Error(), tc.want) {
			t.Errorf("%q: %v, want %q…", tc.in, got, tc.want)
		}
	}
	other := errors.New("unexpected EOF")
	if Error(nil, other) != other {
		t.Error("an error that is not a decoding error changed")
	}
}
