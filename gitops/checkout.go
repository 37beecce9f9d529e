// Package gitops is cairn's reconcile loop: it fetches a spec repository with
// go-git, compiles, checks, plans and applies the commit it finds, renders the
// deploy targets, reports drift and writes the compliance audit report. It
// only does work when the commit or the state changed since the last run, and
// it exposes Prometheus metrics and a health document while it runs.
//
// Nothing here prints: the CLI (cmd/cairn/reconcile.go) formats the values.
package gitops

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	"github.com/go-git/go-git/v5/plumbing/transport/server"
)

// Commit is the commit a checkout is at.
type Commit struct {
	SHA         string    `json:"sha"`
	Author      string    `json:"author"`           // "Name <email>"
	AuthorEmail string    `json:"author_email"`     // for matching and the audit log
	Message     string    `json:"message"`          // first line
	Hotfix      bool      `json:"hotfix,omitempty"` // a Cairn-Hotfix: trailer
	Time        time.Time `json:"time"`
}

// Checkout is a work tree of the spec repository at one commit.
type Checkout struct {
	Dir    string // the work tree, inside the cache directory
	Source string // the repository: an absolute path or a URL (credentials redacted)
	Ref    string // the ref as resolved ("refs/remotes/origin/main", a tag, a SHA)
	Commit Commit
}

var localTransport sync.Once

// useInProcessFileTransport serves file:// and local paths from this process
// (go-git's server package) instead of running git-upload-pack, so reconcile
// needs no git binary on the machine.
func useInProcessFileTransport() {
	localTransport.Do(func() { client.InstallProtocol("file", server.DefaultServer) })
}

// cacheKey names a repository's clone inside the cache directory: the same
// source always maps to the same clone, and a URL with a token in it does not
// put the token in a directory name.
func cacheKey(source string) string {
	s := sha256.Sum256([]byte(source))
	base := filepath.Base(strings.TrimSuffix(strings.TrimSuffix(RedactURL(source), "/"), ".git"))
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '-'
	}, base)
	if len(clean) > 40 {
		clean = clean[:40]
	}
	return clean + "-" + hex.EncodeToString(s[:6])
}

// normalizeSource makes a local path absolute (so that the clone can find it
// from any working directory) and leaves URLs alone.
func normalizeSource(src string) (string, error) {
	if src == "" {
		return "", errors.New("no repository: pass --repo PATH or URL")
	}
	if ep, err := transport.NewEndpoint(src); err == nil && ep.Protocol != "file" {
		return src, nil
	}
	p := strings.TrimPrefix(src, "file://")
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("repository %s: %w", src, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return "", fmt.Errorf("repository %s: %w", src, err)
	}
	return abs, nil
}

// cloneURL points the in-process file transport at a work tree's .git
// directory: go-git's server loads a repository from the directory it is
// given, which for a non-bare repository must be .git itself.
func cloneURL(src string) string {
	if filepath.IsAbs(src) {
		if fi, err := os.Stat(filepath.Join(src, ".git")); err == nil && fi.IsDir() {
			return filepath.Join(src, ".git")
		}
	}
	return src
}

