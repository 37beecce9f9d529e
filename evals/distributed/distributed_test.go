package distributed_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/evals"
	"github.com/cairn-dev/cairn/evals/distributed"
	"github.com/cairn-dev/cairn/evals/evaltest"
	"github.com/cairn-dev/cairn/state/postgres"
	"github.com/cairn-dev/cairn/state/postgres/pgtest"
)

// TestMain doubles as a worker process: the multi-process tests re-execute
// the test binary with CAIRN_DIST_WORKER=<state URL>.
func TestMain(m *testing.M) {
	if u := os.Getenv("CAIRN_DIST_WORKER"); u != "" {
		os.Exit(workerProcess(u))
	}
	os.Exit(m.Run())
}

func workerProcess(u string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	s, err := postgres.Open(ctx, u)
	if err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	defer s.Close()
	w, err := distributed.NewWorker(ctx, s, testWorkerOpts(""))
	if err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	fmt.Println("READY", w.ID())
	if err := w.Run(ctx); err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	b, _ := json.Marshal(w.Stats())
	fmt.Println("STATS", string(b))
	return 0
}

func testWorkerOpts(id string) distributed.WorkerOptions {
	return distributed.WorkerOptions{ID: id, Concurrency: 8, JobTimeout: 10 * time.Second, ReapInterval: 200 * time.Millisecond,
		FetchPollInterval: 100 * time.Millisecond, Getenv: func(string) string { return "sk-test" }, Logger: distributed.DiscardLogger()}
}

