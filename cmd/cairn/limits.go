package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/limits"
)

// addLimitFlags gives every command the input limits (limits.Settings) as
// persistent flags, each also settable by its environment variable; the
// root's pre-run puts them in force before any file is read.
func addLimitFlags(root *cobra.Command) {
	// The root's pre-run runs before a subcommand's own (rag's), not
	// instead of it.
	cobra.EnableTraverseRunHooks = true
	for _, s := range limits.Settings {
		root.PersistentFlags().String(s.Flag, "", s.Usage+" (default "+s.Format(*s.Field(&limits.Default))+", or $"+s.Env+")")
	}
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		var l limits.Limits
		for _, s := range limits.Settings {
			v, from := os.Getenv(s.Env), "$"+s.Env
			if f := cmd.Flags().Lookup(s.Flag); f != nil && f.Changed {
				v, from = f.Value.String(), "--"+s.Flag
			}
			if v == "" {
				continue
			}
			n, err := s.Parse(v)
			if err != nil {
				return exitf(exitUsage, "%s: %v", from, err)
			}
			*s.Field(&l) = n
		}
		limits.Set(l)
		return nil
	}
}
