// Package gitfile answers two questions about one file of a git work tree
// from its history: when it was last committed, and since which
// first-parent commit a line has stood in it unchanged. It reads the
// repository with go-git (no git binary needed).
package gitfile

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// ErrShallow says the history ends before the answer (a shallow clone).
var ErrShallow = errors.New("the history is shallow: the commit that set it is not in this clone")

// open finds the repository holding dir and the path of rel (relative
// to dir) inside it, slash-separated.
func open(dir, rel string) (*git.Repository, string, error) {
	r, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, "", err
	}
	wt, err := r.Worktree()
	if err != nil {
		return nil, "", err
	}
	abs, err := filepath.Abs(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		return nil, "", err
	}
	root, err := filepath.EvalSymlinks(wt.Filesystem.Root())
	if err != nil {
		return nil, "", err
	}
	if d, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		abs = filepath.Join(d, filepath.Base(abs))
	}
	p, err := filepath.Rel(root, abs)
	if err != nil || strings.HasPrefix(p, "..") {
		return nil, "", errors.New(rel + " is outside the repository")
	}
	return r, filepath.ToSlash(p), nil
}

// LastCommit returns the newest commit reachable from HEAD that changed
// rel, and its committer time. ok is false when dir is not in a git
// repository or rel was never committed.
func LastCommit(dir, rel string) (commit string, at time.Time, ok bool, err error) {
	r, p, err := open(dir, rel)
	if err != nil {
		return "", time.Time{}, false, nil
	}
	head, err := r.Head()
	if err != nil {
		return "", time.Time{}, false, nil
	}
	it, err := r.Log(&git.LogOptions{From: head.Hash(), FileName: &p})
	if err != nil {
		return "", time.Time{}, false, err
	}
	defer it.Close()
	c, err := it.Next()
	if err != nil {
		return "", time.Time{}, false, nil
	}
	return c.Hash.String(), c.Committer.When, true, nil
}

// LineSince walks HEAD's first-parent history and returns the oldest
// commit of the unbroken run, ending at HEAD, in which rel contains line
// (compared with surrounding spaces trimmed): the commit that set it.
// ok is false when HEAD's own file lacks the line; ErrShallow when the run
// reaches the edge of a shallow clone.
func LineSince(dir, rel, line string) (commit string, at time.Time, ok bool, err error) {
	r, p, err := open(dir, rel)
	if err != nil {
		return "", time.Time{}, false, err
	}
	head, err := r.Head()
	if err != nil {
		return "", time.Time{}, false, err
	}
	shallow, err := r.Storer.Shallow()
	if err != nil {
		return "", time.Time{}, false, err
	}
	want := strings.TrimSpace(line)
	c, err := r.CommitObject(head.Hash())
	if err != nil {
		return "", time.Time{}, false, err
	}
	var since *object.Commit
	for {
		has, err := contains(c, p, want)
		if err != nil {
			return "", time.Time{}, false, err
		}
		if !has {
			break
		}
		since = c
		if slices.Contains(shallow, c.Hash) {
			return "", time.Time{}, false, ErrShallow
		}
		if c.NumParents() == 0 {
			break
		}
		parent, err := c.Parent(0)
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			return "", time.Time{}, false, ErrShallow
		}
		if err != nil {
			return "", time.Time{}, false, err
		}
		c = parent
	}
	if since == nil {
		return "", time.Time{}, false, nil
	}
	return since.Hash.String(), since.Committer.When, true, nil
}

func contains(c *object.Commit, path, want string) (bool, error) {
	f, err := c.File(path)
	if errors.Is(err, object.ErrFileNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	s, err := f.Contents()
	if err != nil {
		return false, err
	}
	for l := range strings.SplitSeq(s, "\n") {
		if strings.TrimSpace(l) == want {
			return true, nil
		}
	}
	return false, nil
}
