package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/internal/diag"
)

func newVetCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use: "vet [dir]",
		Example: `  cairn vet examples/fraud-detection
  cairn vet . --format json`,
		Short: "Validate a spec repo: schema, references, referenced files (no policies)",
		Long: `vet compiles the spec repo and reports every error at its file:line:col.
Exit codes: 0 valid, 2 invalid spec, 3 usage or internal error.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return exitf(exitUsage, "vet: unknown --format %q (text or json)", format)
			}
			if err := requireDir(repoDir(args)); err != nil {
				return err
			}
			b, ds := compiler.Compile(repoDir(args), compileOptions(repoDir(args)))
			if err := writeVet(cmd.OutOrStdout(), format, b, ds); err != nil {
				return exitf(exitUsage, "%v", err)
			}
			if len(ds) > 0 {
				return &exitError{code: exitInvalid}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}

func writeVet(w io.Writer, format string, b *compiler.Bundle, ds diag.List) error {
	if format == "json" {
		out := struct {
			Valid       bool              `json:"valid"`
			Bundle      string            `json:"bundle,omitempty"`
			Diagnostics []diag.Diagnostic `json:"diagnostics"`
		}{Valid: len(ds) == 0, Diagnostics: append([]diag.Diagnostic{}, ds...)}
		if b != nil {
			out.Bundle = b.Hash()
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	for _, d := range ds {
		fmt.Fprintln(w, d.String())
	}
	if len(ds) > 0 {
		fmt.Fprintf(w, "%d error(s)\n", len(ds))
		return nil
	}
	fmt.Fprintf(w, "ok: %s (%d models, %d prompts, %d evals, %d deployments) bundle %s\n", b.Project.Name,
		len(b.Models), len(b.Prompts), len(b.Evals), len(b.Deployments), b.Hash())
	return nil
}
