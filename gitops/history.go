package gitops

import (
	"path/filepath"
	"regexp"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// History reads the first-parent history of the git repository holding a
// spec repo (cairn metrics' change lead time).
type History struct {
	repo   *git.Repository
	prefix string // the spec repo's path inside the work tree ("" at its root)
}

// OpenHistory opens the repository containing dir; ok is false outside git.
func OpenHistory(dir string) (*History, bool) {
	r, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, false
	}
	wt, err := r.Worktree()
	if err != nil {
		return nil, false
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, false
	}
	root, err := filepath.EvalSymlinks(wt.Filesystem.Root())
	if err != nil {
		return nil, false
	}
	if a, err := filepath.EvalSymlinks(abs); err == nil {
		abs = a
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil {
		return nil, false
	}
	if rel == "." {
		rel = ""
	}
	return &History{repo: r, prefix: filepath.ToSlash(rel)}, true
}

// FirstNaming walks first-parent history back from commit while the spec
// file sets alias to version (`alias: "version"`) and returns the committer
// time of the earliest such commit. A commit not in the history (a shallow
// clone) is false; a commit whose file does not name it is its own answer.
func (h *History) FirstNaming(commit, file, alias, version string) (time.Time, bool) {
	c, err := h.repo.CommitObject(plumbing.NewHash(commit))
	if err != nil {
		return time.Time{}, false
	}
	path := file
	if h.prefix != "" {
		path = h.prefix + "/" + file
	}
	re := regexp.MustCompile(`(^|[\s{,])"?` + regexp.QuoteMeta(alias) + `"?\s*:\s*"` + regexp.QuoteMeta(version) + `"`)
	names := func(c *object.Commit) bool {
		f, err := c.File(path)
		if err != nil {
			return false
		}
		s, err := f.Contents()
		return err == nil && re.MatchString(s)
	}
	first := c
	for names(c) && c.NumParents() > 0 {
		p, err := c.Parent(0)
		if err != nil || !names(p) {
			break
		}
		first, c = p, p
	}
	return first.Committer.When.UTC(), true
}
