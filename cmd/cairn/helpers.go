package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

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

// splitDir takes the optional spec repo [dir] from the end of a command's
// positional arguments: when there are more than min and the last one is a
// directory, it is the repo; the rest are the command's own arguments.
func splitDir(args []string, min int) ([]string, string) {
	if len(args) > min {
		if fi, err := os.Stat(args[len(args)-1]); err == nil && fi.IsDir() {
			return args[:len(args)-1], args[len(args)-1]
		}
	}
	return args, "."
}

// withStateRead is withState for a read-only command: it never creates a
// state. Where none exists, empty (if not nil) gives the command's explicit
// empty result; otherwise that is an error naming where it looked (exit 1).
func withStateRead(cmd *cobra.Command, flag, dir string, empty func() error, fn func(ctx context.Context, st state.Store) error) error {
	ctx := cmd.Context()
	st, err := state.OpenExisting(ctx, state.Location(flag, dir))
	if errors.Is(err, state.ErrNoState) {
		if empty != nil {
			return empty()
		}
		return exitf(exitDenied, "%v", err)
	}
	if err != nil {
		return exitf(exitDenied, "%v", err)
	}
	defer st.Close()
	return fn(ctx, st)
}

// checkFormat refuses a --format the command does not write (a usage error).
func checkFormat(cmd *cobra.Command, format string, allowed ...string) error {
	if !slices.Contains(allowed, format) {
		return exitf(exitUsage, "%s: unknown --format %q (%s)", cmd.CommandPath()[len("cairn "):], format, strings.Join(allowed, ", "))
	}
	return nil
}

// specRepo reports whether dir holds spec files (.cue at its root or under specs/).
func specRepo(dir string) bool {
	for _, pat := range []string{"*.cue", "specs/*.cue"} {
		if m, _ := filepath.Glob(filepath.Join(dir, pat)); len(m) > 0 {
			return true
		}
	}
	return false
}

// progress reports the cases of a run as they finish: a progress bar on a
// terminal whose TERM is not dumb, else a plain line at every tenth (and
// the last) case, so logs of CI jobs stay readable. finish ends the bar.
func progress(w io.Writer, what string) (update func(done, total int), finish func()) {
	f, ok := w.(*os.File)
	if r, isR := w.(*redactor); isR {
		f, ok = r.f, true
	}
	if ok && term.IsTerminal(int(f.Fd())) && os.Getenv("TERM") != "dumb" {
		bar := progressbar.NewOptions(-1, progressbar.OptionSetWriter(f), progressbar.OptionSetDescription(what), progressbar.OptionClearOnFinish())
		return func(done, total int) { bar.ChangeMax(total); _ = bar.Set(done) }, func() { _ = bar.Finish() }
	}
	var mu sync.Mutex
	last := -1
	return func(done, total int) {
		mu.Lock()
		defer mu.Unlock()
		step := max(total/10, 1)
		if done == last || (done%step != 0 && done != total) {
			return
		}
		last = done
		fmt.Fprintf(w, "%s: %d/%d cases\n", what, done, total)
	}, func() {}
}

// mainSpecFile is the repo's first root .cue file ("cairn.cue" when there is
// one), where output formats that need a file place repo-wide findings.
func mainSpecFile(dir string) string {
	if _, err := os.Stat(filepath.Join(dir, "cairn.cue")); err == nil {
		return "cairn.cue"
	}
	m, _ := filepath.Glob(filepath.Join(dir, "*.cue"))
	if len(m) > 0 {
		return filepath.Base(m[0])
	}
	return ""
}

// emptyList is a read-only list command's answer where no state exists
// yet: nothing is registered, said in the format asked for.
func emptyList(cmd *cobra.Command, format, what string) func() error {
	return func() error {
		if format == "json" {
			return writeJSON(cmd.OutOrStdout(), []any{})
		}
		fmt.Fprintf(cmd.OutOrStdout(), "no %s registered\n", what)
		return nil
	}
}

// refuseSecrets stops a command that would send the objects' data to a
// provider or an index while it holds a credential: exit 1, each finding at
// its file:line, the secret never printed.
func refuseSecrets(cmd *cobra.Command, b *compiler.Bundle, objects ...string) error {
	found := b.SecretsIn(objects...)
	if len(found) == 0 {
		return nil
	}
	for _, f := range found {
		fmt.Fprintln(cmd.ErrOrStderr(), f.String())
	}
	return exitf(exitDenied, "%s: %d credential(s) in what it would send out; nothing was sent (remove them; 'cairn check' denies them too)", cmd.CommandPath()[len("cairn "):], len(found))
}

// emptyState is a throwaway empty state for a read-only command that means
// "nothing yet" where there is no state (plan, rag status); closing it
// removes it.
func emptyState(ctx context.Context) (state.Store, error) {
	dir, err := os.MkdirTemp("", "cairn-empty-*")
	if err != nil {
		return nil, err
	}
	st, err := state.OpenSQLite(ctx, filepath.Join(dir, "state.db"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &tempStore{Store: st, dir: dir}, nil
}

type tempStore struct {
	state.Store
	dir string
}

func (t *tempStore) Close() error {
	err := t.Store.Close()
	os.RemoveAll(t.dir)
	return err
}

// cacheOptions are where check keeps its incremental results for the repo at
// dir, and the identity of this cairn build, so another build never reads
// them: its version and, since a development build keeps "dev", its
// executable's size and time. Like Go's build cache, it lives outside the
// repo — $CAIRN_CACHE_DIR, else the user cache directory, under cairn/check/
// and one directory per repo path — so that read-only commands create
// nothing in the repo (the state rule); CAIRN_CACHE_DIR=off turns it off.
func cacheOptions(dir string) (cacheDir, salt string) {
	base, ok := os.LookupEnv("CAIRN_CACHE_DIR")
	switch {
	case ok && (base == "off" || base == ""):
		return "", ""
	case !ok:
		ucd, err := os.UserCacheDir()
		if err != nil {
			return "", ""
		}
		base = filepath.Join(ucd, "cairn", "check")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", ""
	}
	sum := sha256.Sum256([]byte(abs))
	salt = version
	if exe, err := os.Executable(); err == nil {
		if st, err := os.Stat(exe); err == nil {
			salt = fmt.Sprintf("%s %d %d", version, st.Size(), st.ModTime().UnixNano())
		}
	}
	return filepath.Join(base, hex.EncodeToString(sum[:8])), salt
}

// compileOptions are vet's and compile's: the check cache's compile half.
func compileOptions(dir string) compiler.Options {
	cacheDir, salt := cacheOptions(dir)
	return compiler.Options{CacheDir: cacheDir, CacheSalt: salt}
}
