package main

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Every command a user runs shows examples in its help, and the help of
// every command names the right binary (never "cairn cairn").
func TestEveryCommandHasExamples(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			if sub.Runnable() && strings.TrimSpace(sub.Example) == "" {
				t.Errorf("%q has no Examples section", sub.CommandPath())
			}
			if strings.Contains(sub.CommandPath(), "cairn cairn") || strings.Contains(sub.UsageString(), "cairn cairn") {
				t.Errorf("%q: help says 'cairn cairn'", sub.CommandPath())
			}
			walk(sub)
		}
	}
	walk(newRootCmd())
}
