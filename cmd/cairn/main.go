// Command cairn compiles, checks, plans and applies ML and LLM specs.
// This package only parses flags, calls the packages and prints their results.
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"runtime/trace"
	"time"
)

func main() {
	startHeap(128 << 20)
	// CAIRN_CPUPROFILE=file writes a CPU profile of the run (for `go tool
	// pprof`): the README's performance notes were measured with it.
	// CAIRN_TRACE=file writes an execution trace (for `go tool trace`): where
	// the wall time of a run goes when its phases share the cores.
	if path := os.Getenv("CAIRN_TRACE"); path != "" {
		if f, err := os.Create(path); err == nil && trace.Start(f) == nil {
			code := run(os.Args[1:])
			trace.Stop()
			f.Close()
			os.Exit(code)
		}
	}
	if path := os.Getenv("CAIRN_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil && pprof.StartCPUProfile(f) == nil {
			code := run(os.Args[1:])
			pprof.StopCPUProfile()
			f.Close()
			os.Exit(code)
		}
	}
	os.Exit(run(os.Args[1:]))
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
