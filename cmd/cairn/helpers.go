package main

import (
	"context"
	"encoding/json"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/evals/distributed"
	"github.com/cairn-dev/cairn/state"
)

func bundleFormat() int { return compiler.FormatVersion }

// writeJSON writes v as indented JSON, the --format json output of every command.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// withState runs fn with the state store named by --state (see openState)
// for the repo in dir, and closes the store afterwards.
func withState(cmd *cobra.Command, flag, dir string, fn func(ctx context.Context, st state.Store) error) error {
	ctx := cmd.Context()
	st, err := openState(ctx, flag, dir)
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(ctx, st)
}

// pointerNames maps "object@version" to the names of the pointers (aliases,
// labels) under prefix that point at it, in the store's order.
func pointerNames(ctx context.Context, st state.Store, prefix string) (map[string][]string, error) {
	ptrs, err := st.ListPointers(ctx, prefix)
	if err != nil {
		return nil, exitf(exitDenied, "%v", err)
	}
	names := map[string][]string{}
	for _, p := range ptrs {
		names[p.Object+"@"+p.Version] = append(names[p.Object+"@"+p.Version], p.Name)
	}
	return names, nil
}

// evidenceFlags adds the flags shared by the data commands that record their
// result as evidence: --format (with its help text), --state and --no-record.
func evidenceFlags(cmd *cobra.Command, format *string, formats string, statePath *string, noRecord *bool) {
	f := cmd.Flags()
	f.StringVar(format, "format", "text", "output format: "+formats)
	f.StringVar(statePath, "state", "", "state store (path, sqlite:// or postgres:// URL; default $CAIRN_STATE or <dir>/.cairn/state.db)")
	f.BoolVar(noRecord, "no-record", false, "do not record the result in the state store")
}

// evalInProcess reads CAIRN_EVAL_INPROCESS: "1" runs eval cases in this
// process even with a PostgreSQL state (no workers needed). Only the CLI
// reads the environment.
func evalInProcess() bool { return os.Getenv(distributed.EnvInProcess) == "1" }
