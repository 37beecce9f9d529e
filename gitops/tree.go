package gitops

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// ExtractTree writes the files of dir (a directory inside a git work tree) as
// they are at revision rev into dest, and returns the commit it resolved. rev
// may be a commit SHA, a branch (local or origin's) or a tag. Symlinks and
// submodules are skipped: a spec repo's files must stay inside it anyway.
func ExtractTree(dir, rev, dest string) (string, error) {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return "", fmt.Errorf("%s is not in a git repository: %w", dir, err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		return "", err
	}
	root, err := filepath.EvalSymlinks(wt.Filesystem.Root())
	if err != nil {
		return "", err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if d, err := filepath.EvalSymlinks(abs); err == nil {
		abs = d
	}
	prefix, err := filepath.Rel(root, abs)
	if err != nil || strings.HasPrefix(prefix, "..") {
		return "", fmt.Errorf("%s is outside the work tree %s", dir, root)
	}
	var hash *plumbing.Hash
	for _, cand := range []string{rev, "refs/remotes/origin/" + rev, "refs/heads/" + rev, "refs/tags/" + rev} {
		if h, err := repo.ResolveRevision(plumbing.Revision(cand)); err == nil {
			hash = h
			break
		}
	}
	if hash == nil {
		return "", fmt.Errorf("revision %q is not a commit, branch or tag of %s (fetch it first: actions/checkout needs fetch-depth: 0)", rev, root)
	}
	c, err := repo.CommitObject(*hash)
	if err != nil {
		return "", err
	}
	tree, err := c.Tree()
	if err != nil {
		return "", err
	}
	if prefix != "." {
		if tree, err = tree.Tree(filepath.ToSlash(prefix)); err != nil {
			if errors.Is(err, object.ErrDirectoryNotFound) {
				return hash.String(), nil // the spec directory does not exist at rev: an empty tree
			}
			return "", err
		}
	}
	err = tree.Files().ForEach(func(f *object.File) error {
		if f.Mode != filemode.Regular && f.Mode != filemode.Executable {
			return nil
		}
		p := filepath.Join(dest, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		r, err := f.Reader()
		if err != nil {
			return err
		}
		defer r.Close()
		out, err := os.Create(p)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, r); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		return "", fmt.Errorf("extract %s at %s: %w", prefix, hash.String()[:12], err)
	}
	return hash.String(), nil
}
