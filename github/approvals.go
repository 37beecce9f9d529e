package github

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	gh "github.com/google/go-github/v62/github"
)

// permRead is what the approvals lookup needs.
const permRead permission = "pull-requests: read"

// Approval is an approval count and where it came from.
type Approval struct {
	Count  int      `json:"count"`
	Source string   `json:"source"`          // "--approvals", "acme/specs#12"
	Users  []string `json:"users,omitempty"` // who approved, sorted
	// Reviews are the counted approvals with when each was given.
	Reviews []Review `json:"reviews,omitempty"`
	// Excluded are approvers who authored the change (the pull request or
	// one of its commits): their approval does not count.
	Excluded []string `json:"excluded,omitempty"`
}

// Review is one counted approval.
type Review struct {
	User string    `json:"user"`
	At   time.Time `json:"at"`
}

// NewRepoClient is a client for one repository without a pull request of
// its own: the reconcile loop's approvals lookup. It needs only the token,
// the repository and the API URL.
func NewRepoClient(cfg Config, httpClient *http.Client) (*Client, error) {
	if err := cfg.validateRepo(); err != nil {
		return nil, err
	}
	return newClient(cfg, httpClient, nil)
}

// Approvals finds the merged pull request whose merge produced commit (else
// any merged pull request containing it) and counts distinct users whose
// last review before the merge approved it: an approval later dismissed or
// followed by "changes requested" does not count, and comments change
// nothing. A commit no pull request merged (a direct push) has zero approvals.
func (c *Client) Approvals(ctx context.Context, commit string) (Approval, error) {
	owner, repo := c.cfg.Owner, c.cfg.Repo
	op := fmt.Sprintf("list pull requests of %s/%s with commit %s", owner, repo, shortSHA(commit))
	var prs []*gh.PullRequest
	opts := &gh.ListOptions{PerPage: 100}
	for {
		page, resp, err := c.gh.PullRequests.ListPullRequestsWithCommit(ctx, owner, repo, commit, opts)
		if err != nil {
			return Approval{}, c.explain(op, permRead, err)
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
		return Approval{Source: fmt.Sprintf("%s/%s: no merged pull request contains %s", owner, repo, shortSHA(commit))}, nil
	}
	src := fmt.Sprintf("%s/%s#%d", owner, repo, pr.GetNumber())
	merged := pr.GetMergedAt().Time
	type last struct {
		at    time.Time
		state string
	}
	latest := map[string]last{}
	ropts := &gh.ListOptions{PerPage: 100}
	for {
		page, resp, err := c.gh.PullRequests.ListReviews(ctx, owner, repo, pr.GetNumber(), ropts)
		if err != nil {
			return Approval{}, c.explain("list reviews of "+src, permRead, err)
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
	authors, err := c.authors(ctx, pr, src)
	if err != nil {
		return Approval{}, err
	}
	a := Approval{Source: src, Users: []string{}}
	for u, l := range latest {
		switch {
		case l.state != "APPROVED":
		case authors[u]:
			a.Excluded = append(a.Excluded, u)
		default:
			a.Users = append(a.Users, u)
		}
	}
	slices.Sort(a.Users)
	slices.Sort(a.Excluded)
	for _, u := range a.Users {
		a.Reviews = append(a.Reviews, Review{User: u, At: latest[u].at.UTC()})
	}
	a.Count = len(a.Users)
	return a, nil
}

// authors are the logins who authored the change: the pull request's
// author and the authors and committers of its commits.
func (c *Client) authors(ctx context.Context, pr *gh.PullRequest, src string) (map[string]bool, error) {
	out := map[string]bool{}
	if l := pr.GetUser().GetLogin(); l != "" {
		out[l] = true
	}
	opts := &gh.ListOptions{PerPage: 100}
	for {
		page, resp, err := c.gh.PullRequests.ListCommits(ctx, c.cfg.Owner, c.cfg.Repo, pr.GetNumber(), opts)
		if err != nil {
			return nil, c.explain("list commits of "+src, permRead, err)
		}
		for _, cm := range page {
			for _, l := range []string{cm.GetAuthor().GetLogin(), cm.GetCommitter().GetLogin()} {
				if l != "" && l != "web-flow" { // GitHub's own committer for merges and web edits
					out[l] = true
				}
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return out, nil
}

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
