// Package examples embeds the example spec repos that 'cairn init' writes.
package examples

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

//go:embed all:credit-scoring all:fraud-detection all:support-assistant
var files embed.FS

// Names maps the short names 'cairn init --example' takes to their folders.
var Names = map[string]string{
	"credit":  "credit-scoring",
	"fraud":   "fraud-detection",
	"support": "support-assistant",
}

// List returns the short names, sorted.
func List() []string {
	var out []string
	for k := range Names {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Write copies the named example into dir. It refuses to overwrite any
// existing file, so running it twice, or in a real repo, loses nothing.
func Write(name, dir string) ([]string, error) {
	folder, ok := Names[name]
	if !ok {
		return nil, fmt.Errorf("unknown example %q (choose one of %v)", name, List())
	}
	sub, err := fs.Sub(files, folder)
	if err != nil {
		return nil, err
	}
	var rels []string
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if d.Name() == "examples.go" {
			return nil
		}
		rels = append(rels, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(rels)
	for _, r := range rels {
		if _, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(r))); err == nil {
			return nil, fmt.Errorf("%s already exists; cairn init writes into an empty directory", filepath.Join(dir, filepath.FromSlash(r)))
		}
	}
	for _, r := range rels {
		b, err := fs.ReadFile(sub, r)
		if err != nil {
			return nil, err
		}
		dst := filepath.Join(dir, filepath.FromSlash(r))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return nil, err
		}
	}
	return rels, nil
}
