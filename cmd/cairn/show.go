package main

import (
	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/reconciler"
)

func newShowCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "show PLANFILE",
		Short: "Show a saved plan (from 'cairn plan -out FILE') as text, JSON or Markdown",
		Long: `show reads a plan saved by 'cairn plan -out FILE' and prints it; the JSON is the documented
plan format (docs/plan.schema.json). It reads no specs and no state.
Exit codes: 0 shown, 3 usage (including a file that is not a plan).`,
		Example: `  cairn plan . -out cairn.plan && cairn show cairn.plan --format json`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(cmd, format, "text", "json", "markdown"); err != nil {
				return err
			}
			p, err := reconciler.ReadPlanFile(args[0])
			if err != nil {
				return exitf(exitUsage, "show: %v", err)
			}
			if err := reconciler.WritePlan(cmd.OutOrStdout(), p, format); err != nil {
				return exitf(exitDenied, "show: %v", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "text, json or markdown")
	return cmd
}
