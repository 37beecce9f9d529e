package prompts

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in      string
		vars    []string
		errLine int
		errCol  int
		errSub  string
	}{
		{in: "Hello {{ name }}, about {{topic}} and {{ name }}.", vars: []string{"name", "topic"}},
		{in: "no placeholders", vars: []string{}},
		{in: "line1\n  {{ q }}", vars: []string{"q"}},
		{in: "a {{ b", errLine: 1, errCol: 3, errSub: "unclosed"},
		{in: "x\ny }} z", errLine: 2, errCol: 3, errSub: "without a matching"},
		{in: "{{ }}", errLine: 1, errCol: 1, errSub: "empty"},
		{in: "ok\n {{ a.b }}", errLine: 2, errCol: 2, errSub: "not a plain variable"},
		{in: "{{ 9a }}", errLine: 1, errCol: 1, errSub: "not a plain variable"},
	}
	for _, c := range cases {
		got, err := Variables(c.in)
		if c.errSub != "" {
			se, ok := err.(*SyntaxError)
			if !ok {
				t.Errorf("%q: err = %v, want SyntaxError", c.in, err)
				continue
			}
			if se.Line != c.errLine || se.Col != c.errCol || !strings.Contains(se.Msg, c.errSub) {
				t.Errorf("%q: err = %v, want %d:%d %q", c.in, se, c.errLine, c.errCol, c.errSub)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.vars) {
			t.Errorf("%q: got %v, %v; want %v", c.in, got, err, c.vars)
		}
	}
}

func TestRender(t *testing.T) {
	out, err := Render("Q: {{ q }}\nCtx: {{context}}", map[string]string{"q": "why?", "context": "{{ not expanded }}"})
	if err != nil || out != "Q: why?\nCtx: {{ not expanded }}" {
		t.Fatalf("got %q, %v", out, err)
	}
	if _, err := Render("{{ a }} {{ b }}", map[string]string{"a": "1"}); err == nil || !strings.Contains(err.Error(), "b") {
		t.Fatalf("missing variable not reported: %v", err)
	}
}

func TestHashStableAndSensitive(t *testing.T) {
	base := Content{Template: "Hi {{ n }}\n", Inputs: []string{"n", "m"}, Model: Params{"p", "gpt-4o", 0, 512}}
	crlf := base
	crlf.Template = "Hi {{ n }}\r\n"
	reordered := base
	reordered.Inputs = []string{"m", "n"}
	if Hash(base) != Hash(crlf) || Hash(base) != Hash(reordered) {
		t.Fatal("hash changed for an insignificant difference")
	}
	for _, mut := range []func(*Content){
		func(c *Content) { c.Template = "Hello {{ n }}" },
		func(c *Content) { c.Model.Temperature = 0.2 },
		func(c *Content) { c.Model.MaxTokens = 256 },
		func(c *Content) { c.Model.ID = "gpt-4o-mini" },
		func(c *Content) { c.Inputs = []string{"n"} },
	} {
		c := base
		c.Inputs = append([]string(nil), base.Inputs...)
		mut(&c)
		if Hash(c) == Hash(base) {
			t.Errorf("hash unchanged after %+v", c)
		}
	}
	if !strings.HasPrefix(Hash(base), "sha256:") || len(Hash(base)) != 71 {
		t.Fatalf("bad hash form %s", Hash(base))
	}
}

func TestCompareVersions(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{{"1.2.3", "1.10.0", -1}, {"2.0.0", "2.0.0-rc.1", 1}, {"7", "12", -1}, {"1.0.0", "1.0.0", 0}} {
		if got := CompareStrings(c.a, c.b); got != c.want {
			t.Errorf("CompareStrings(%s,%s) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
