package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/internal/atomicfile"
)

func newCompileCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:     "compile [dir]",
		Example: `  cairn compile examples/support-assistant -o bundle.json`,
		Short:   "Compile a spec repo into its canonical bundle (JSON)",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireDir(repoDir(args)); err != nil {
				return err
			}
			b, ds := compiler.Compile(repoDir(args), compileOptions(repoDir(args)))
			if len(ds) > 0 {
				for _, d := range ds {
					fmt.Fprintln(cmd.ErrOrStderr(), d.String())
				}
				return &exitError{code: exitInvalid}
			}
			js, err := b.JSON()
			if err != nil {
				return exitf(exitUsage, "encoding bundle: %v", err)
			}
			js = append(js, '\n')
			if out == "" || out == "-" {
				_, err = cmd.OutOrStdout().Write(js)
				return err
			}
			if err := atomicfile.Write(out, js, 0o644); err != nil {
				return exitf(exitUsage, "%v", err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s (%s)\n", out, b.Hash())
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the bundle to this file instead of stdout")
	return cmd
}
