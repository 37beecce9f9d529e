package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/examples"
)

func newInitCmd() *cobra.Command {
	var example string
	cmd := &cobra.Command{
		Use: "init [dir]",
		Example: `  cairn init --example credit credit-specs
  cairn init --example fraud my-specs
  cairn init --example support .`,
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
			fmt.Fprintf(cmd.OutOrStdout(), "wrote the %s example (%d files) to %s\n%s", example, len(files), dir, nextSteps(example, dir))
			return nil
		},
	}
	cmd.Flags().StringVar(&example, "example", "support", "which example: credit, fraud or support")
	return cmd
}

// nextSteps tells a new user how to take the example through a full apply
// offline: the approvals a PR would give, and the versions a training
// pipeline would have registered.
func nextSteps(example, dir string) string {
	s := "next:\n  cairn check " + dir + "\n"
	st := filepath.Join(dir, ".cairn", "state.db") // where plan and apply keep state by default
	if example == "fraud" {
		s += "  # a training pipeline registers the versions the aliases name:\n" +
			"  cairn registry register fraud-detector --state " + st + " --version 7 --artifact s3://models/fraud/7 --metric auc=0.94 --metric false_positive_rate=0.03\n" +
			"  cairn registry register fraud-detector --state " + st + " --version 8 --artifact s3://models/fraud/8 --metric auc=0.95 --metric false_positive_rate=0.03\n"
	}
	if example == "credit" {
		s += "  # the gates apply before training (the prod move waits for version 3; exit 4):\n" +
			"  cairn apply --approvals 1 " + dir + "\n" +
			"  cairn registry register credit-scorer --state " + st + " --version 3 --artifact s3://acme-credit/models/credit-scorer/3 --metric auc=0.81 --features income-monthly,debt-to-income,employment-years,missed-payments-24m\n" +
			"  cairn registry attach credit-scorer 3 --state " + st + " --explanation " + filepath.Join(dir, "explanations", "credit-3.json") + "\n" +
			"  cairn apply --approvals 1 " + dir + "\n" +
			"  cairn audit report " + dir + " --framework eu-ai-act\n"
		return s
	}
	s += "  cairn plan --approvals 1 " + dir + "    # the prod gate wants one approval (in CI it comes from the pull request)\n" +
		"  cairn apply --approvals 1 " + dir + "\n" +
		"  cairn audit report " + dir + "\n"
	return s
}
