package github

import (
	"context"
	"fmt"
	"sort"

	gh "github.com/google/go-github/v62/github"
)

// CommentResult says what PostComment did.
type CommentResult struct {
	// IDs and URLs of the comments now holding the body, part 1 first.
	IDs  []int64
	URLs []string
	// Created, Updated, Unchanged and Deleted count comments by what happened to them.
	Created, Updated, Unchanged, Deleted int
}

type existing struct {
	id   int64
	part int
	body string
	url  string
}

// PostComment writes body as the pull request's sticky comment for marker m:
// the comments that already carry the marker are edited in place (left alone
// when their text is unchanged), missing parts are created, and parts left
// over from an earlier, longer body are deleted. All pages of comments are
// read, so the marker is found on busy pull requests too.
func (c *Client) PostComment(ctx context.Context, m Marker, body string) (CommentResult, error) {
	var res CommentResult
	parts := Parts(m, body, MaxCommentChars)
	found, err := c.findComments(ctx, m)
	if err != nil {
		return res, err
	}
	// One comment per part number, the oldest; any other copy (from two runs
	// racing) is deleted with the stale parts.
	byPart := map[int]existing{}
	var stale []existing
	for _, e := range found {
		if _, dup := byPart[e.part]; dup || e.part > len(parts) {
			stale = append(stale, e)
			continue
		}
		byPart[e.part] = e
	}
	where := fmt.Sprintf("%s/%s#%d", c.cfg.Owner, c.cfg.Repo, c.cfg.PR)
	for i, p := range parts {
		e, ok := byPart[i+1]
		switch {
		case ok && e.body == p:
			res.Unchanged++
			c.stats.Unchanged++
		case ok:
			got, _, err := c.gh.Issues.EditComment(ctx, c.cfg.Owner, c.cfg.Repo, e.id, &gh.IssueComment{Body: gh.String(p)})
			if err != nil {
				return res, c.explain(fmt.Sprintf("edit comment %d on %s", e.id, where), permComments, err)
			}
			c.stats.Edited++
			res.Updated++
			e.url = got.GetHTMLURL()
		default:
			got, _, err := c.gh.Issues.CreateComment(ctx, c.cfg.Owner, c.cfg.Repo, c.cfg.PR, &gh.IssueComment{Body: gh.String(p)})
			if err != nil {
				return res, c.explain("create comment on "+where, permComments, err)
			}
			c.stats.Created++
			res.Created++
			e = existing{id: got.GetID(), part: i + 1, url: got.GetHTMLURL()}
		}
		res.IDs = append(res.IDs, e.id)
		res.URLs = append(res.URLs, e.url)
	}
	for _, e := range stale {
		if _, err := c.gh.Issues.DeleteComment(ctx, c.cfg.Owner, c.cfg.Repo, e.id); err != nil {
			return res, c.explain(fmt.Sprintf("delete stale comment %d on %s", e.id, where), permComments, err)
		}
		c.stats.Deleted++
		res.Deleted++
	}
	return res, nil
}

// findComments lists every comment on the pull request that carries m,
// ordered by part then age.
func (c *Client) findComments(ctx context.Context, m Marker) ([]existing, error) {
	opts := &gh.IssueListCommentsOptions{ListOptions: gh.ListOptions{PerPage: 100}}
	var out []existing
	for {
		page, resp, err := c.gh.Issues.ListComments(ctx, c.cfg.Owner, c.cfg.Repo, c.cfg.PR, opts)
		if err != nil {
			return nil, c.explain(fmt.Sprintf("list comments on %s/%s#%d", c.cfg.Owner, c.cfg.Repo, c.cfg.PR), permComments, err)
		}
		c.stats.Listed++
		for _, cm := range page {
			if k, ok := m.parse(cm.GetBody()); ok {
				out = append(out, existing{id: cm.GetID(), part: k, body: cm.GetBody(), url: cm.GetHTMLURL()})
			}
		}
		if resp == nil || resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].part != out[j].part {
			return out[i].part < out[j].part
		}
		return out[i].id < out[j].id
	})
	return out, nil
}
