package prompts

import "testing"

func TestDiff(t *testing.T) {
	base := Content{Template: "Hello {{ name }}.\nBe brief.\nThanks.", Inputs: []string{"name"}, Model: Params{Provider: "openai", ID: "gpt-4o-mini", MaxTokens: 256}}
	tests := []struct {
		name string
		edit func(c *Content)
		want string
	}{
		{"same", func(c *Content) {}, ""},
		{"same modulo CRLF", func(c *Content) { c.Template = "Hello {{ name }}.\r\nBe brief.\r\nThanks.\n" }, ""},
		{"line changed", func(c *Content) { c.Template = "Hello {{ name }}.\nBe very brief.\nThanks." },
			"--- a\n+++ b\n Hello {{ name }}.\n-Be brief.\n+Be very brief.\n Thanks.\n"},
		{"params", func(c *Content) { c.Model.Temperature = 0.7; c.Model.ID = "gpt-4o" },
			"model.id: gpt-4o-mini → gpt-4o\nmodel.temperature: 0 → 0.7\n"},
		{"messages", func(c *Content) { c.Template = ""; c.Messages = []Message{{Role: "system", Content: "Be brief."}} },
			"--- a\n+++ b\n-Hello {{ name }}.\n+[system]\n Be brief.\n-Thanks.\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := base
			tc.edit(&b)
			if got := Diff("a", base, "b", b); got != tc.want {
				t.Errorf("Diff =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}
