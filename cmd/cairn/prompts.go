package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/prompts"
	"github.com/cairn-dev/cairn/state"
)

func promptContent(pv *state.PromptVersion) prompts.Content {
	c := prompts.Content{Template: pv.Template, Inputs: pv.Inputs,
		Model: prompts.Params{Provider: pv.Model.Provider, ID: pv.Model.ID, Temperature: pv.Model.Temperature, MaxTokens: pv.Model.MaxTokens}}
	for _, m := range pv.Messages {
		c.Messages = append(c.Messages, prompts.Message{Role: m.Role, Content: m.Content})
	}
	return c
}

func newPromptsCmd() *cobra.Command {
	root := &cobra.Command{Use: "prompts", Short: "Prompt registry: registered versions, labels, history and diffs"}
	var stateFlag, format string
	root.PersistentFlags().StringVar(&stateFlag, "state", "", "state store: a path, sqlite://path or postgres://… (default $CAIRN_STATE or <dir>/.cairn/state.db)")

	list := &cobra.Command{
		Use:     "list [dir]",
		Short:   "List prompts with their registered versions and labels",
		Long:    `list reads the state of the spec repo in dir (or --state); with no state yet, none are registered.`,
		Example: `  cairn prompts list examples/support-assistant --format json`,
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(cmd, format, "text", "json"); err != nil {
				return err
			}
			return withStateRead(cmd, stateFlag, repoDir(args), emptyList(cmd, format, "prompt versions"), func(ctx context.Context, st state.Store) error {
				vs, err := st.ListPromptVersions(ctx, "")
				if err != nil {
					return exitf(exitDenied, "%v", err)
				}
				labels, err := pointerNames(ctx, st, "prompts/")
				if err != nil {
					return err
				}
				if format == "json" {
					type row struct {
						Prompt      string   `json:"prompt"`
						Version     string   `json:"version"`
						ContentHash string   `json:"content_hash"`
						Labels      []string `json:"labels"`
					}
					rows := []row{}
					for _, v := range vs {
						rows = append(rows, row{v.Prompt, v.Version, v.ContentHash, append([]string{}, labels["prompts/"+v.Prompt+"@"+v.Version]...)})
					}
					return writeJSON(cmd.OutOrStdout(), rows)
				}
				if len(vs) == 0 {
					fmt.Fprintln(cmd.OutOrStdout(), "no prompt versions registered")
					return nil
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "PROMPT\tVERSION\tLABELS\tCONTENT\tMODEL")
				for _, v := range vs {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.Prompt, v.Version, strings.Join(labels["prompts/"+v.Prompt+"@"+v.Version], ","), v.ContentHash, v.Model.ID)
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().StringVar(&format, "format", "text", "text or json")

	show := &cobra.Command{
		Use:     "show <name> [version|label] [dir]",
		Short:   "Show a registered prompt version (default: the newest)",
		Example: `  cairn prompts show support-answer prod`,
		Args:    cobra.RangeArgs(1, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(cmd, format, "text", "json"); err != nil {
				return err
			}
			args, dir := splitDir(args, 1)
			if len(args) > 2 {
				return exitf(exitUsage, "prompts show: want a prompt and an optional version or label, got %q", args)
			}
			return withStateRead(cmd, stateFlag, dir, nil, func(ctx context.Context, st state.Store) error {
				pv, err := resolvePromptVersion(cmd, st, args[0], args[1:])
				if err != nil {
					return err
				}
				if format == "json" {
					return writeJSON(cmd.OutOrStdout(), pv)
				}
				w := cmd.OutOrStdout()
				fmt.Fprintf(w, "prompt:     %s\nversion:    %s\ncontent:    %s\nmodel:      %s/%s temperature=%g max_tokens=%d\ninputs:     %s\nregistered: %s by %s\n",
					pv.Prompt, pv.Version, pv.ContentHash, pv.Model.Provider, pv.Model.ID, pv.Model.Temperature, pv.Model.MaxTokens,
					strings.Join(pv.Inputs, ", "), state.FormatTime(pv.RegisteredAt), pv.RegisteredBy)
				if pv.Template != "" {
					fmt.Fprintf(w, "template:\n%s\n", indentBlock(prompts.Canonical(pv.Template)))
				}
				for _, m := range pv.Messages {
					fmt.Fprintf(w, "[%s]\n%s\n", m.Role, indentBlock(m.Content))
				}
				return nil
			})
		},
	}
	show.Flags().StringVar(&format, "format", "text", "text or json")

	history := &cobra.Command{
		Use:     "history <name> [dir]",
		Short:   "Registrations and label moves of a prompt, from the audit log",
		Example: `  cairn prompts history support-answer --format json`,
		Args:    cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(cmd, format, "text", "json"); err != nil {
				return err
			}
			args, dir := splitDir(args, 1)
			if len(args) != 1 {
				return exitf(exitUsage, "prompts history: want one prompt name, got %q", args)
			}
			return withStateRead(cmd, stateFlag, dir, nil, func(ctx context.Context, st state.Store) error {
				log, err := st.ListAudit(ctx)
				if err != nil {
					return exitf(exitDenied, "%v", err)
				}
				var entries []state.AuditEntry
				for _, e := range log {
					if e.Object == "prompts/"+args[0] {
						entries = append(entries, e)
					}
				}
				if len(entries) == 0 {
					return exitf(exitDenied, "no history for prompts/%s", args[0])
				}
				if format == "json" {
					return writeJSON(cmd.OutOrStdout(), entries)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "#\tTIME\tACTOR\tACTION\tCHANGE")
				for _, e := range entries {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", e.Seq, state.FormatTime(e.Time), e.Actor, e.Action, historyChange(e))
				}
				return tw.Flush()
			})
		},
	}

	diff := &cobra.Command{
		Use:     "diff <name> <v1> <v2> [dir]",
		Short:   "Show how two registered versions (or labels) of a prompt differ",
		Example: `  cairn prompts diff support-answer 1.3.0 prod`,
		Args:    cobra.RangeArgs(3, 4),
		RunE: func(cmd *cobra.Command, args []string) error {
			args, dir := splitDir(args, 3)
			if len(args) != 3 {
				return exitf(exitUsage, "prompts diff: want a prompt and two versions or labels, got %q", args)
			}
			return withStateRead(cmd, stateFlag, dir, nil, func(ctx context.Context, st state.Store) error {
				a, err := resolvePromptVersion(cmd, st, args[0], args[1:2])
				if err != nil {
					return err
				}
				b, err := resolvePromptVersion(cmd, st, args[0], args[2:3])
				if err != nil {
					return err
				}
				d := prompts.Diff(args[0]+"@"+a.Version, promptContent(a), args[0]+"@"+b.Version, promptContent(b))
				if d == "" {
					fmt.Fprintf(cmd.OutOrStdout(), "%s and %s have the same content (%s)\n", a.Version, b.Version, a.ContentHash)
					return nil
				}
				fmt.Fprint(cmd.OutOrStdout(), d)
				return nil
			})
		},
	}
	history.Flags().StringVar(&format, "format", "text", "text or json")
	root.AddCommand(list, show, history, diff)
	return root
}

// resolvePromptVersion accepts a version or a label name; none means the newest version.
func resolvePromptVersion(cmd *cobra.Command, st state.Store, name string, arg []string) (*state.PromptVersion, error) {
	ctx := cmd.Context()
	if len(arg) == 0 {
		vs, err := st.ListPromptVersions(ctx, name)
		if err != nil {
			return nil, exitf(exitDenied, "%v", err)
		}
		if len(vs) == 0 {
			return nil, exitf(exitDenied, "prompts/%s has no registered versions", name)
		}
		return &vs[len(vs)-1], nil
	}
	v := arg[0]
	if label, ok, err := st.GetPointer(ctx, "prompts/"+name, v); err == nil && ok {
		v = label
	}
	pv, err := st.GetPromptVersion(ctx, name, v)
	if err != nil {
		return nil, exitf(exitDenied, "%v", err)
	}
	return pv, nil
}

func indentBlock(s string) string { return "    " + strings.ReplaceAll(s, "\n", "\n    ") }

// historyChange says in words what an audit entry of a prompt did.
func historyChange(e state.AuditEntry) string {
	var after struct {
		Version     string `json:"version"`
		ContentHash string `json:"content_hash"`
		Name        string `json:"name"`
		Deleted     string `json:"deleted"`
	}
	var before struct {
		Version string `json:"version"`
	}
	_ = json.Unmarshal([]byte(e.After), &after)
	_ = json.Unmarshal([]byte(e.Before), &before)
	from := before.Version
	if from == "" {
		from = "(unset)"
	}
	switch {
	case after.Deleted != "":
		return fmt.Sprintf("label %s: %s → (removed)", after.Deleted, from)
	case after.Name != "":
		return fmt.Sprintf("label %s: %s → %s", after.Name, from, after.Version)
	case after.ContentHash != "":
		return fmt.Sprintf("version %s (%s)", after.Version, after.ContentHash)
	}
	return ""
}
