package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/internal/diag"
	"github.com/cairn-dev/cairn/internal/diagfmt"
)

func newCheckCmd() *cobra.Command {
	var (
		format     string
		failOnWarn bool
		pf         policyFlags
	)
	cmd := &cobra.Command{
		Use:   "check [dir]",
		Short: "Validate a spec repo and check it against the built-in and team policies",
		Long: `check compiles the spec repo (as vet does), then evaluates the built-in policy library and
the repo's policies/*.rego against the bundle, applying governance.waivers. Every result is
reported at its file:line:col; waived violations are reported as waived. plan, apply and
render run the same check and are blocked by the same denials.

Exit codes: 0 clean (warnings allowed), 1 policy denials (or warnings with --fail-on-warn),
2 invalid spec or policy, 3 usage or internal error.`,
		Example: `  cairn check examples/fraud-detection
  cairn check . --format sarif > cairn.sarif
  cairn check . --now 2026-06-01 --fail-on-warn`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(diagfmt.Formats, format) {
				return exitf(exitUsage, "check: unknown --format %q (one of %s)", format, strings.Join(diagfmt.Formats, ", "))
			}
			dir := repoDir(args)
			c, err := pf.check(cmd, dir)
			if err != nil {
				return err
			}
			opts := diagfmt.Options{ToolVersion: version, PathPrefix: withSlash(repoPrefix(dir)), Root: dir, FallbackFile: mainSpecFile(dir)}
			for _, p := range c.Policies {
				opts.Rules = append(opts.Rules, diagfmt.Rule{ID: p.ID, Title: p.Title, Description: p.Description, HelpURI: p.HelpURI})
			}
			return finishCheck(cmd.OutOrStdout(), format, c.Diagnostics, opts, failOnWarn && c.Compiled())
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", "text", "output format: "+strings.Join(diagfmt.Formats, ", "))
	f.BoolVar(&failOnWarn, "fail-on-warn", false, "exit 1 on warnings too")
	pf.add(cmd)
	return cmd
}

// finishCheck writes the diagnostics and maps them to check's exit code.
func finishCheck(w interface{ Write([]byte) (int, error) }, format string, l diag.List, opts diagfmt.Options, failOnWarn bool) error {
	l.Sort()
	if err := diagfmt.Write(w, format, l, opts); err != nil {
		return exitf(exitUsage, "check: writing %s output: %v", format, err)
	}
	switch {
	case l.Count(diag.Error) > 0:
		return &exitError{code: exitInvalid}
	case l.Count(diag.Deny) > 0, failOnWarn && l.Count(diag.Warn) > 0:
		return &exitError{code: exitDenied}
	}
	return nil
}

// parseNow reads --now: empty is the current time; a date means its 00:00 UTC.
func parseNow(s string) (time.Time, error) {
	if s == "" {
		return now(), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--now %q is neither RFC 3339 (2026-01-15T10:00:00Z) nor a date (2026-01-15)", s)
}

func parseContext(pairs []string) (map[string]any, error) {
	out := map[string]any{}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--context %q is not key=value", p)
		}
		out[k] = v
	}
	return out, nil
}

func withSlash(prefix string) string {
	if prefix == "" {
		return ""
	}
	return prefix + "/"
}
