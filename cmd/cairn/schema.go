package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/specs"
)

func newSchemaCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "schema",
		Example: `  cairn schema > cairn.cue`,
		Short:   "Print the CUE schema spec repos are checked against (#Spec)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprint(cmd.OutOrStdout(), specs.Schema())
			return nil
		},
	}
}
