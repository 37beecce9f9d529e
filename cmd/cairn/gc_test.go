package main

import (
	"testing"

	"github.com/cairn-dev/cairn/internal/gctune"
)

// The one-shot commands run with the batch collector setting, whatever
// their flags; commands that keep working do not; and every name in
// batchCommands is a command (a renamed one would silently lose it).
func TestGCMode(t *testing.T) {
	for _, c := range []struct {
		args []string
		want gctune.Mode
	}{
		{[]string{"check", "."}, gctune.Batch},
		{[]string{"check", "-format=json", "examples/fraud-detection"}, gctune.Batch},
		{[]string{"--max-file-bytes", "1000", "vet", "."}, gctune.Batch},
		{[]string{"plan", "--out", "p.json", "."}, gctune.Batch},
		{[]string{"render", "."}, gctune.Batch},
		{[]string{"compile", "-o", "b.json"}, gctune.Batch},
		{[]string{"pr", "--help"}, gctune.Batch},
		{[]string{"apply", "."}, gctune.Steady},
		{[]string{"eval", "."}, gctune.Steady},
		{[]string{"worker"}, gctune.Steady},
		{[]string{"policy", "test"}, gctune.Steady},
		{[]string{"no-such-command"}, gctune.Steady},
		{nil, gctune.Steady},
	} {
		if got := gcMode(c.args); got != c.want {
			t.Errorf("gcMode(%q) = %d, want %d", c.args, got, c.want)
		}
	}
	root := newRootCmd()
	for name := range batchCommands {
		if cmd, _, err := root.Find([]string{name}); err != nil || cmd.Name() != name {
			t.Errorf("batchCommands names %q, which is not a command", name)
		}
	}
}
