package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/internal/atomicfile"
	"github.com/cairn-dev/cairn/specs"
)

func newSchemaCmd() *cobra.Command {
	var format, pkg, out string
	cmd := &cobra.Command{
		Use: "schema [--format cue|jsonschema] [--package NAME] [--out DIR]",
		Example: `  cairn schema > cairn.cue
  cairn schema --package fraud --out .cairn/schema && cue vet -c .cairn/schema/schema.cue *.cue specs/*.cue
  cairn schema --format jsonschema > cairn.schema.json`,
		Short: "Print the schema spec repos are checked against, for cue vet, editors and JSON tooling",
		Long: `schema prints the CUE schema every spec repo is unified with (#Spec).

With --package NAME it prints it as a file of the spec repo's package NAME, the form
'cue vet' and the CUE language server check a repo with: keep it outside the directories
cairn loads (the root and specs/), for example in .cairn/schema/. --format jsonschema
prints #Spec as a JSON Schema (draft 2020-12). --out DIR writes both, schema.cue (of
--package, default "cairn") and spec.schema.json, instead of printing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(cmd, format, "cue", "jsonschema"); err != nil {
				return err
			}
			cueSrc := func(p string) (string, error) {
				if p == "" {
					return specs.Schema(), nil
				}
				s, err := specs.ForPackage(p)
				if err != nil {
					return "", exitf(exitUsage, "schema: --package: %v", err)
				}
				return s, nil
			}
			if out != "" {
				if pkg == "" {
					pkg = "cairn"
				}
				files, err := specs.OutFiles(pkg)
				if err != nil {
					return exitf(exitUsage, "schema: --package: %v", err)
				}
				if err := os.MkdirAll(out, 0o755); err != nil {
					return exitf(exitUsage, "schema: --out: %v", err)
				}
				var paths []string
				for _, f := range files {
					p := filepath.Join(out, f.Name)
					if err := atomicfile.Write(p, f.Content, 0o644); err != nil {
						return exitf(exitUsage, "schema: --out: %v", err)
					}
					paths = append(paths, p)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (package %s)\n", strings.Join(paths, " and "), pkg)
				return nil
			}
			if format == "jsonschema" {
				js, err := specs.JSONSchema()
				if err != nil {
					return exitf(exitUsage, "schema: %v", err)
				}
				_, err = cmd.OutOrStdout().Write(js)
				return err
			}
			src, err := cueSrc(pkg)
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), src)
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "cue", "cue or jsonschema")
	cmd.Flags().StringVar(&pkg, "package", "", "print the schema as a file of this package, for cue vet")
	cmd.Flags().StringVar(&out, "out", "", "write schema.cue and spec.schema.json to this directory")
	return cmd
}
