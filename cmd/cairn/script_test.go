package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/cairn-dev/cairn/internal/promtest"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"cairn": func() {
			// The test clock: a script sets CAIRN_TEST_CLOCK (RFC 3339) to
			// run a command at that time. Only this test binary reads it.
			if v := os.Getenv("CAIRN_TEST_CLOCK"); v != "" {
				t, err := time.Parse(time.RFC3339, v)
				if err != nil {
					fmt.Fprintf(os.Stderr, "CAIRN_TEST_CLOCK %q: %v\n", v, err)
					os.Exit(2)
				}
				now = func() time.Time { return t.UTC() }
			}
			os.Exit(run(os.Args[1:]))
		},
	})
}

// TestScripts runs the CLI scripts in testdata/script: each is a small spec
// repo and the commands a user would type, with their expected output.
func TestScripts(t *testing.T) {
	testscript.Run(t, scriptParams("testdata/script", nil))
}

// TestLiveScripts runs the scripts that need live servers: the real
// Prometheus (Debian's, from `make tools`) scraping a small model server,
// at $PROMETHEUS. The model server serves fraud-api versions 7 (stable,
// healthy) and 8 (the canary: healthy) and risky-api 7 and 8 (the canary: 30 %
// errors).
func TestLiveScripts(t *testing.T) {
	ms := promtest.NewModelServer(t)
	ms.Serve("fraud-api", "7", 20, 0)
	ms.Serve("fraud-api", "8", 10, 0)
	ms.Serve("risky-api", "7", 20, 0)
	ms.Serve("risky-api", "8", 7, 3)
	prom := promtest.Start(t, ms.URL)
	promtest.WaitForRates(t, prom, "3s", 5)
	// A webhook receiver for rollback announcements: bodies, one a line.
	notified := filepath.Join(t.TempDir(), "notified.jsonl")
	var mu sync.Mutex
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		f, err := os.OpenFile(notified, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			f.Write(append(body, '\n'))
			f.Close()
		}
	}))
	t.Cleanup(hook.Close)
	os.WriteFile(notified, nil, 0o644)
	// A GitHub API for reconcile: every commit was merged by a pull request
	// one user approved; commit statuses are written to a file, one a line.
	statuses := filepath.Join(t.TempDir(), "statuses.jsonl")
	os.WriteFile(statuses, nil, 0o644)
	gh := http.NewServeMux()
	gh.HandleFunc("GET /api/v3/repos/acme/specs/commits/{sha}/pulls", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `[{"number": 12, "merged_at": "2026-03-01T10:00:00Z", "merge_commit_sha": %q}]`, r.PathValue("sha"))
	})
	gh.HandleFunc("GET /api/v3/repos/acme/specs/pulls/12/commits", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `[{"sha": "c1", "author": {"login": "ada"}, "committer": {"login": "ada"}}]`)
	})
	gh.HandleFunc("GET /api/v3/repos/acme/specs/pulls/12/reviews", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `[{"user": {"login": "alice"}, "state": "APPROVED", "submitted_at": "2026-03-01T09:00:00Z"}]`)
	})
	gh.HandleFunc("POST /api/v3/repos/acme/specs/statuses/{sha}", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer gh-test-token" {
			w.WriteHeader(401)
			return
		}
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		f, err := os.OpenFile(statuses, os.O_APPEND|os.O_WRONLY, 0o644)
		if err == nil {
			f.Write(append(append([]byte(r.PathValue("sha")+" "), body...), '\n'))
			f.Close()
		}
		w.WriteHeader(201)
		fmt.Fprint(w, `{"id": 1}`)
	})
	ghSrv := httptest.NewServer(gh)
	t.Cleanup(ghSrv.Close)
	testscript.Run(t, scriptParams("testdata/live", map[string]string{"PROMETHEUS": prom, "NOTIFY": hook.URL, "NOTIFIED": notified,
		"GITHUB_API": ghSrv.URL + "/api/v3/", "STATUSES": statuses}))
}

func scriptParams(dir string, vars map[string]string) testscript.Params {
	return testscript.Params{
		Dir:                 dir,
		RequireExplicitExec: false,
		Setup: func(env *testscript.Env) error {
			// Examples are copied in by scripts that need them via $EXAMPLES.
			wd, _ := os.Getwd()
			env.Setenv("EXAMPLES", wd+"/../../examples")
			env.Setenv("SHARED", wd+"/../../../shared")
			env.Setenv("TESTDATA", wd+"/../../testdata")
			for k, v := range vars {
				env.Setenv(k, v)
			}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// copytree SRC DST: copies a directory tree (an example repo) into the
			// script's work dir; testscript's cp copies files only.
			"copytree": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 2 {
					ts.Fatalf("usage: copytree SRC DST")
				}
				ts.Check(os.CopyFS(ts.MkAbs(args[1]), os.DirFS(ts.MkAbs(args[0]))))
			},
			// replace FILE OLD NEW: edits a file in place (the first OLD must exist).
			"replace": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 3 {
					ts.Fatalf("usage: replace FILE OLD NEW (\\n, \\t: a newline, a tab)")
				}
				// \n and \t in OLD and NEW are a newline and a tab, so that a
				// script can add lines.
				esc := strings.NewReplacer(`\n`, "\n", `\t`, "\t")
				args[1], args[2] = esc.Replace(args[1]), esc.Replace(args[2])
				b, err := os.ReadFile(ts.MkAbs(args[0]))
				ts.Check(err)
				if !strings.Contains(string(b), args[1]) {
					ts.Fatalf("replace: %s does not contain %q", args[0], args[1])
				}
				ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(strings.Replace(string(b), args[1], args[2], 1)), 0o644))
			},
			// exitcode N cmd args...: runs cmd and asserts its exact exit code
			// (testscript's "! exec" only says non-zero).
			"exitcode": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) < 2 {
					ts.Fatalf("usage: exitcode N command [args...]")
				}
				want, err := strconv.Atoi(args[0])
				if err != nil {
					ts.Fatalf("exitcode: %v", err)
				}
				err = ts.Exec(args[1], args[2:]...)
				got := 0
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					got = ee.ExitCode()
				} else if err != nil {
					ts.Fatalf("exitcode: %v", err)
				}
				if got != want {
					ts.Fatalf("exit code %d, want %d", got, want)
				}
			},
		},
	}
}
