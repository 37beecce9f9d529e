package rag_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/rag"
	"github.com/cairn-dev/cairn/state"
)

// The state engineer's SQLite store satisfies rag.Store, and a snapshot
// survives closing and reopening it.
func TestBuildWithSQLiteState(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := state.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	var _ rag.Store = st
	root := "../testdata/rag/corpus"
	files, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	var rel []string
	for _, f := range files {
		r, _ := filepath.Rel(root, f)
		rel = append(rel, filepath.ToSlash(r))
	}
	slices.Sort(rel)
	b := &compiler.Bundle{Root: root, RAG: map[string]*compiler.RAG{"kb": {
		Name:      "kb",
		Sources:   []compiler.RAGSourceFile{{Path: "docs/*.md", License: "CC-BY-4.0", Classification: "public", Files: rel}},
		Chunking:  compiler.Chunking{Size: 300, Overlap: 50},
		Embedding: compiler.Embedding{Provider: "builtin", Model: "hash-384"},
	}}}
	snap, _, err := rag.Snapshotter{Store: st, Lineage: rag.Lineage{Commit: "c0ffee"}}.BuildSource(ctx, b, "kb")
	if err != nil {
		t.Fatal(err)
	}
	st.Close()

	st, err = state.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got, err := rag.Retrieve(ctx, st, "kb", "webhook HMAC signature", 2)
	if err != nil || len(got) != 2 || got[0].Document != "docs/webhooks.md" {
		t.Fatalf("retrieve after reopen: %+v %v", got, err)
	}
	ctxText := rag.FormatContext(got)
	if !strings.HasPrefix(ctxText, "[1] docs/webhooks.md\n") || !strings.Contains(ctxText, "\n\n[2] ") {
		t.Errorf("context = %q", ctxText)
	}
	s, err := rag.Status(ctx, st, "kb")
	if err != nil || s.Current.ID != snap.ID || s.Current.Lineage.Commit != "c0ffee" {
		t.Errorf("status %+v %v", s, err)
	}
	if _, _, err := (rag.Snapshotter{Store: st}).BuildSource(ctx, b, "missing"); err == nil || !strings.Contains(err.Error(), "rag/missing: not declared") {
		t.Errorf("missing source: %v", err)
	}
}