// Fetch clones source into cacheDir (or fetches into the existing clone),
// resolves ref (empty: the remote's default branch) and checks the work tree
// out at that commit. A local path is cloned like a URL, so the reconcile
// sees exactly a commit and never the path's uncommitted edits.
func Fetch(ctx context.Context, source, ref, cacheDir string) (*Checkout, error) {
	src, err := normalizeSource(source)
	if err != nil {
		return nil, err
	}
	if cacheDir == "" {
		return nil, errors.New("no cache directory")
	}
	useInProcessFileTransport()
	dir := filepath.Join(cacheDir, "repos", cacheKey(src))
	repo, err := git.PlainOpen(dir)
	fresh := false
	switch {
	case errors.Is(err, git.ErrRepositoryNotExists):
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return nil, err
		}
		// NoCheckout: the commit to check out is resolved below, from ref.
		repo, err = git.PlainCloneContext(ctx, dir, false, &git.CloneOptions{URL: cloneURL(src), NoCheckout: true, Tags: git.AllTags})
		if err != nil {
			_ = os.RemoveAll(dir) // a half-made clone would fail every later run
			return nil, fmt.Errorf("clone %s: %w", RedactURL(src), err)
		}
		fresh = true
	case err != nil:
		return nil, fmt.Errorf("open cached clone %s: %w", dir, err)
	default:
		err = repo.FetchContext(ctx, &git.FetchOptions{RemoteName: "origin", Force: true, Tags: git.AllTags, Prune: true,
			RefSpecs: []config.RefSpec{"+refs/heads/*:refs/remotes/origin/*"}})
		if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
			return nil, fmt.Errorf("fetch %s: %w", RedactURL(src), err)
		}
	}
	hash, resolved, err := resolve(ctx, repo, ref)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", RedactURL(src), err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		return nil, err
	}
	// Force: tracked files are reset to the commit; untracked ones (what
	// apply rendered but nobody committed) stay, so drift can see them.
	head, herr := repo.Head()
	if fresh || herr != nil || head.Hash() != hash {
		if err := wt.Checkout(&git.CheckoutOptions{Hash: hash, Force: true}); err != nil {
			return nil, fmt.Errorf("check out %s: %w", hash, err)
		}
	}
	c, err := repo.CommitObject(hash)
	if err != nil {
		return nil, err
	}
	msg, _, _ := strings.Cut(c.Message, "\n")
	return &Checkout{Dir: dir, Source: RedactURL(src), Ref: resolved, Commit: Commit{
		SHA: hash.String(), Author: fmt.Sprintf("%s <%s>", c.Author.Name, c.Author.Email), AuthorEmail: c.Author.Email,
		Message: msg, Time: c.Author.When.UTC(), Hotfix: HasHotfixTrailer(c.Message),
	}}, nil
}

// resolve finds the commit ref names: a branch of the remote, a tag, or a
// commit SHA; empty means the remote's default branch.
func resolve(ctx context.Context, repo *git.Repository, ref string) (plumbing.Hash, string, error) {
	if ref == "" {
		rem, err := repo.Remote("origin")
		if err != nil {
			return plumbing.ZeroHash, "", err
		}
		refs, err := rem.ListContext(ctx, &git.ListOptions{})
		if err != nil {
			return plumbing.ZeroHash, "", fmt.Errorf("list remote refs: %w", err)
		}
		for _, r := range refs {
			if r.Name() == plumbing.HEAD {
				if r.Type() == plumbing.SymbolicReference && r.Target().IsBranch() {
					ref = r.Target().Short()
				} else {
					return r.Hash(), "HEAD", nil
				}
			}
		}
		if ref == "" {
			return plumbing.ZeroHash, "", errors.New("the remote has no HEAD; pass --ref")
		}
	}
	for _, cand := range []string{"refs/remotes/origin/" + ref, "refs/tags/" + ref, ref} {
		h, err := repo.ResolveRevision(plumbing.Revision(cand))
		if err == nil {
			// A tag object resolves to its commit through ResolveRevision.
			return *h, cand, nil
		}
	}
	return plumbing.ZeroHash, "", fmt.Errorf("ref %q is not a branch, tag or commit of the repository", ref)
}

// RedactURL drops user info (a token in https://x:TOKEN@host/...) so a
// repository URL can be printed and recorded.
func RedactURL(s string) string {
	return redactUser(s)
}

// HasHotfixTrailer reports whether a commit message has a Cairn-Hotfix:
// trailer (a line of the message's last paragraph): the commit is a hotfix.
func HasHotfixTrailer(msg string) bool {
	paras := strings.Split(strings.TrimSpace(strings.ReplaceAll(msg, "\r\n", "\n")), "\n\n")
	if len(paras) < 2 {
		return false
	}
	for _, l := range strings.Split(paras[len(paras)-1], "\n") {
		if k, _, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "Cairn-Hotfix") {
			return true
		}
	}
	return false
}

// RepoURL is a repository source as lineage may publish it: a remote URL
// without credentials; "" for a local path.
func RepoURL(source string) string {
	if source == "" || filepath.IsAbs(source) || strings.HasPrefix(source, "file://") {
		return ""
	}
	if _, err := transport.NewEndpoint(source); err != nil {
		return ""
	}
	return RedactURL(source)
}

func redactUser(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" || u.User == nil {
		return s
	}
	u.User = nil
	return u.String()
}
