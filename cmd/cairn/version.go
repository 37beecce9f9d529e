package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set by the linker (-ldflags "-X main.version=...") for releases.
var version = "dev"

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use: "version",
		Example: `  cairn version
  cairn --version`,
		Short: "Print cairn's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := version
			if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
				v = bi.Main.Version
			}
			fmt.Fprintf(cmd.OutOrStdout(), "cairn %s (bundle format %d)\n", v, bundleFormat())
			return nil
		},
	}
}
