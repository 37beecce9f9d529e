package rag

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/compiler"
)

// benchCorpus writes 200 Markdown files of 50 paragraphs each; with chunk size
// 400 and no overlap every paragraph is one chunk: 10,000 chunks.
func benchCorpus(b *testing.B) (string, *compiler.RAG) {
	b.Helper()
	root := b.TempDir()
	os.Mkdir(filepath.Join(root, "kb"), 0o755)
	r := rand.New(rand.NewPCG(1, 2))
	vocab := make([]string, 5000)
	for i := range vocab {
		vocab[i] = fmt.Sprintf("w%x", r.Uint32()%0xfffff)
	}
	src := &compiler.RAG{Name: "bench", Chunking: compiler.Chunking{Size: 400, Overlap: 0}, Embedding: compiler.Embedding{Provider: "builtin", Model: "hash-384"}}
	var files []string
	for f := 0; f < 200; f++ {
		var sb strings.Builder
		for p := 0; p < 50; p++ {
			for w := 0; w < 40; w++ {
				sb.WriteString(vocab[r.IntN(len(vocab))])
				sb.WriteByte(' ')
			}
			sb.WriteString("\n\n")
		}
		name := fmt.Sprintf("kb/doc-%03d.md", f)
		if err := os.WriteFile(filepath.Join(root, name), []byte(sb.String()), 0o644); err != nil {
			b.Fatal(err)
		}
		files = append(files, name)
	}
	src.Sources = []compiler.RAGSourceFile{{Path: "kb/*.md", License: "x", Classification: "internal", Files: files}}
	return root, src
}

func BenchmarkBuild10k(b *testing.B) {
	root, src := benchCorpus(b)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		s, _, err := Build(ctx, root, src, NewMemStore(), &HashEmbedder{Dim: 384}, Lineage{})
		if err != nil {
			b.Fatal(err)
		}
		if s.Totals.Chunks != 10000 {
			b.Fatalf("chunks = %d, want 10000", s.Totals.Chunks)
		}
	}
}

func BenchmarkQuery10k(b *testing.B) {
	root, src := benchCorpus(b)
	ctx := context.Background()
	store := NewMemStore()
	if _, _, err := Build(ctx, root, src, store, &HashEmbedder{Dim: 384}, Lineage{}); err != nil {
		b.Fatal(err)
	}
	ix, err := LoadIndex(ctx, store, "bench")
	if err != nil {
		b.Fatal(err)
	}
	emb := &HashEmbedder{Dim: 384}
	b.ResetTimer()
	for b.Loop() {
		got, err := ix.Search(ctx, emb, "w1a2b3 w4c5d w6e7f refund policy", 4)
		if err != nil || len(got) != 4 {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadIndex10k(b *testing.B) {
	root, src := benchCorpus(b)
	ctx := context.Background()
	store := NewMemStore()
	if _, _, err := Build(ctx, root, src, store, &HashEmbedder{Dim: 384}, Lineage{}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := LoadIndex(ctx, store, "bench"); err != nil {
			b.Fatal(err)
		}
	}
}
