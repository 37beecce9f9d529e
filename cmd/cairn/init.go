package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/examples"
)

func init() {
	commands = append(commands, func() *cobra.Command {
		var example string
		cmd := &cobra.Command{
			Use:   "init [dir]",
			Short: "Write an example spec repo into dir (default: the current directory)",
			Args:  cobra.MaximumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				dir := repoDir(args)
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return exitf(exitUsage, "%v", err)
				}
				files, err := examples.Write(example, dir)
				if err != nil {
					return exitf(exitUsage, "init: %v", err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "wrote the %s example (%d files) to %s\nnext: cairn vet %s\n", example, len(files), dir, dir)
				return nil
			},
		}
		cmd.Flags().StringVar(&example, "example", "support", "which example: fraud or support")
		return cmd
	})
}
