package reconciler

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Every plan JSON the goldens hold is valid against the documented schema
// (docs/plan.schema.json), and a saved plan reads back to the same JSON.
func TestPlanJSONMatchesItsSchema(t *testing.T) {
	c := jsonschema.NewCompiler()
	sch, err := c.Compile(filepath.Join("..", "docs", "plan.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "plans", "*.json"))
	if len(files) == 0 {
		t.Fatal("no plan goldens")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(doc); err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
		}
		p, err := DecodePlan(f, bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(f), err)
		}
		var again bytes.Buffer
		if err := WritePlan(&again, p, FormatJSON); err != nil {
			t.Fatal(err)
		}
		var a, b any
		json.Unmarshal(data, &a)
		json.Unmarshal(again.Bytes(), &b)
		if ja, jb := mustJSON(a), mustJSON(b); ja != jb {
			t.Errorf("%s does not read back to itself:\n%s\nvs\n%s", filepath.Base(f), ja, jb)
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
