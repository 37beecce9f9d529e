package main

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// version is set by the linker (-ldflags "-X main.version=...") for releases.
var version = "dev"

func newVersionCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
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
			if err := checkFormat(cmd, format, "text", "json"); err != nil {
				return err
			}
			if format == "json" {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"version": v, "bundle_format": bundleFormat()})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "cairn %s (bundle format %d)\n", v, bundleFormat())
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}

// releaseRef is this binary's release tag for the rendered workflow to pin
// ("" for a development build: the workflow then follows main).
func releaseRef() string {
	if strings.HasPrefix(version, "v") {
		return version
	}
	return ""
}
