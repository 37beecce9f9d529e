package state

import (
	"strings"
	"testing"
)

func TestParseExplanation(t *testing.T) {
	tests := []struct {
		name, in, err string
	}{
		{"valid", `{"format":"cairn.explanation/v1","method":"shap","sample_size":10,"features":[{"name":"a","importance":0.5},{"name":"b","importance":-0.1}]}`, ""},
		{"syntax", "{\n  \"format\": \"cairn.explanation/v1\",\n  \"method\": shap\n}", "line 3, column 13"},
		{"type", `{"format":"cairn.explanation/v1","method":"shap","sample_size":"many","features":[]}`, "sample_size: string: want int"},
		{"unknown field", `{"format":"cairn.explanation/v1","method":"shap","sample_size":1,"features":[{"name":"a","importance":1}],"shap_values":[]}`, `unknown field "shap_values"`},
		{"format", `{"format":"shap/v2","method":"shap","sample_size":1,"features":[{"name":"a","importance":1}]}`, `format: "shap/v2"`},
		{"no method", `{"format":"cairn.explanation/v1","sample_size":1,"features":[{"name":"a","importance":1}]}`, "method: missing"},
		{"no sample", `{"format":"cairn.explanation/v1","method":"shap","features":[{"name":"a","importance":1}]}`, "sample_size: 0"},
		{"no features", `{"format":"cairn.explanation/v1","method":"shap","sample_size":1,"features":[]}`, "features: empty"},
		{"unnamed", `{"format":"cairn.explanation/v1","method":"shap","sample_size":1,"features":[{"importance":1}]}`, "features[0].name: missing"},
		{"twice", `{"format":"cairn.explanation/v1","method":"shap","sample_size":1,"features":[{"name":"a","importance":1},{"name":"a","importance":2}]}`, `features[1].name: "a" is listed twice`},
		{"two values", `{"format":"cairn.explanation/v1","method":"shap","sample_size":1,"features":[{"name":"a","importance":1}]} {}`, "more than one JSON value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := ParseExplanation([]byte(tc.in))
			if tc.err == "" {
				if err != nil || e.Method != "shap" || len(e.Features) != 2 || e.Features[1].Importance != -0.1 {
					t.Fatalf("ParseExplanation = %+v, %v", e, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want it to contain %q", err, tc.err)
			}
		})
	}
}

// The digest is of the content, so a reformatted file is the same explanation.
func TestExplanationDigest(t *testing.T) {
	a, err := ParseExplanation([]byte(`{"format":"cairn.explanation/v1","method":"shap","sample_size":3,"features":[{"name":"a","importance":1}]}`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseExplanation([]byte("{\n \"features\": [{\"importance\": 1.0, \"name\": \"a\"}],\n \"sample_size\": 3, \"method\": \"shap\", \"format\": \"cairn.explanation/v1\"\n}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Digest() != b.Digest() || !strings.HasPrefix(a.Digest(), "sha256:") {
		t.Fatalf("digests %s and %s", a.Digest(), b.Digest())
	}
	b.SampleSize = 4
	if a.Digest() == b.Digest() {
		t.Fatal("a different sample size has the same digest")
	}
}
