package rag

import (
	"context"
	"fmt"
	"strings"

	"github.com/cairn-dev/cairn/compiler"
)

// Snapshotter builds the RAG sources of a bundle into a store: what `cairn
// rag build` and apply's snapshot_rag action do. The reconciler adapts it to
// its RAGSnapshotter interface (rag cannot import reconciler).
type Snapshotter struct {
	Store    Store
	Lineage  Lineage
	Embedder []EmbedderOption // e.g. WithHTTPClient for tests
	Build    []BuildOption
}

// BuildSource builds one named source of the bundle.
func (s Snapshotter) BuildSource(ctx context.Context, b *compiler.Bundle, name string) (*Snapshot, Diff, error) {
	src := b.RAG[name]
	if src == nil {
		return nil, Diff{}, fmt.Errorf("rag/%s: not declared in the bundle", name)
	}
	emb, err := EmbedderForSource(b, src, s.Embedder...)
	if err != nil {
		return nil, Diff{}, err
	}
	return Build(ctx, b.Root, src, s.Store, emb, s.Lineage, s.Build...)
}

// FormatContext renders retrieved chunks for a prompt's {{ context }}: each
// chunk numbered and attributed to its document, best first, so that answers
// can cite "[2]" and faithfulness scorers can find the source text.
func FormatContext(chunks []Chunk) string {
	var sb strings.Builder
	for i, c := range chunks {
		if i > 0 {
			sb.WriteString("\n\n")
		}
		fmt.Fprintf(&sb, "[%d] %s\n%s", i+1, c.Document, strings.TrimSpace(c.Text))
	}
	return sb.String()
}
