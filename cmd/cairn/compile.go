package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/compiler"
)

func newCompileCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "compile [dir]",
		Short: "Compile a spec repo into its canonical bundle (JSON)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireDir(repoDir(args)); err != nil {
				return err
			}
			b, ds := compiler.Compile(repoDir(args), compiler.Options{})
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
			if err := writeFileAtomic(out, js); err != nil {
				return exitf(exitUsage, "%v", err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s (%s)\n", out, b.Hash())
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the bundle to this file instead of stdout")
	return cmd
}

// writeFileAtomic writes via a temporary file and a rename, so a reader never
// sees half a file and a failed write leaves the old one.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".cairn-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
