package main

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cairn-dev/cairn/examples"
)

// TestLineageExportDelivery: delivery to a Marquez-compatible server records
// how far it got, only from 201 answers: after a 400 the next run resends
// from the first event not accepted, and a run with nothing new sends nothing.
func TestLineageExportDelivery(t *testing.T) {
	t.Setenv("CAIRN_OPENLINEAGE_TOKEN", "t0ken")
	repo := fraudRepo(t, registerAndApply...)
	var mu sync.Mutex
	var got []string
	reject := 3 // the third POST answers 400
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer t0ken" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := r.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		if reject > 0 {
			if reject--; reject == 0 {
				http.Error(w, `{"code":400,"message":"bad event"}`, http.StatusBadRequest)
				return
			}
		}
		got = append(got, b.String())
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()

	code, _, errOut := cli(t, "lineage", "export", repo, "--url", srv.URL)
	if code != exitDenied || !strings.Contains(errOut, "answered 400 Bad Request") {
		t.Fatalf("a 400: exit %d, %s", code, errOut)
	}
	accepted := len(got)
	code, out, errOut := cli(t, "lineage", "export", repo, "--url", srv.URL)
	if code != 0 || !strings.Contains(out, "delivered") {
		t.Fatalf("the retry: exit %d\n%s\n%s", code, out, errOut)
	}
	// Every event exactly once, except those of the entry the 400 interrupted,
	// which are sent again in full.
	_, all, _ := cli(t, "lineage", "export", repo)
	distinct := map[string]bool{}
	for _, g := range got {
		distinct[g] = true
	}
	if n := strings.Count(all, "\n"); len(distinct) != n || accepted == 0 || len(got) >= 2*n {
		t.Fatalf("%d events accepted (%d distinct) over two runs, the export has %d", len(got), len(distinct), n)
	}
	before := len(got)
	if code, out, _ := cli(t, "lineage", "export", repo, "--url", srv.URL); code != 0 || len(got) != before || !strings.Contains(out, "delivered 0 event(s)") {
		t.Fatalf("nothing new: exit %d, %d more events, %s", code, len(got)-before, out)
	}
	if code, _, errOut := cli(t, "lineage", "export", repo, "--format", "csv"); code != exitUsage || !strings.Contains(errOut, "unknown --format") {
		t.Fatalf("a bad format: exit %d %s", code, errOut)
	}
}

// TestLineageExportPrivateCA: a server whose certificate a private CA
// signed is refused until --ca-file names that CA; a file with no
// certificate is a usage error.
func TestLineageExportPrivateCA(t *testing.T) {
	repo := fraudRepo(t, registerAndApply...)
	dir := filepath.Dir(repo)
	var posts atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := cli(t, "lineage", "export", repo, "--url", srv.URL); code != exitDenied || !strings.Contains(errOut, "certificate") || posts.Load() != 0 {
		t.Fatalf("untrusted: exit %d, %d posts, %s", code, posts.Load(), errOut)
	}
	if code, out, errOut := cli(t, "lineage", "export", repo, "--url", srv.URL, "--ca-file", ca); code != 0 || posts.Load() == 0 || !strings.Contains(out, "delivered") {
		t.Fatalf("trusted: exit %d, %d posts\n%s\n%s", code, posts.Load(), out, errOut)
	}
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := cli(t, "lineage", "export", repo, "--url", srv.URL, "--ca-file", bad); code != exitUsage || !strings.Contains(errOut, "no PEM certificate") {
		t.Fatalf("a file without a certificate: exit %d, %s", code, errOut)
	}
}

// fraudRepo writes the fraud example into a temp dir with its own state
// (no check cache) and runs the setup commands, each of which must exit 0
// or 4 (partial: a gate held something).
func fraudRepo(t *testing.T, setup ...[]string) string {
	t.Helper()
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	if _, err := examples.Write("fraud", repo); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CAIRN_STATE", filepath.Join(dir, "state.db"))
	t.Setenv("CAIRN_CACHE_DIR", "off")
	for _, args := range setup {
		args = append(append([]string{}, args...), repo)
		if code, out, errOut := cli(t, args...); code != 0 && code != exitPartial {
			t.Fatalf("%v: exit %d\n%s\n%s", args, code, out, errOut)
		}
	}
	return repo
}

// registerAndApply registers fraud-detector 7 and applies.
var registerAndApply = [][]string{
	{"registry", "register", "fraud-detector", "--version", "7", "--artifact", "s3://m/7", "--metric", "auc=0.94", "--metric", "false_positive_rate=0.03"},
	{"apply", "--approvals", "1"},
}
