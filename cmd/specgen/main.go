// Command specgen writes the generated large spec repo of the benchmarks
// (internal/specgen) to a directory, so that cairn and its peers can be timed
// on it from the shell (make bench-peers).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/cairn-dev/cairn/internal/specgen"
)

func main() {
	models := flag.Int("models", specgen.Large.Models, "models to generate (the other kinds stay at the large repo's counts)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: specgen [-models N] DIR")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	size := specgen.Large
	size.Models = *models
	if err := os.MkdirAll(flag.Arg(0), 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "specgen:", err)
		os.Exit(1)
	}
	if err := specgen.Write(flag.Arg(0), size); err != nil {
		fmt.Fprintln(os.Stderr, "specgen:", err)
		os.Exit(1)
	}
}
