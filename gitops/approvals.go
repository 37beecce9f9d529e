package gitops

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	gh "github.com/google/go-github/v62/github"
)

// Approvals says how many approvals the change that produced a commit has.
type Approvals interface {
	Approvals(ctx context.Context, commit string) (Approval, error)
}

// Approval is an approval count and where it came from.
type Approval struct {
	Count  int      `json:"count"`
	Source string   `json:"source"`          // "--approvals", "acme/specs#12"
	Users  []string `json:"users,omitempty"` // who approved, sorted
}

// Static is a fixed approval count (--approvals).
type Static int

// Approvals implements Approvals.
func (s Static) Approvals(context.Context, string) (Approval, error) {
	return Approval{Count: int(s), Source: "--approvals"}, nil
}

// GitHubApprovals counts approvals on the pull request that merged a commit.
type GitHubApprovals struct {
	client      *gh.Client
	owner, repo string
}

// NewGitHubApprovals builds the lookup for owner/repo. apiURL "" means
// github.com; a GitHub Enterprise or test server URL is accepted as well.
// httpClient may be nil. The token is only ever sent as a header.
func NewGitHubApprovals(token, apiURL, owner, repo string, httpClient *http.Client) (*GitHubApprovals, error) {
	if token == "" {
		return nil, errors.New("no GitHub token: set GITHUB_TOKEN")
	}
	if owner == "" || repo == "" {
		return nil, errors.New("no repository: set GITHUB_REPOSITORY=owner/name")
	}
	c := gh.NewClient(httpClient).WithAuthToken(token)
	if apiURL != "" {
		u, err := url.Parse(apiURL)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("GitHub API URL %q is not an absolute URL", apiURL)
		}
		if !strings.HasSuffix(u.Path, "/") {
			u.Path += "/"
		}
		c.BaseURL = u
	}
	c.UserAgent = "cairn"
	return &GitHubApprovals{client: c, owner: owner, repo: repo}, nil
}

// Approvals finds the merged pull request whose merge produced commit (else
// any merged pull request containing it) and counts distinct users whose
// last review before the merge approved it: an approval later dismissed or
// followed by "changes requested" does not count, and comments change nothing.
// A commit no pull request merged (a direct push) has zero approvals.
func (g *GitHubApprovals) Approvals(ctx context.Context, commit string) (Approval, error) {
	op := fmt.Sprintf("list pull requests of %s/%s with commit %s", g.owner, g.repo, shortSHA(commit))
	var prs []*gh.PullRequest
	opts := &gh.ListOptions{PerPage: 100}
	for {
		page, resp, err := g.client.PullRequests.ListPullRequestsWithCommit(ctx, g.owner, g.repo, commit, opts)
		if err != nil {
			return Approval{}, explain(op, err)
		}
		prs = append(prs, page...)
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	var pr *gh.PullRequest
	for _, p := range prs {
		if p.MergedAt == nil {
			continue
		}
		if p.GetMergeCommitSHA() == commit {
			pr = p
			break
		}
		if pr == nil {
			pr = p
		}
	}
	if pr == nil {
		return Approval{Source: fmt.Sprintf("%s/%s: no merged pull request contains %s", g.owner, g.repo, shortSHA(commit))}, nil
	}
	src := fmt.Sprintf("%s/%s#%d", g.owner, g.repo, pr.GetNumber())
	merged := pr.GetMergedAt().Time
	type last struct {
		at    time.Time
		state string
	}
	latest := map[string]last{}
	ropts := &gh.ListOptions{PerPage: 100}
	for {
		page, resp, err := g.client.PullRequests.ListReviews(ctx, g.owner, g.repo, pr.GetNumber(), ropts)
		if err != nil {
			return Approval{}, explain("list reviews of "+src, err)
		}
		for _, r := range page {
			user, st := r.GetUser().GetLogin(), strings.ToUpper(r.GetState())
			at := r.GetSubmittedAt().Time
			if user == "" || (st != "APPROVED" && st != "CHANGES_REQUESTED" && st != "DISMISSED") {
				continue // comments and pending reviews neither approve nor withdraw
			}
			if !merged.IsZero() && at.After(merged) {
				continue // reviews after the merge did not gate it
			}
			if l, ok := latest[user]; !ok || !at.Before(l.at) {
				latest[user] = last{at, st}
			}
		}
		if resp.NextPage == 0 {
			break
		}
		ropts.Page = resp.NextPage
	}
	a := Approval{Source: src, Users: []string{}}
	for u, l := range latest {
		if l.state == "APPROVED" {
			a.Users = append(a.Users, u)
		}
	}
	sort.Strings(a.Users)
	a.Count = len(a.Users)
	return a, nil
}

// explain names the operation and GitHub's answer; go-github's errors never
// contain the token (it travels in a header).
func explain(op string, err error) error {
	var rl *gh.RateLimitError
	var er *gh.ErrorResponse
	switch {
	case errors.As(err, &rl):
		return fmt.Errorf("GitHub API: %s: rate limit exceeded, resets at %s", op, rl.Rate.Reset.Time.UTC().Format(time.RFC3339))
	case errors.As(err, &er) && er.Response != nil:
		hint := ""
		switch er.Response.StatusCode {
		case http.StatusUnauthorized:
			hint = ": check GITHUB_TOKEN"
		case http.StatusForbidden, http.StatusNotFound:
			hint = ": the token needs pull-requests: read on the repository"
		}
		return fmt.Errorf("GitHub API: %s: %d %s (%s)%s", op, er.Response.StatusCode, http.StatusText(er.Response.StatusCode), er.Message, hint)
	}
	return fmt.Errorf("GitHub API: %s: %w", op, err)
}

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
