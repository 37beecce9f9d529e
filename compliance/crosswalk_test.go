package compliance

import (
	"strings"
	"testing"
)

// TestCrosswalkChecked: the embedded crosswalk loads, and what check
// refuses — an evidence kind outside the closed list, an untitled NIST or
// ISO identifier, an unknown file, a row decided by nothing — is refused.
func TestCrosswalkChecked(t *testing.T) {
	c, err := LoadCrosswalk()
	if err != nil {
		t.Fatal(err)
	}
	annex := 0
	for _, r := range c.Rows {
		if strings.HasPrefix(r.ID, "annex-iv-") {
			annex++
		}
	}
	if annex != 23 {
		t.Errorf("Annex IV rows: %d, want 23", annex)
	}
	for name, edit := range map[string]func(*Crosswalk){
		"evidence kind %q is not in the closed list": func(c *Crosswalk) { c.Rows[0].Evidenced = append(c.Rows[0].Evidenced, "vibes") },
		"has no title":                 func(c *Crosswalk) { c.Rows[0].NIST = append(c.Rows[0].NIST, "MEASURE 9.9") },
		`unknown file "memo"`:          func(c *Crosswalk) { c.Rows[0].File = "memo" },
		"neither manual nor evidenced": func(c *Crosswalk) { c.Rows[0].Evidenced, c.Rows[0].File, c.Rows[0].Manual = nil, "", false },
		"twice":                        func(c *Crosswalk) { c.Rows[1].ID = c.Rows[0].ID },
	} {
		cp, _ := LoadCrosswalk()
		edit(cp)
		want := strings.ReplaceAll(name, "%q", `"vibes"`)
		if err := cp.check(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("check after %q: %v", name, err)
		}
	}
}
