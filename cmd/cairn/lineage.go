package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/limits"
	"github.com/cairn-dev/cairn/lineage"
	"github.com/cairn-dev/cairn/reconciler"
	"github.com/cairn-dev/cairn/state"
	"github.com/cairn-dev/cairn/targets"
)

func newLineageCmd() *cobra.Command {
	var (
		deployment, at, served, digest, stateFlag, format string
		verifyFull                                        bool
	)
	cmd := &cobra.Command{
		Use:   "lineage [MODEL@VERSION | prompts/NAME@VERSION] [dir] | lineage [dir] --deployment D --at TIME",
		Short: "Trace a model or prompt version's lineage, or say which version a deployment served at a moment",
		Long: `lineage MODEL@VERSION (or models/NAME@VERSION, prompts/NAME@VERSION) traces a version:
upstream, its registration (artifact, data snapshot, features, commit, claimed metrics), the
eval runs of it (suite definition and dataset hash, verdict, metrics) and the alias or label
moves to it with the gates they passed; downstream, each deployment and the intervals during
which it served the version (stable or canary, with its share). --format mermaid draws it.

lineage --deployment D --at T reads the audit log's serve entries of D — one per change to
what D serves: an alias or label moved, the deployment edited, created or removed, a canary
step, a rollback — and says which was in force at T: the last with time ≤ T, in force until
the next. Before the first, nothing was served, and it says so. This is what cairn put in
force; when the cluster applied it is outside cairn's view.

--served V [--digest H] answers yes or no: exit 0 if version V (stable or canary, with digest
H when given) was in force at T, else exit 1 naming what was.

Every entry read is verified (its hash, its link to the entry before it, and the checkpoint
'cairn audit verify' records); --verify-full re-verifies the whole chain first.
Exit codes: 0 answered (and --served: it was served); 1 not served, an unknown deployment
(close matches named), a tampered log (the entry named) or no state; 3 a malformed flag or time.`,
		Example: `  cairn lineage fraud-detector@7 .
  cairn lineage prompts/support-answer@1.4.0 . --format mermaid
  cairn lineage . --deployment fraud-api --at 2026-03-03T14:02:00Z
  cairn lineage . --deployment fraud-api --at 2026-03-03T14:02:00Z --served 8 --format json`,
		Args: cobra.MaximumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 && strings.Contains(args[0], "@") {
				if deployment != "" || at != "" || served != "" {
					return exitf(exitUsage, "lineage: a version's lineage takes no --deployment, --at or --served")
				}
				return versionLineage(cmd, args[0], repoDir(args[1:]), stateFlag, format)
			}
			if len(args) > 1 {
				return exitf(exitUsage, "lineage: %q is not NAME@VERSION; give one directory", args[0])
			}
			if err := checkFormat(cmd, format, "text", "json"); err != nil {
				return err
			}
			if deployment == "" {
				return exitf(exitUsage, "lineage: --deployment is required")
			}
			if at == "" {
				return exitf(exitUsage, "lineage: --at is required (RFC 3339, or a date for its 00:00 UTC)")
			}
			t, err := now(), error(nil)
			if at != "now" {
				if t, err = parseNow(at); err != nil {
					return exitf(exitUsage, "lineage: --at: %v", err)
				}
			}
			if digest != "" && served == "" {
				return exitf(exitUsage, "lineage: --digest needs --served")
			}
			dir := repoDir(args)
			return withStateRead(cmd, stateFlag, dir, nil, func(ctx context.Context, st state.Store) error {
				if verifyFull {
					if _, p, err := state.VerifyScan(ctx, st, ""); err != nil {
						return exitf(exitDenied, "lineage: %v", err)
					} else if p != nil {
						return exitf(exitDenied, "lineage: audit log tampered: %v", p)
					}
				}
				f, err := lineage.At(ctx, st, deployment, t)
				var unknown *lineage.ErrUnknown
				switch {
				case errors.As(err, &unknown):
					names, lerr := reconciler.ServedDeployments(ctx, st)
					if lerr != nil {
						return exitf(exitDenied, "lineage: %v", lerr)
					}
					hint := "no deployment has serve entries yet (cairn apply records them)"
					if close := lineage.Suggest(deployment, names); len(close) > 0 {
						hint = "did you mean " + strings.Join(close, ", ") + "?"
					} else if len(names) > 0 {
						hint = "deployments with serve entries: " + strings.Join(names, ", ")
					}
					return exitf(exitDenied, "lineage: %v; %s", err, hint)
				case err != nil:
					return exitf(exitDenied, "lineage: %v", err)
				}
				ok := served == "" || f.Serves(served, digest)
				if format == "json" {
					out := map[string]any{"in_force": f}
					if served != "" {
						out["served"] = ok
					}
					if err := writeJSON(cmd.OutOrStdout(), out); err != nil {
						return err
					}
				} else {
					writeInForce(cmd.OutOrStdout(), f)
				}
				if !ok {
					what := "nothing"
					if f.Served != nil && !f.Served.Removed {
						what = describe(f.Served.Stable, "stable")
						if f.Served.Canary != nil {
							what += " and " + describe(f.Served.Canary, "canary")
						}
					}
					want := "version " + served
					if digest != "" {
						want += " (" + digest + ")"
					}
					return exitf(exitDenied, "lineage: %s was not in force at %s: deployments/%s served %s", want, formatTime(f.At), deployment, what)
				}
				return nil
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&deployment, "deployment", "", "the deployment")
	fl.StringVar(&at, "at", "", "the moment: RFC 3339, YYYY-MM-DD (00:00 UTC) or now")
	fl.StringVar(&served, "served", "", "exit 0 only if this version was in force (stable or canary) at --at")
	fl.StringVar(&digest, "digest", "", "with --served: the version's digest must match too")
	fl.StringVar(&stateFlag, "state", "", "state store: a path, sqlite://path or postgres://… (default $CAIRN_STATE or <dir>/.cairn/state.db)")
	fl.StringVar(&format, "format", "text", "output format: text or json (and mermaid for a version)")
	fl.BoolVar(&verifyFull, "verify-full", false, "re-verify the whole audit chain first")
	cmd.AddCommand(newLineageExportCmd())
	return cmd
}

func describe(v *targets.ServedVersion, role string) string {
	if v == nil {
		return "nothing"
	}
	return fmt.Sprintf("%s %s (%s, %d %%)", v.Object, v.Version, role, v.Percent)
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func writeInForce(w io.Writer, f *lineage.InForce) {
	if f.Entry == nil {
		fmt.Fprintf(w, "deployments/%s served nothing at %s: its first serve entry is #%d at %s.\n",
			f.Deployment, formatTime(f.At), f.First.Seq, formatTime(f.First.Time))
		return
	}
	s := f.Served
	fmt.Fprintf(w, "deployments/%s at %s: serve entry #%d of %s by %s", f.Deployment, formatTime(f.At), f.Entry.Seq, formatTime(f.Entry.Time), f.Entry.Actor)
	if f.Entry.Commit != "" {
		fmt.Fprintf(w, " (commit %s)", f.Entry.Commit)
	}
	fmt.Fprintln(w)
	if s.Removed {
		fmt.Fprintln(w, "  removed: the deployment served nothing")
	} else {
		for _, x := range []struct {
			role string
			v    *targets.ServedVersion
		}{{"stable", s.Stable}, {"canary", s.Canary}} {
			if x.v != nil {
				fmt.Fprintf(w, "  %-7s %s %s  %s  %d %%\n", x.role, x.v.Object, x.v.Version, x.v.Digest, x.v.Percent)
			}
		}
	}
	if f.Until != nil {
		fmt.Fprintf(w, "  in force until %s (the next serve entry)\n", formatTime(*f.Until))
	} else {
		fmt.Fprintln(w, "  still in force")
	}
	fmt.Fprintf(w, "  bundle %s\n", s.BundleHash)
	fmt.Fprintln(w, "This is what cairn put in force; when the cluster applied it is outside cairn's view.")
}

// versionLineage is `cairn lineage NAME@VERSION`.
func versionLineage(cmd *cobra.Command, ref, dir, stateFlag, format string) error {
	if err := checkFormat(cmd, format, "text", "json", "mermaid"); err != nil {
		return err
	}
	kind, rest := "models", ref
	if k, r, ok := strings.Cut(ref, "/"); ok {
		kind, rest = k, r
	}
	name, version, _ := strings.Cut(rest, "@")
	if kind != "models" && kind != "prompts" || name == "" || version == "" {
		return exitf(exitUsage, "lineage: %q: want NAME@VERSION, models/NAME@VERSION or prompts/NAME@VERSION", ref)
	}
	return withStateRead(cmd, stateFlag, dir, nil, func(ctx context.Context, st state.Store) error {
		v, err := lineage.OfVersion(ctx, st, kind, name, version)
		if err != nil {
			return exitf(exitDenied, "lineage: %v", err)
		}
		w := cmd.OutOrStdout()
		switch format {
		case "json":
			return writeJSON(w, v)
		case "mermaid":
			_, err := io.WriteString(w, v.Mermaid())
			return err
		}
		writeVersion(w, v)
		return nil
	})
}

func writeVersion(w io.Writer, v *lineage.Version) {
	fmt.Fprintf(w, "%s@%s  %s\n", v.Object, v.Version, v.Digest)
	fmt.Fprintf(w, "upstream\n  registered %s", formatTime(v.Registered))
	if v.RegisteredBy != "" {
		fmt.Fprintf(w, " by %s", v.RegisteredBy)
	}
	fmt.Fprintln(w)
	for _, kv := range [][2]string{{"artifact", v.Artifact}, {"data", v.DataSnapshot}, {"features", strings.Join(v.Features, ", ")}, {"commit", v.Commit}} {
		if kv[1] != "" {
			fmt.Fprintf(w, "  %-9s %s\n", kv[0], kv[1])
		}
	}
	if r := v.Run; r != nil {
		for _, in := range r.Inputs {
			fmt.Fprintf(w, "  input     %s@%s%s\n", in.URI, in.Digest, strings.TrimSuffix(" ("+in.Context+")", " ()"))
		}
		for _, k := range slices.Sorted(maps.Keys(r.Params)) {
			fmt.Fprintf(w, "  param     %s = %s\n", k, r.Params[k])
		}
		if r.RepoURL != "" {
			fmt.Fprintf(w, "  repo      %s\n", r.RepoURL)
		}
	}
	if t := v.Trigger; t != nil {
		if t.Seq == 0 {
			fmt.Fprintf(w, "  trigger   %s (no trigger_training entry with this id in the audit log)\n", t.ID)
		} else {
			fmt.Fprintf(w, "  trigger   %s fired at %s via %s (entry #%d): %s\n", t.ID, formatTime(t.At), t.Via, t.Seq, strings.Join(t.Reasons, "; "))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(v.Metrics)) {
		fmt.Fprintf(w, "  claimed   %s = %g\n", k, v.Metrics[k])
	}
	for _, e := range v.Evals {
		verdict := "failed"
		if e.Passed {
			verdict = "passed"
		}
		var ms []string
		for _, k := range slices.Sorted(maps.Keys(e.Metrics)) {
			ms = append(ms, fmt.Sprintf("%s=%.4g", k, e.Metrics[k]))
		}
		fmt.Fprintf(w, "  eval      %s run #%d %s at %s (suite and dataset %s) %s\n", e.Eval, e.Run, verdict, formatTime(e.At), e.EvalHash, strings.Join(ms, " "))
		for _, a := range e.Answered {
			fp := ""
			if a.SystemFingerprint != "" {
				fp = ", fingerprint " + a.SystemFingerprint
			}
			fmt.Fprintf(w, "            answered by %s%s (%d cases)\n", a.Model, fp, a.Cases)
		}
		if len(e.RAGSnapshots) > 0 {
			fmt.Fprintf(w, "            rag snapshots %s\n", strings.Join(e.RAGSnapshots, ", "))
		}
	}
	if q := v.Quality; q != nil {
		verdict := "passed"
		if !q.Passed {
			verdict = fmt.Sprintf("%d rule(s) failed", q.Failures)
		}
		fmt.Fprintf(w, "  quality   feature set %s: latest validation %s on %d rows of %s\n", q.FeatureSet, verdict, q.Rows, q.Data)
	}
	if x := v.Explanation; x != nil {
		var fs []string
		for _, f := range x.Features {
			fs = append(fs, fmt.Sprintf("%s %.4g", f.Name, f.Importance))
		}
		from := ""
		if x.Dataset != "" {
			from = " of " + x.Dataset
		}
		fmt.Fprintf(w, "  explained %s on %d rows%s, attached %s by %s (entry #%d, %s): %s\n", x.Method, x.SampleSize, from, formatTime(x.At), x.By, x.Seq, x.Digest, strings.Join(fs, ", "))
	}
	for _, x := range v.Waivers {
		fmt.Fprintf(w, "  waived    %s by %s (apply of entry #%d, %s)\n", x.Policy, x.Waiver, x.Seq, formatTime(x.At))
	}
	for _, m := range v.Moves {
		var gs []string
		for _, g := range m.Gates {
			gs = append(gs, g.Gate+": "+g.Status)
		}
		fmt.Fprintf(w, "  moved     to %s at %s by %s (entry #%d) — %s\n", m.Name, formatTime(m.At), m.Actor, m.Seq, strings.Join(gs, "; "))
	}
	fmt.Fprintln(w, "downstream")
	if len(v.Served) == 0 {
		fmt.Fprintln(w, "  served by no deployment")
	}
	for _, s := range v.Served {
		to := "now"
		if s.To != nil {
			to = formatTime(*s.To)
		}
		fmt.Fprintf(w, "  deployments/%s  %s %d %%  [%s, %s)  (entry #%d)\n", s.Deployment, s.Role, s.Percent, formatTime(s.From), to, s.Seq)
	}
}

// caClient is the delivery client: the system's roots, and file's
// certificates too when given.
func caClient(file string) (*http.Client, error) {
	c := &http.Client{Timeout: 30 * time.Second}
	if file == "" {
		return c, nil
	}
	pem, err := limits.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate in it", file)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	c.Transport = tr
	return c, nil
}

func newLineageExportCmd() *cobra.Command {
	var (
		format, stateFlag, url, caFile string
		since                          int64
	)
	cmd := &cobra.Command{
		Use:   "export [dir] --format openlineage [--since SEQ] [--url URL]",
		Short: "Export the audit log as OpenLineage run events (JSON lines), or deliver them to a Marquez-compatible server",
		Long: `export writes the audit log's lineage as OpenLineage 2-0-2 RunEvents, one per line: apply runs,
the eval runs each apply ran (children of it), and training runs from the trigger that fired
to the version registered with its id. Exporting the same log twice gives the same bytes.
Events carry names, URIs and digests, never data rows, prompt text or outputs.

--since SEQ leaves out what entries up to SEQ produced. --url POSTs each event to
URL/api/v1/lineage (Marquez's endpoint), with $CAIRN_OPENLINEAGE_TOKEN as a bearer token when
set, and records in the state how far delivery got: only 201 answers advance it, and the next
--url run starts after it (unless --since says otherwise). --ca-file trusts a private CA's
certificates for it. A 400 or an unreachable server is
an error naming the event; what was not accepted is not marked delivered.
Exit codes: 0 written or delivered; 1 a tampered log, no state, or a delivery that failed; 3 usage.`,
		Example: `  cairn lineage export . --format openlineage > lineage.jsonl
  CAIRN_OPENLINEAGE_TOKEN=… cairn lineage export . --format openlineage --url http://marquez:5000`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(cmd, format, "openlineage"); err != nil {
				return err
			}
			if since < 0 {
				return exitf(exitUsage, "lineage export: --since %d: want an audit sequence number ≥ 0", since)
			}
			dir := repoDir(args)
			b, ds := compiler.Compile(dir, compileOptions(dir))
			if b == nil {
				printDiags(cmd.ErrOrStderr(), ds)
				return exitf(exitInvalid, "lineage export: the spec does not compile (its project names the OpenLineage namespace)")
			}
			client, err := caClient(caFile)
			if err != nil {
				return exitf(exitUsage, "lineage export: --ca-file: %v", err)
			}
			return withStateRead(cmd, stateFlag, dir, nil, func(ctx context.Context, st state.Store) error {
				from := since
				if url != "" && !cmd.Flags().Changed("since") {
					if raw, ok, err := st.GetRecord(ctx, lineage.DeliveredKind, url); err != nil {
						return exitf(exitDenied, "lineage export: %v", err)
					} else if ok {
						if _, err := fmt.Sscan(string(raw), &from); err != nil {
							return exitf(exitDenied, "lineage export: the delivery record for %s is not a sequence number (%q): pass --since", url, raw)
						}
					}
				}
				var events []lineage.Event
				w := cmd.OutOrStdout()
				err := lineage.Export(ctx, st, b.Project.Name, from, func(ev lineage.Event) error {
					if url != "" {
						events = append(events, ev)
						return nil
					}
					line, err := json.Marshal(ev)
					if err != nil {
						return err
					}
					_, err = fmt.Fprintf(w, "%s\n", line)
					return err
				})
				if err != nil {
					return exitf(exitDenied, "lineage export: %v", err)
				}
				if url == "" {
					return nil
				}
				head, _, err := st.AuditHead(ctx)
				if err != nil {
					return exitf(exitDenied, "lineage export: %v", err)
				}
				done, derr := lineage.Deliver(ctx, client, url, os.Getenv("CAIRN_OPENLINEAGE_TOKEN"), events, from, head.Seq)
				if done > from {
					if err := st.PutRecord(ctx, lineage.DeliveredKind, url, []byte(fmt.Sprint(done))); err != nil {
						return exitf(exitDenied, "lineage export: recording delivery: %v", err)
					}
				}
				if derr != nil {
					return exitf(exitDenied, "lineage export: %v", derr)
				}
				fmt.Fprintf(w, "delivered %d event(s) to %s; delivered up to audit entry #%d\n", len(events), url, done)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", "openlineage", "export format: openlineage")
	f.Int64Var(&since, "since", 0, "leave out what audit entries up to this sequence number produced")
	f.StringVar(&url, "url", "", "POST the events to this Marquez-compatible server (URL/api/v1/lineage)")
	f.StringVar(&caFile, "ca-file", "", "PEM certificates to trust for --url (a server with a private CA), besides the system's")
	f.StringVar(&stateFlag, "state", "", "state store: a path, sqlite://path or postgres://… (default $CAIRN_STATE or <dir>/.cairn/state.db)")
	return cmd
}
