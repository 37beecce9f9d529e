package gitops

import (
	"context"
	"net/http"

	"github.com/cairn-dev/cairn/github"
	"github.com/cairn-dev/cairn/reconciler"
)

// Approvals says how many approvals the change that produced a commit has.
type Approvals interface {
	Approvals(ctx context.Context, commit string) (Approval, error)
}

// Approval is an approval count and where it came from.
type Approval = github.Approval

// approvers are an approval's counted reviews as the apply records them.
func approvers(a Approval) []reconciler.Approver {
	var out []reconciler.Approver
	for _, r := range a.Reviews {
		out = append(out, reconciler.Approver{Login: r.User, At: r.At})
	}
	return out
}

// Static is a fixed approval count (--approvals).
type Static int

// Approvals implements Approvals.
func (s Static) Approvals(context.Context, string) (Approval, error) {
	return Approval{Count: int(s), Source: "--approvals"}, nil
}

// NewGitHubApprovals is the approvals lookup on the pull request that
// merged a commit, through the one GitHub client (package github). apiURL
// "" means github.com; httpClient may be nil. The token is only ever sent as
// a header.
func NewGitHubApprovals(token, apiURL, owner, repo string, httpClient *http.Client) (*github.Client, error) {
	return github.NewRepoClient(github.Config{Token: token, APIURL: apiURL, Owner: owner, Repo: repo}, httpClient)
}

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
