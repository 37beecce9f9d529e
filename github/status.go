package github

import (
	"context"
	"fmt"
	"unicode/utf8"

	gh "github.com/google/go-github/v62/github"
)

// permStatuses is what a commit status needs.
const permStatuses permission = "statuses: write"

// Commit status states.
const (
	StatusSuccess = "success"
	StatusFailure = "failure"
	StatusPending = "pending"
)

// SetCommitStatus sets a commit status (a context such as
// "cairn/rollout/fraud-api") on commit: how a rollback is announced on the
// commit that was being rolled out.
func (c *Client) SetCommitStatus(ctx context.Context, commit, statusContext, state, description string) error {
	switch state {
	case StatusSuccess, StatusFailure, StatusPending:
	default:
		return fmt.Errorf("commit status state %q: want success, failure or pending", state)
	}
	// GitHub refuses descriptions over 140 characters; cut them, on a rune.
	if utf8.RuneCountInString(description) > 140 {
		head, _ := cutRunes(description, 139)
		description = head + "…"
	}
	st := &gh.RepoStatus{State: gh.String(state), Context: gh.String(statusContext), Description: gh.String(description)}
	_, _, err := c.gh.Repositories.CreateStatus(ctx, c.cfg.Owner, c.cfg.Repo, commit, st)
	if err != nil {
		return c.explain(fmt.Sprintf("set status %s on %s/%s@%s", statusContext, c.cfg.Owner, c.cfg.Repo, shortSHA(commit)), permStatuses, err)
	}
	return nil
}
