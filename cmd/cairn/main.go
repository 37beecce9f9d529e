// Command cairn compiles, checks, plans and applies ML and LLM specs.
// This package only parses flags, calls the packages and prints their results.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"runtime/trace"
	"time"

	"github.com/cairn-dev/cairn/internal/gctune"
)

func main() {
	gctune.Start(gcMode(os.Args[1:]))
	// CAIRN_CPUPROFILE=file writes a CPU profile of the run (for `go tool
	// pprof`); CAIRN_TRACE=file an execution trace (for `go tool trace`),
	// which shows where the wall time goes when phases share the cores.
	// The README's performance notes were measured with them.
	for _, p := range []struct {
		env   string
		start func(io.Writer) error
		stop  func()
	}{{"CAIRN_CPUPROFILE", pprof.StartCPUProfile, pprof.StopCPUProfile}, {"CAIRN_TRACE", trace.Start, trace.Stop}} {
		if path := os.Getenv(p.env); path != "" {
			if f, err := os.Create(path); err == nil && p.start(f) == nil {
				code := run(os.Args[1:])
				p.stop()
				f.Close()
				os.Exit(code)
			}
		}
	}
	os.Exit(run(os.Args[1:]))
}

// batchCommands compile, check, plan or render a repo once and exit: they
// run with the collector off under a soft limit (internal/gctune). The rest
// keep working for a while (apply's and eval's cases, workers, servers).
var batchCommands = map[string]bool{"check": true, "vet": true, "compile": true, "plan": true, "render": true, "pr": true}

// gcMode is the collector's setting for the command args name.
func gcMode(args []string) gctune.Mode {
	root := newRootCmd()
	if cmd, _, err := root.Find(terraformFlags(args)); err == nil && cmd.Parent() == root && batchCommands[cmd.Name()] {
		return gctune.Batch
	}
	return gctune.Steady
}

// now is the CLI's clock, in UTC. Tests replace it in-process (the
// testscript harness reads CAIRN_TEST_CLOCK in the test binary only); a
// release build has no way to set it.
var now = func() time.Time { return time.Now().UTC() }

// run executes the CLI and returns the process exit code; tests call it through testscript.
func run(args []string) int {
	stdout, stderr := newRedactor(os.Stdout), newRedactor(os.Stderr)
	defer stdout.Flush()
	defer stderr.Flush()
	root := newRootCmd()
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetArgs(terraformFlags(args))
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ec *exitError
	if errors.As(err, &ec) {
		if ec.msg != "" {
			fmt.Fprintln(stderr, "cairn: "+ec.msg)
		}
		return ec.code
	}
	// Cobra's own flag and argument errors, and anything unexpected, are usage errors.
	fmt.Fprintln(stderr, "cairn: "+err.Error())
	return exitUsage
}

// terraformFlags accepts Terraform's single-dash spelling of plan's -out
// (pflag would read "-out" as the shorthands -o -u -t).
func terraformFlags(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "-out" || len(a) > 5 && a[:5] == "-out=" {
			a = "-" + a
		}
		out[i] = a
	}
	return out
}
