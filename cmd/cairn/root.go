package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// Exit codes, per DESIGN.md; exitCodesHelp is the table `cairn help
// exit-codes` prints, and every command follows it.
const (
	exitOK      = 0
	exitDenied  = 1 // check: policy denials; plan/apply/render: error, denial or blocked gate (nothing changed)
	exitInvalid = 2 // vet/check/eval: invalid spec; plan --detailed-exitcode: changes present
	exitUsage   = 3 // usage or internal error
	exitPartial = 4 // apply: some actions applied, others held back by their gates
	exitStale   = 5 // apply PLANFILE: the specs or the state changed since the plan was made
)

const exitCodesHelp = `Exit codes of every cairn command:

  0  success: clean (warnings allowed), applied, rendered, current
  1  vet/check: policy denials (or warnings with --fail-on-warn);
     plan/apply/render/pr/reconcile: an error, an invalid spec, a policy denial
     or a blocked gate — nothing was changed; render --check: stale files
  2  vet/check/eval: invalid spec or policy;
     plan --detailed-exitcode: changes present
  3  usage error: an unknown flag, a bad flag value, a missing spec repo
  4  apply: partial — some actions were applied, others held back by their
     gates (each listed with why)
  5  apply PLANFILE: the saved plan is stale — the specs or the state changed
     since it was made; make a new plan
`

// exitError carries an exit code out of a command. An empty msg means the
// command has already printed what the user needs.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func exitf(code int, format string, args ...any) error {
	return &exitError{code: code, msg: fmt.Sprintf(format, args...)}
}

// commands are the constructors of the top-level commands, one file each
// (cmd/cairn/<name>.go); adding a command is a new file and a line here.
var commands = []func() *cobra.Command{
	newInitCmd, newVetCmd, newCompileCmd, newSchemaCmd, newCheckCmd, newPolicyCmd,
	newRegistryCmd, newPromptsCmd, newPlanCmd, newShowCmd, newApplyCmd, newEvalCmd, newRenderCmd,
	newRAGCmd, newDataCmd, newDriftCmd, newAnalyzeCmd, newAuditCmd, newLineageCmd, newMetricsCmd, newReconcileCmd, newPRCmd,
	newWorkerCmd, newVersionCmd,
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "cairn",
		Short: "Declarative spec compiler and GitOps reconciler for ML and LLM applications",
		Long: `cairn compiles CUE specs of models, features, prompts, RAG sources, evals, SLOs and
deployments into one canonical bundle, checks it against OPA/Rego policies, plans the
change against its registry state, and applies it.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.SetVersionTemplate("cairn {{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return exitf(exitUsage, "%v (see '%s --help')", err, c.CommandPath())
	})
	addLimitFlags(root)
	for _, f := range commands {
		root.AddCommand(f())
	}
	root.AddCommand(&cobra.Command{Use: "exit-codes", Short: "The exit codes every command follows", Long: exitCodesHelp, Example: "  cairn help exit-codes",
		Run: func(cmd *cobra.Command, args []string) { fmt.Fprint(cmd.OutOrStdout(), exitCodesHelp) }})
	return root
}

// repoDir returns the spec repo directory from the optional first argument.
func repoDir(args []string) string {
	if len(args) > 0 && args[0] != "" {
		return args[0]
	}
	return "."
}

// requireDir turns a spec repo path that is not a directory into a usage
// error (exit 3): nothing was wrong with any spec.
func requireDir(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return exitf(exitUsage, "spec repo %q: %v", dir, errors.Unwrap(err))
	}
	if !st.IsDir() {
		return exitf(exitUsage, "spec repo %q is not a directory", dir)
	}
	return nil
}
