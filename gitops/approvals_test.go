package gitops

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const sha = "0123456789abcdef0123456789abcdef01234567"

// fakeGitHub serves the two endpoints the approval lookup uses, the reviews
// split over two pages to exercise pagination.
func fakeGitHub(t *testing.T, status int) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v3/repos/acme/specs/commits/{sha}/pulls", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer test-token" {
			t.Errorf("Authorization header %q", r.Header.Get("Authorization"))
		}
		if status != 0 {
			w.WriteHeader(status)
			fmt.Fprint(w, `{"message": "Bad credentials"}`)
			return
		}
		if r.PathValue("sha") != sha {
			fmt.Fprint(w, `[{"number": 3, "merged_at": null}]`)
			return
		}
		fmt.Fprintf(w, `[{"number": 9, "merged_at": "2026-02-01T00:00:00Z", "merge_commit_sha": "other"},
			{"number": 12, "merged_at": "2026-03-01T10:00:00Z", "merge_commit_sha": %q, "user": {"login": "paul"}}]`, sha)
	})
	// The change's commits: dave wrote one, so his approval does not count;
	// web-flow is GitHub committing a web edit.
	mux.HandleFunc("GET /api/v3/repos/acme/specs/pulls/12/commits", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `[{"sha": "a1", "author": {"login": "paul"}, "committer": {"login": "web-flow"}},
			{"sha": "a2", "author": {"login": "dave"}, "committer": {"login": "dave"}}]`)
	})
	mux.HandleFunc("GET /api/v3/repos/acme/specs/pulls/12/reviews", func(w http.ResponseWriter, r *http.Request) {
		review := func(user, state, at string) string {
			return fmt.Sprintf(`{"user": {"login": %q}, "state": %q, "submitted_at": %q}`, user, state, at)
		}
		if r.URL.Query().Get("page") == "2" {
			fmt.Fprintf(w, "[%s]", strings.Join([]string{
				review("bob", "APPROVED", "2026-03-01T09:30:00Z"),            // approved after requesting changes: counts
				review("carol", "CHANGES_REQUESTED", "2026-03-01T09:00:00Z"), // withdrew her approval
				review("dave", "COMMENTED", "2026-03-01T09:45:00Z"),          // a comment neither approves nor withdraws
				review("erin", "APPROVED", "2026-03-01T11:00:00Z"),           // after the merge: did not gate it
				review("frank", "DISMISSED", "2026-03-01T09:50:00Z"),         // approval dismissed
			}, ","))
			return
		}
		w.Header().Set("Link", fmt.Sprintf(`<%s/api/v3/repos/acme/specs/pulls/12/reviews?page=2>; rel="next"`, "http://"+r.Host))
		fmt.Fprintf(w, "[%s]", strings.Join([]string{
			review("alice", "APPROVED", "2026-03-01T09:00:00Z"),
			review("bob", "CHANGES_REQUESTED", "2026-03-01T08:00:00Z"),
			review("carol", "APPROVED", "2026-03-01T08:00:00Z"),
			review("dave", "APPROVED", "2026-03-01T08:30:00Z"),
			review("alice", "APPROVED", "2026-03-01T09:10:00Z"), // twice: one user, one approval
			review("paul", "APPROVED", "2026-03-01T08:40:00Z"),  // the pull request's author
			review("frank", "APPROVED", "2026-03-01T08:00:00Z"),
		}, ","))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestGitHubApprovals(t *testing.T) {
	srv := fakeGitHub(t, 0)
	g, err := NewGitHubApprovals("test-token", srv.URL+"/api/v3", "acme", "specs", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	a, err := g.Approvals(context.Background(), sha)
	if err != nil {
		t.Fatal(err)
	}
	if a.Count != 2 || strings.Join(a.Users, ",") != "alice,bob" || a.Source != "acme/specs#12" || strings.Join(a.Excluded, ",") != "dave,paul" {
		t.Errorf("approvals = %+v, want alice and bob on acme/specs#12, dave and paul (authors of the change) excluded", a)
	}
	if len(a.Reviews) != 2 || a.Reviews[0].User != "alice" || a.Reviews[0].At.Format(time.RFC3339) != "2026-03-01T09:10:00Z" {
		t.Errorf("reviews = %+v, want each counted approval with its time (alice's last at 09:10)", a.Reviews)
	}

	// A commit no pull request merged (a direct push) has no approvals.
	a, err = g.Approvals(context.Background(), "fedcba9876543210fedcba9876543210fedcba98")
	if err != nil || a.Count != 0 || !strings.Contains(a.Source, "no merged pull request contains fedcba987654") {
		t.Errorf("direct push: %+v, %v", a, err)
	}
}

func TestGitHubApprovalsErrors(t *testing.T) {
	for _, c := range []struct {
		status int
		want   string
	}{
		{401, "401 Unauthorized (Bad credentials): the token was rejected; check that GITHUB_TOKEN is set"},
		{404, "404 Not Found (Bad credentials): check that repository acme/specs exists and that the token can see it (the workflow needs `permissions: pull-requests: read`)"},
	} {
		srv := fakeGitHub(t, c.status)
		g, err := NewGitHubApprovals("test-token", srv.URL+"/api/v3/", "acme", "specs", srv.Client())
		if err != nil {
			t.Fatal(err)
		}
		_, err = g.Approvals(context.Background(), sha)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "acme/specs with commit 0123456789ab") {
			t.Errorf("%d: %v, want %q", c.status, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "test-token") {
			t.Errorf("%d: the error prints the token: %v", c.status, err)
		}
	}
	if _, err := NewGitHubApprovals("", "", "acme", "specs", nil); err == nil || !strings.Contains(err.Error(), "GITHUB_TOKEN") {
		t.Errorf("no token: %v", err)
	}
	if _, err := NewGitHubApprovals("t", "not a url", "acme", "specs", nil); err == nil || !strings.Contains(err.Error(), `"not a url"`) {
		t.Errorf("bad URL: %v", err)
	}
}

// Approvals from GitHub reach the gates: prod needs one approval.
func TestReconcileUsesPullRequestApprovals(t *testing.T) {
	f := newFixture(t)
	head, _ := f.repo.repo.Head()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/commits/"+head.Hash().String()+"/pulls"):
			fmt.Fprintf(w, `[{"number": 4, "merged_at": "2026-03-01T10:00:00Z", "merge_commit_sha": %q}]`, head.Hash().String())
		case strings.HasSuffix(r.URL.Path, "/pulls/4/commits"):
			fmt.Fprint(w, `[]`)
		case strings.HasSuffix(r.URL.Path, "/pulls/4/reviews"):
			fmt.Fprint(w, `[{"user": {"login": "alice"}, "state": "CHANGES_REQUESTED", "submitted_at": "2026-03-01T09:00:00Z"}]`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	g, err := NewGitHubApprovals("test-token", srv.URL, "acme", "specs", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	f.cfg.Approvals = g
	run := f.reconciler(t).RunOnce(context.Background())
	if run.Result != ResultBlocked || run.Approvals.Source != "acme/specs#4" || run.Approvals.Count != 0 {
		t.Fatalf("result %s approvals %+v (%s)", run.Result, run.Approvals, run.Error)
	}
	if len(run.Blocked) != 1 || run.Blocked[0].Name != "prod" || !strings.Contains(run.Blocked[0].Status, "approvals: 0 of 1") {
		t.Errorf("blocked = %v", types(run.Blocked))
	}
}