// fixture is a spec repo with n rows scored by exact match against the
// loopback server's "answer: <question>" replies.
func fixture(t testing.TB, baseURL string, n int) *compiler.Bundle {
	t.Helper()
	root := t.TempDir()
	var b strings.Builder
	for i := 0; i < n; i++ {
		ref := fmt.Sprintf("answer: q%d", i)
		if i%10 == 9 {
			ref = "something else" // every tenth case fails
		}
		fmt.Fprintf(&b, `{"id": "c%04d", "vars": {"question": "q%d"}, "reference": %q}`+"\n", i, i, ref)
	}
	if err := os.WriteFile(filepath.Join(root, "ds.jsonl"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return &compiler.Bundle{
		Root:      root,
		Providers: map[string]*compiler.Provider{"llm": {Name: "llm", Kind: "openai-compatible", BaseURL: baseURL, APIKeyEnv: "TEST_KEY"}},
		Prompts: map[string]*compiler.Prompt{"qa": {Name: "qa", Template: "{{ question }}",
			Model: compiler.PromptModel{Provider: "llm", ID: "gpt-4o-mini", MaxTokens: 64}}},
		Evals: map[string]*compiler.Eval{"qa": {Name: "qa", Target: compiler.EvalTarget{Prompt: "qa"}, Dataset: "ds.jsonl",
			Metrics: map[string]compiler.Metric{
				"exact":    {Scorer: "exact", Threshold: 0.95, Aggregate: "mean"},
				"contains": {Scorer: "contains", Threshold: 0.5, Aggregate: "pass_rate"},
			}, Repeats: 1}},
	}
}

func evalOpts(store evals.Store) evals.Options {
	return evals.Options{Parallel: 8, Store: store, Getenv: func(string) string { return "sk-test" }, MaxRetries: 3, BackoffBase: time.Millisecond}
}

func openStore(t testing.TB, u string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// startWorkers runs n in-process workers, each with its own pool (as
// separate processes would), until the test ends.
func startWorkers(t testing.TB, u string, n int, opts func(i int) distributed.WorkerOptions) []*distributed.Worker {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var ws []*distributed.Worker
	for i := 0; i < n; i++ {
		s := openStore(t, u)
		w, err := distributed.NewWorker(ctx, s, opts(i))
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Run(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
	return ws
}

func sameRun(t *testing.T, got, want *evals.Run) {
	t.Helper()
	if got.Status != want.Status || got.Passed != want.Passed || got.Errors != want.Errors || len(got.Cases) != len(want.Cases) ||
		got.InputTokens != want.InputTokens || got.OutTokens != want.OutTokens || got.CostUSD != want.CostUSD || got.BundleHash != want.BundleHash {
		t.Fatalf("distributed run differs:\n got %s %v err=%d cases=%d tok=%d/%d cost=%v\nwant %s %v err=%d cases=%d tok=%d/%d cost=%v",
			got.Status, got.Passed, got.Errors, len(got.Cases), got.InputTokens, got.OutTokens, got.CostUSD,
			want.Status, want.Passed, want.Errors, len(want.Cases), want.InputTokens, want.OutTokens, want.CostUSD)
	}
	gm, _ := json.Marshal(got.Metrics)
	wm, _ := json.Marshal(want.Metrics)
	if string(gm) != string(wm) {
		t.Fatalf("metrics differ:\n got %s\nwant %s", gm, wm)
	}
	gr, _ := json.Marshal(got.Rows)
	wr, _ := json.Marshal(want.Rows)
	if string(gr) != string(wr) {
		t.Fatal("rows differ")
	}
	for i := range want.Cases {
		g, w := got.Cases[i], want.Cases[i]
		if g.ID != w.ID || g.Status != w.Status || g.Output != w.Output || g.Key != w.Key {
			t.Fatalf("case %d: got %s %s %q, want %s %s %q", i, g.ID, g.Status, g.Output, w.ID, w.Status, w.Output)
		}
	}
}

// The distributed run reports what the in-process runner reports, stores the
// same records, and a rerun is served from the shared cache.
func TestMatchesInProcessRunAndCaches(t *testing.T) {
	u, _ := pgtest.Schema(t)
	srv := evaltest.New(evaltest.Options{})
	defer srv.Close()
	const n = 120
	b := fixture(t, srv.URL(), n)
	want, err := evals.RunSuite(context.Background(), b, "qa", evalOpts(evals.NewMemStore()))
	if err != nil {
		t.Fatal(err)
	}
	if want.Passed || want.Status != evals.Fail {
		t.Fatalf("fixture should fail its exact metric: %s", want.Status)
	}
	srv.Reset()
	store := openStore(t, u)
	ws := startWorkers(t, u, 2, func(i int) distributed.WorkerOptions { return testWorkerOpts(fmt.Sprint("w", i)) })
	var progress []int
	o := evalOpts(store)
	o.Progress = func(done, total int) { progress = append(progress, done) }
	got, err := distributed.RunSuite(context.Background(), store.Pool(), b, "qa", o)
	if err != nil {
		t.Fatal(err)
	}
	sameRun(t, got, want)
	if c := srv.RequestsTo("chat/completions"); c != n {
		t.Errorf("provider calls = %d, want %d (one per case)", c, n)
	}
	if len(progress) == 0 || progress[len(progress)-1] != n {
		t.Errorf("progress = %v", progress)
	}
	if _, ok, _ := store.GetRecord(context.Background(), evals.KindRun, "qa@"+got.BundleHash); !ok {
		t.Error("no eval.run record")
	}
	if left, _ := store.ListRecords(context.Background(), distributed.KindResult, ""); len(left) != 0 {
		t.Errorf("%d job result records left after the run", len(left))
	}
	cases, _ := store.ListRecords(context.Background(), evals.KindCase, "qa@")
	if len(cases) != n {
		t.Errorf("eval.case records = %d, want %d", len(cases), n)
	}
	var executed int64
	for _, w := range ws {
		executed += w.Stats().Executed
	}
	if executed != n {
		t.Errorf("workers executed %d cases, want %d", executed, n)
	}
	// Rerun: all generations come from the shared cache.
	srv.Reset()
	again, err := distributed.RunSuite(context.Background(), store.Pool(), b, "qa", evalOpts(store))
	if err != nil {
		t.Fatal(err)
	}
	if c := srv.Requests(); c != 0 || again.CacheHits != n {
		t.Errorf("cached rerun: %d provider calls, %d cache hits; want 0 and %d", c, again.CacheHits, n)
	}
}

// A worker runs twice its concurrency of jobs (the second half waits for a
// provider slot), but never has more than its concurrency of calls in
// flight to the provider.
func TestWorkerConcurrencyBoundsProviderCalls(t *testing.T) {
	u, _ := pgtest.Schema(t)
	srv := evaltest.New(evaltest.Options{Latency: 30 * time.Millisecond})
	defer srv.Close()
	b := fixture(t, srv.URL(), 60)
	store := openStore(t, u)
	startWorkers(t, u, 1, func(int) distributed.WorkerOptions {
		o := testWorkerOpts("bounded")
		o.Concurrency = 3
		return o
	})
	if _, err := distributed.RunSuite(context.Background(), store.Pool(), b, "qa", evalOpts(store)); err != nil {
		t.Fatal(err)
	}
	if m := srv.MaxInFlight(); m != 3 {
		t.Errorf("at most %d provider calls were in flight at once, want 3 (the worker's concurrency, reached)", m)
	}
}

// The largest concurrency the CLI takes (10,000) still makes a worker:
// River's own limit on the jobs it holds is the same number.
func TestWorkerAtMostConcurrency(t *testing.T) {
	u, _ := pgtest.Schema(t)
	o := testWorkerOpts("most")
	o.Concurrency = 10_000
	if _, err := distributed.NewWorker(context.Background(), openStore(t, u), o); err != nil {
		t.Fatalf("a worker of concurrency 10000: %v", err)
	}
}

func TestErrorsAreClear(t *testing.T) {
	u, _ := pgtest.Schema(t)
	store := openStore(t, u)
	b := fixture(t, "http://127.0.0.1:1/v1", 3)
	if _, err := distributed.RunSuite(context.Background(), store.Pool(), b, "nope", evalOpts(store)); err == nil || !strings.Contains(err.Error(), `no eval suite "nope"`) {
		t.Fatalf("unknown suite: %v", err)
	}
	if _, err := distributed.RunSuite(context.Background(), store.Pool(), b, "qa", evals.Options{}); err == nil || !strings.Contains(err.Error(), "Store") {
		t.Fatalf("no store: %v", err)
	}
	// No worker: refused at once, saying what to do.
	_, err := distributed.RunSuite(context.Background(), store.Pool(), b, "qa", evalOpts(store))
	if err == nil || !strings.Contains(err.Error(), "cairn worker --state") || !strings.Contains(err.Error(), distributed.EnvInProcess) {
		t.Fatalf("no worker: %v", err)
	}
	// Enqueued anyway and nobody works: the stall timeout ends the wait with a hint.
	q := &distributed.Enqueuer{Pool: store.Pool(), StallTimeout: 300 * time.Millisecond, SkipWorkerCheck: true}
	_, err = q.RunSuite(context.Background(), b, "qa", evalOpts(store))
	if err == nil || !strings.Contains(err.Error(), "cairn worker") || !strings.Contains(err.Error(), "0 of 3 done") {
		t.Fatalf("stalled: %v", err)
	}
}

// RunSuiteAuto distributes only with a PostgreSQL store and no in-process overrides.
func TestRunSuiteAutoChoosesTheRunner(t *testing.T) {
	u, _ := pgtest.Schema(t)
	store := openStore(t, u)
	srv := evaltest.New(evaltest.Options{})
	defer srv.Close()
	b := fixture(t, srv.URL(), 5)
	ctx := context.Background()
	if _, err := distributed.RunSuiteAuto(ctx, b, "qa", evalOpts(evals.NewMemStore())); err != nil {
		t.Fatalf("memory store runs in process: %v", err)
	}
	if _, err := distributed.RunSuiteAuto(ctx, b, "qa", evalOpts(store)); err == nil || !strings.Contains(err.Error(), "no cairn worker") {
		t.Fatalf("postgres store without workers: %v, want the no-worker error", err)
	}
	inproc := evalOpts(store)
	inproc.InProcess = true // what CAIRN_EVAL_INPROCESS=1 makes the CLI set
	run, err := distributed.RunSuiteAuto(ctx, b, "qa", inproc)
	if err != nil || len(run.Cases) != 5 {
		t.Fatalf("%s=1: %v", distributed.EnvInProcess, err)
	}
	if _, ok, _ := store.GetRecord(ctx, evals.KindRun, "qa@"+run.BundleHash); !ok {
		t.Fatal("in-process run not recorded in the PostgreSQL state")
	}
}

type proc struct {
	cmd   *exec.Cmd
	id    string
	stats chan distributed.Stats
}

// spawn starts a worker process (this test binary in worker mode).
func spawn(t *testing.T, u string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CAIRN_DIST_WORKER="+u, "TEST_KEY=sk-test")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, stats: make(chan distributed.Stats, 1)}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(out)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "READY ") {
		t.Fatalf("worker process said %q", sc.Text())
	}
	p.id = strings.TrimPrefix(sc.Text(), "READY ")
	go func() {
		for sc.Scan() {
			if s, ok := strings.CutPrefix(sc.Text(), "STATS "); ok {
				var st distributed.Stats
				if json.Unmarshal([]byte(s), &st) == nil {
					p.stats <- st
				}
			} else {
				t.Logf("worker %s: %s", p.id, sc.Text())
			}
		}
	}()
	return p
}

func (p *proc) stop(t *testing.T) distributed.Stats {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case st := <-p.stats:
		return st
	case <-time.After(15 * time.Second):
		t.Fatalf("worker %s did not stop", p.id)
		return distributed.Stats{}
	}
}

// checkResults asserts one correct result per case in the run's records.
func checkResults(t *testing.T, store *postgres.Store, run *evals.Run, n int) map[string]int {
	t.Helper()
	recs, err := store.ListRecords(context.Background(), distributed.KindResult, "qa@")
	if err != nil {
		t.Fatal(err)
	}
	byWorker := map[string]int{}
	seen := map[string]bool{}
	for _, v := range recs {
		var r distributed.Result
		if err := json.Unmarshal(v, &r); err != nil {
			t.Fatal(err)
		}
		if seen[r.Case.ID] {
			t.Errorf("case %s has two results", r.Case.ID)
		}
		seen[r.Case.ID] = true
		byWorker[r.Worker]++
		var i int
		fmt.Sscanf(r.Case.ID, "c%d", &i)
		if want := fmt.Sprintf("answer: q%d", i); r.Case.Output != want {
			t.Errorf("case %s output %q, want %q", r.Case.ID, r.Case.Output, want)
		}
	}
	if len(recs) != n || len(seen) != n {
		t.Fatalf("results = %d (distinct cases %d), want %d", len(recs), len(seen), n)
	}
	if len(run.Cases) != n || run.Errors != 0 || run.Status != evals.Fail {
		t.Fatalf("run: %d cases, %d errors, %s", len(run.Cases), run.Errors, run.Status)
	}
	return byWorker
}

// threeWorkers sets up the multi-process tests: a migrated PostgreSQL state,
// a loopback provider with the given latency, a suite of n cases and three
// worker processes.
func threeWorkers(t *testing.T, latency time.Duration, n int) (*postgres.Store, *evaltest.Server, *compiler.Bundle, []*proc) {
	t.Helper()
	if testing.Short() {
		t.Skip("multi-process test")
	}
	u, _ := pgtest.Schema(t)
	store := openStore(t, u)
	if err := distributed.Migrate(context.Background(), store.Pool()); err != nil {
		t.Fatal(err)
	}
	srv := evaltest.New(evaltest.Options{Latency: latency})
	t.Cleanup(srv.Close)
	b := fixture(t, srv.URL(), n)
	var ps []*proc
	for i := 0; i < 3; i++ {
		ps = append(ps, spawn(t, u))
	}
	return store, srv, b, ps
}

// Three worker processes drain 1,000 jobs: every case executed and recorded
// exactly once (one provider call each), work spread over the processes.
func TestThreeWorkerProcessesDrain1000(t *testing.T) {
	const n = 1000
	store, srv, b, ps := threeWorkers(t, 5*time.Millisecond, n)
	start := time.Now()
	run, err := (&distributed.Enqueuer{Pool: store.Pool(), KeepResults: true}).RunSuite(context.Background(), b, "qa", evalOpts(store))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("1,000 cases on 3 worker processes in %s", time.Since(start).Round(time.Millisecond))
	byWorker := checkResults(t, store, run, n)
	if c := srv.RequestsTo("chat/completions"); c != n {
		t.Errorf("provider calls = %d, want exactly %d", c, n)
	}
	var total distributed.Stats
	for _, p := range ps {
		st := p.stop(t)
		if st.Executed == 0 || byWorker[p.id] != int(st.Executed) {
			t.Errorf("worker %s executed %d, recorded %d", p.id, st.Executed, byWorker[p.id])
		}
		total.Executed += st.Executed
		total.Skipped += st.Skipped
		total.Duplicates += st.Duplicates
	}
	if total.Executed != n || total.Skipped != 0 || total.Duplicates != 0 {
		t.Errorf("totals %+v, want %d executed, no skips or duplicates", total, n)
	}
}

// A worker SIGKILLed mid-run: its jobs are taken over by the others, no case
// gets a second result, and the run completes.
func TestKilledWorkerJobsAreRetriedByOthers(t *testing.T) {
	const n = 1000
	store, srv, b, ps := threeWorkers(t, 20*time.Millisecond, n)
	victim := ps[0]
	var once sync.Once
	var killedAt time.Time
	o := evalOpts(store)
	o.Progress = func(done, total int) {
		if done >= n/3 {
			once.Do(func() {
				killedAt = time.Now()
				if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Error(err)
				}
			})
		}
	}
	run, err := (&distributed.Enqueuer{Pool: store.Pool(), KeepResults: true}).RunSuite(context.Background(), b, "qa", o)
	if err != nil {
		t.Fatal(err)
	}
	if killedAt.IsZero() {
		t.Fatal("the worker was never killed")
	}
	t.Logf("run finished %s after the SIGKILL", time.Since(killedAt).Round(time.Millisecond))
	byWorker := checkResults(t, store, run, n)
	if byWorker[victim.id] == 0 {
		t.Errorf("the killed worker recorded nothing before dying")
	}
	var reaped, dups, executed int64
	for _, p := range ps[1:] {
		st := p.stop(t)
		reaped += st.Reaped
		dups += st.Duplicates
		executed += st.Executed
	}
	if reaped == 0 {
		t.Error("no job of the killed worker was reaped")
	}
	if dups != 0 {
		t.Errorf("%d duplicate results computed by live workers", dups)
	}
	if executed+int64(byWorker[victim.id]) != n {
		t.Errorf("survivors executed %d + victim %d, want %d", executed, byWorker[victim.id], n)
	}
	calls := srv.RequestsTo("chat/completions")
	t.Logf("provider calls %d for %d cases (cases in flight in the killed worker ran again); reaped %d", calls, n, reaped)
	if calls < n || calls > n+8 {
		t.Errorf("provider calls = %d, want %d..%d", calls, n, n+8)
	}
}

// A provider configuration error on the workers — the key missing from a
// worker's environment, a key the server rejects, nothing listening — is
// reported once by the enqueuing command, naming the worker, and the run's
// other jobs are cancelled instead of each failing the same way.
func TestProviderConfigurationErrorsStopTheRun(t *testing.T) {
	srv := evaltest.New(evaltest.Options{Faults: func(string, string, int) evaltest.Fault { return evaltest.Fault401 }})
	defer srv.Close()
	for _, c := range []struct {
		name, url string
		getenv    func(string) string
		want      []string
	}{
		{"missing key", srv.URL(), func(string) string { return "" }, []string{"stopped: worker cairn-worker-w0: ", "provider llm: TEST_KEY is not set"}},
		{"401", srv.URL(), func(string) string { return "sk-test" }, []string{"stopped: worker cairn-worker-w0: ", "provider_auth: provider llm: the API key was rejected: check TEST_KEY"}},
		{"refused", "http://127.0.0.1:1/v1", func(string) string { return "sk-test" }, []string{"provider_unreachable"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			u, _ := pgtest.Schema(t)
			store := openStore(t, u)
			startWorkers(t, u, 1, func(int) distributed.WorkerOptions {
				o := testWorkerOpts("w0")
				o.Getenv = c.getenv
				return o
			})
			srv.Reset()
			b := fixture(t, c.url, 300)
			b.Providers["llm"].Kind = "openai" // hosted: its key is required
			start := time.Now()
			q := &distributed.Enqueuer{Pool: store.Pool(), PollInterval: 20 * time.Millisecond}
			_, err := q.RunSuite(context.Background(), b, "qa", evalOpts(store))
			if err == nil {
				t.Fatal("the run succeeded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v\nwant it to say %q", err, w)
				}
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("took %s", took)
			}
			if n := srv.RequestsTo("chat/completions"); n > 20 {
				t.Errorf("%d provider calls after the first configuration error", n)
			}
			// Jobs the worker had fetched are cancelled by it without a call.
			var left int
			for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				if err := store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE state IN ('available', 'running', 'retryable', 'scheduled')`).Scan(&left); err != nil {
					t.Fatal(err)
				}
				if left == 0 || time.Now().After(deadline) {
					break
				}
			}
			if left > 0 {
				t.Errorf("%d jobs of the stopped run still queued or running", left)
			}
		})
	}
}
