package diag

import (
	"strings"
	"testing"
)

func TestShortenCutsHugeQuotedValues(t *testing.T) {
	huge := strings.Repeat("x", 200<<10)
	got := Shorten(`field name: value "` + huge + `" is not a number`)
	if len(got) > 200 || !strings.Contains(got, `(204800 bytes)`) || !strings.HasSuffix(got, "is not a number") {
		t.Fatalf("%d bytes: %.200s", len(got), got)
	}
	short := `value "abc" is not a number`
	if Shorten(short) != short {
		t.Errorf("a short message changed: %q", Shorten(short))
	}
	esc := `v "` + strings.Repeat(`\x00`, 100) + `"`
	if got := Shorten(esc); strings.Contains(got, `\x0…`) || strings.Contains(got, `\…`) {
		t.Errorf("cut inside an escape: %q", got)
	}
}
