package policies

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// TestReads: what a policy reads of the input, read off its Rego.
func TestReads(t *testing.T) {
	for _, tc := range []struct {
		name, rego string
		want       reads
	}{
		{"a collection", `deny contains "x" if { some m in input.bundle.models; m.kind == "llm" }`, reads{collections: []string{"models"}}},
		{"object.get of a collection", `deny contains "x" if { count(object.get(input.bundle, ["project", "owners"], [])) == 0 }`, reads{collections: []string{"project"}}},
		{"a variable key", `deny contains "x" if { some k in ["models"]; input.bundle[k].a }`, reads{bundle: true}},
		{"the whole bundle", `deny contains "x" if { walk(input.bundle, [p, v]); v == "x" }`, reads{bundle: true}},
		{"the whole input", `deny contains "x" if { x := input; x.bundle.models.a }`, reads{all: true}},
		{"the time", `deny contains "x" if { time.parse_rfc3339_ns(input.now) > 0 }`, reads{now: true}},
		{"the context", `deny contains "x" if { input.context.pull_request }`, reads{ctx: true}},
		{"a key the input does not have", `deny contains "x" if { input.__clock.c0 }`, reads{all: true}},
		{"a helper's reads", `import data.cairn.util
deny contains "x" if { some m in input.bundle.models; util.now_ns > 0 }`, reads{collections: []string{"models"}, now: true}},
		{"a helper that reads nothing", `import data.cairn.util
deny contains util.target("models", "a") if { input.bundle.models.a }`, reads{collections: []string{"models"}}},
		{"another policy's rules", `deny contains "x" if { data.cairn.policy.owners.deny[_] }`, reads{all: true, others: true}},
		{"a non-deterministic built-in", `deny contains "x" if { rand.intn("x", 10) > 0 }`, reads{volatile: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mods, compiled, pols := compileTestPolicy(t, tc.rego)
			got := analyseReads(mods, compiled, pols)["t"]
			if got.all != tc.want.all || got.bundle != tc.want.bundle || got.others != tc.want.others || got.volatile != tc.want.volatile ||
				got.now != tc.want.now || got.ctx != tc.want.ctx || len(got.collections) != len(tc.want.collections) {
				t.Fatalf("reads = %+v, want %+v", got, tc.want)
			}
			for i := range got.collections {
				if got.collections[i] != tc.want.collections[i] {
					t.Fatalf("reads = %+v, want %+v", got, tc.want)
				}
			}
		})
	}
}

// decodeJSON and parseBindings (goccy/go-json first) decode what
// encoding/json with UseNumber does, on the shapes policies return and on
// JSON that leans on encoding/json's rules.
func TestDecodeJSONAgrees(t *testing.T) {
	std := func(b []byte) any {
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		var v any
		if d.Decode(&v) != nil {
			return nil
		}
		return v
	}
	docs := []string{
		`{"msg": "model m has no owner", "target": "models/m", "path": "owner"}`,
		`"a bare message"`,
		`[{"msg": "x"}, "y", 3, null, true]`,
		`{"n": 12345678901234567890, "f": -1.5e-300, "z": 0, "e": 1E+2}`,
		`{"s": "\u00e9\ud83d\ude00 \"q\" \\ \/ \b\f\n\r\t", "lone": "\ud800"}`,
		"{\"bad utf8\": \"a\xffb\"}",
		`{"k": 1, "k": 2}`,
		`{"deep": [[[[{"a": [{}]}]]]]}`,
		`{"msg": "x"} trailing`,
		`{"msg": `,
		``,
		`[1, 2,]`,
		`  {"spaces" : [ 1 , 2 ] }  `,
	}
	for _, d := range docs {
		if got, want := decodeJSON([]byte(d)), std([]byte(d)); !reflect.DeepEqual(got, want) {
			t.Errorf("%q: decodeJSON %#v, encoding/json %#v", d, got, want)
		}
		var want rawBindings
		werr := json.Unmarshal([]byte(d), &want)
		got, ok := parseBindings([]byte(d))
		if ok != (werr == nil) || (ok && !reflect.DeepEqual(got, want)) {
			t.Errorf("%q: parseBindings %v %v, encoding/json %v %v", d, got, ok, want, werr)
		}
	}
	members := []string{`{"msg": "a"}`, `"b"`, `{"n": 1.0}`}
	if got := decodeMembers(members); !reflect.DeepEqual(got, []any{std([]byte(members[0])), "b", std([]byte(members[2]))}) {
		t.Errorf("members: %#v", got)
	}
}

// policyIDOf, which skips the parse for refs that cannot name a policy,
// agrees with policyID of the parsed ref.
func TestPolicyIDOf(t *testing.T) {
	for _, ref := range []string{
		"data.cairn.policy.owners.deny", `data.cairn.policy["x-y"].deny`, `data["cairn"]["policy"]["owners"].warn`,
		`data.cairn["policy"].owners`, "data.cairn.util.today_ns", "data.cairn.catalog.deprecations",
		"data.cairn.policy", "data.cairn.policyx.y.z", `data["cairn"].util.x`, "input.bundle.models",
	} {
		r := ast.MustParseRef(ref)
		want, wok := "", false
		if len(r) >= 4 {
			want, wok = policyID(r[:4])
		}
		if got, ok := policyIDOf(r.String()); got != want || ok != wok {
			t.Errorf("%s (%s): %q %v, want %q %v", ref, r.String(), got, ok, want, wok)
		}
	}
}
