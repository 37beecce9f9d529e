package md

import "testing"

func TestCell(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                     "plain",
		"a|b":                       `a\|b`,
		"<script>alert(1)</script>": "&lt;script&gt;alert(1)&lt;/script&gt;",
		"two\nlines\r\n":            "two<br>lines<br>",
		"`code` *em* _u_ [l](x)":    "\\`code\\` \\*em\\* \\_u\\_ \\[l\\](x)",
		`back\slash`:                `back\\slash`,
	} {
		if got := Cell(in); got != want {
			t.Errorf("Cell(%q) = %q, want %q", in, got, want)
		}
	}
}
