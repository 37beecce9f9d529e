// Command evalserver serves the benchmarks' OpenAI-compatible test server
// (evals/evaltest) on loopback until interrupted, so that cairn and
// promptfoo can be timed against the same server from the shell (make
// bench-peers). It prints its base URL (…/v1) on the first line.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cairn-dev/cairn/evals/evaltest"
)

func main() {
	latency := flag.Duration("latency", 100*time.Millisecond, "added to every successful response")
	retryAfter := flag.String("retry-after", "0.5", "Retry-After of a 429, in seconds")
	throttle := flag.Int64("throttle-every", 0, "answer every Nth request with a 429 (0: never)")
	fail := flag.Int64("fail-every", 0, "answer every Nth request with a 500 (0: never)")
	flag.Parse()
	var n atomic.Int64
	srv := evaltest.New(evaltest.Options{Latency: *latency, RetryAfter: *retryAfter,
		Faults: func(path, prompt string, attempt int) evaltest.Fault {
			switch i := n.Add(1); {
			case *throttle > 0 && i%*throttle == 0:
				return evaltest.Fault429
			case *fail > 0 && i%*fail == 0:
				return evaltest.Fault500
			}
			return evaltest.FaultNone
		}})
	fmt.Println(srv.URL())
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
	srv.Close()
	fmt.Fprintf(os.Stderr, "evalserver: %d requests\n", srv.Requests())
}
