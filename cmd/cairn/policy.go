package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/internal/diag"
	"github.com/cairn-dev/cairn/internal/diagfmt"
	"github.com/cairn-dev/cairn/policies"
)

func newPolicyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Test and list policies (the built-in library and the repo's policies/*.rego)",
	}
	cmd.AddCommand(newPolicyTestCmd(), newPolicyListCmd())
	return cmd
}

func newPolicyTestCmd() *cobra.Command {
	var (
		run, format string
		verbose     bool
	)
	cmd := &cobra.Command{
		Use:     "test [dir]",
		Example: `  cairn policy test .`,
		Short:   "Run the Rego unit tests of the built-in library and of the repo's policies/*_test.rego",
		Long: `policy test runs every test_* rule of the built-in policy library and of the spec repo's
policies/*_test.rego, with the same capabilities (no http.send, net.*, opa.runtime, time.now_ns)
and data as check.

Exit codes: 0 all pass, 1 a test failed, 2 a policy or test does not compile, 3 usage error.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return exitf(exitUsage, "policy test: unknown --format %q (text or json)", format)
			}
			if err := requireDir(repoDir(args)); err != nil {
				return err
			}
			res, err := policies.Test(cmd.Context(), policies.Options{Dir: repoDir(args)}, run)
			if err != nil {
				var l diag.List
				if errors.As(err, &l) {
					if werr := diagfmt.Write(cmd.OutOrStdout(), "text", l, diagfmt.Options{}); werr != nil {
						return exitf(exitUsage, "%v", werr)
					}
					return &exitError{code: exitInvalid}
				}
				return exitf(exitUsage, "policy test: %v", err)
			}
			failed := 0
			for _, r := range res {
				if !r.Pass && !r.Skip {
					failed++
				}
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(struct {
					Passed  int                   `json:"passed"`
					Failed  int                   `json:"failed"`
					Results []policies.TestResult `json:"results"`
				}{len(res) - failed, failed, append([]policies.TestResult{}, res...)}); err != nil {
					return exitf(exitUsage, "%v", err)
				}
			} else {
				for _, r := range res {
					status := "PASS"
					switch {
					case r.Skip:
						status = "SKIP"
					case !r.Pass:
						status = "FAIL"
					}
					if status == "PASS" && !verbose {
						continue
					}
					fmt.Fprintf(out, "%s %s: %s", status, r.Pos, r.Name)
					if r.Error != "" {
						fmt.Fprintf(out, ": %s", r.Error)
					}
					fmt.Fprintln(out)
					if r.Output != "" && (status == "FAIL" || verbose) {
						fmt.Fprint(out, indent(r.Output))
					}
				}
				fmt.Fprintf(out, "policy tests: %d passed, %d failed\n", len(res)-failed, failed)
			}
			if len(res) == 0 {
				return exitf(exitDenied, "policy test: no tests matched")
			}
			if failed > 0 {
				return &exitError{code: exitDenied}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&run, "run", "", "run only tests whose name matches this regular expression")
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "list passing tests and print() output too")
	return cmd
}

func newPolicyListCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:     "list [dir]",
		Example: `  cairn policy list examples/fraud-detection`,
		Short:   "List the policies check evaluates, with their severity and title",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(cmd, format, "text", "json"); err != nil {
				return err
			}
			if err := requireDir(repoDir(args)); err != nil {
				return err
			}
			eng, err := policies.New(policies.Options{Dir: repoDir(args)})
			if err != nil {
				var l diag.List
				if errors.As(err, &l) {
					_ = diagfmt.Write(cmd.OutOrStdout(), "text", l, diagfmt.Options{})
					return &exitError{code: exitInvalid}
				}
				return exitf(exitUsage, "policy list: %v", err)
			}
			if format == "json" {
				return writeJSON(cmd.OutOrStdout(), eng.Policies())
			}
			for _, p := range eng.Policies() {
				src := "team"
				if p.Builtin {
					src = "builtin"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%-20s %-4s %-7s %s\n", p.ID, p.Severity, src, p.Title)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}

// indent prefixes every line of print() output so it reads as part of its test.
func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return "    " + strings.Join(lines, "\n    ") + "\n"
}
