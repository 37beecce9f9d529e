package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestErrorsAreExplained drives each failure GitHub can answer through the
// real client and checks the error says what to check, without the token.
func TestErrorsAreExplained(t *testing.T) {
	reset := time.Date(2026, 11, 27, 13, 0, 0, 0, time.UTC)
	answer := func(status int, headers map[string]string, body string) func(w http.ResponseWriter, r *http.Request) bool {
		return func(w http.ResponseWriter, r *http.Request) bool {
			for k, v := range headers {
				w.Header().Set(k, v)
			}
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(status)
			fmt.Fprint(w, body)
			return true
		}
	}
	rl := map[string]string{"X-RateLimit-Limit": "1000", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": fmt.Sprint(reset.Unix()), "X-RateLimit-Resource": "core"}
	tests := []struct {
		name   string
		token  string // "" means the right one
		fail   func(w http.ResponseWriter, r *http.Request) bool
		op     string // "comment" or "check"
		status int
		want   []string
	}{
		{name: "401 bad credentials", token: "ghs_wrongTOKEN", op: "comment", status: 401,
			want: []string{"list comments on acme/ml-specs#42", "401 Unauthorized (Bad credentials)", "check that GITHUB_TOKEN is set to a valid, unexpired token"}},
		{name: "403 no permission on comments", op: "comment", status: 403,
			fail: answer(403, map[string]string{"X-Accepted-OAuth-Scopes": "repo", "X-OAuth-Scopes": "read:org"},
				`{"message":"Resource not accessible by integration","documentation_url":"https://docs.github.com/rest/issues/comments#create-an-issue-comment"}`),
			want: []string{"403 Forbidden (Resource not accessible by integration)", "permissions: pull-requests: write", `accepts scopes "repo"; the token has "read:org"`, "forks"}},
		{name: "403 no permission on checks", op: "check", status: 403,
			fail: answer(403, nil, `{"message":"Resource not accessible by integration","documentation_url":"https://docs.github.com/rest/checks/runs#create-a-check-run"}`),
			want: []string{"create check run \"cairn\" on acme/ml-specs@6dcb09b5b578", "permissions: checks: write"}},
		{name: "403 secondary rate limit", op: "comment", status: 403,
			fail: answer(403, map[string]string{"Retry-After": "60"},
				`{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`),
			want: []string{"secondary rate limit", "retry after 1m0s"}},
		{name: "403 primary rate limit", op: "comment", status: 403,
			fail: answer(403, rl, `{"message":"API rate limit exceeded for installation ID 123.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}`),
			want: []string{"API rate limit exhausted (1000 requests/hour)", "resets at 2026-11-27T13:00:00Z"}},
		{name: "429 primary rate limit", op: "check", status: 429,
			fail: answer(429, rl, `{"message":"API rate limit exceeded","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}`),
			want: []string{"429 Too Many Requests", "resets at 2026-11-27T13:00:00Z"}},
		{name: "404 repository", op: "comment", status: 404,
			fail: answer(404, nil, `{"message":"Not Found","documentation_url":"https://docs.github.com/rest/issues/comments#list-issue-comments"}`),
			want: []string{"404 Not Found", "repository acme/ml-specs and pull request #42 exist"}},
		{name: "422 validation", op: "check", status: 422,
			fail: answer(422, nil, `{"message":"Validation Failed","errors":[{"resource":"CheckRun","code":"invalid","field":"head_sha"}],"documentation_url":"https://docs.github.com/rest/checks/runs#create-a-check-run"}`),
			want: []string{"422 Unprocessable Entity (Validation Failed)", "[CheckRun head_sha invalid]", "head SHA 6dcb09b5b57875f334f61aebed695e2e4193db5e is a commit of acme/ml-specs"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeGitHub(t)
			f.fail = tt.fail
			cfg := f.config()
			if tt.token != "" {
				cfg.Token = tt.token
			}
			c, err := NewClient(cfg, f.srv.Client(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.op == "comment" {
				_, err = c.PostComment(context.Background(), Marker{}, "body")
			} else {
				_, err = c.PublishCheckRun(context.Background(), CheckRun{Summary: "s", Conclusion: Success})
			}
			if err == nil {
				t.Fatal("no error")
			}
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status != tt.status {
				t.Fatalf("error %T %v, want *APIError with status %d", err, err, tt.status)
			}
			msg := err.Error()
			t.Log(msg)
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q\nlacks %q", msg, w)
				}
			}
			if strings.Contains(msg, cfg.Token) || strings.Contains(fmt.Sprintf("%+v %#v", err, cfg), cfg.Token) {
				t.Errorf("token leaked: %s", msg)
			}
			if strings.Contains(msg, "goroutine") || strings.Contains(msg, ".go:") {
				t.Errorf("stack trace in error: %s", msg)
			}
		})
	}
}

func TestUnreachableServer(t *testing.T) {
	f := newFakeGitHub(t)
	cfg := f.config()
	f.srv.Close()
	c, err := NewClient(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.PostComment(context.Background(), Marker{}, "x")
	if err == nil || !strings.Contains(err.Error(), "cannot reach "+cfg.APIURL+"/") || !strings.Contains(err.Error(), "check GITHUB_API_URL") {
		t.Fatalf("%v", err)
	}
}
