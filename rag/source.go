package rag

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/tmc/langchaingo/embeddings"

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

// Retriever answers many queries against a bundle's sources: each source's
// index and embedder are loaded once and shared (safe for concurrent use).
// The eval runner fills {{ context }} with it.
type Retriever struct {
	store  Store
	bundle *compiler.Bundle
	opts   []EmbedderOption

	mu      sync.Mutex
	sources map[string]*loadedSource
}

type loadedSource struct {
	mu  sync.Mutex
	ix  *Index
	emb embeddings.Embedder
}

// NewRetriever returns a Retriever over the current snapshots in store.
func NewRetriever(store Store, b *compiler.Bundle, opts ...EmbedderOption) *Retriever {
	return &Retriever{store: store, bundle: b, opts: opts, sources: map[string]*loadedSource{}}
}

// Retrieve returns the k best chunks of source for query; k <= 0 means the
// source's retrieval.top_k. A source never built is an error that says so.
func (r *Retriever) Retrieve(ctx context.Context, source, query string, k int) ([]Chunk, error) {
	src := r.bundle.RAG[source]
	if src == nil {
		return nil, fmt.Errorf("rag/%s: not declared in the bundle", source)
	}
	if k <= 0 {
		k = max(src.Retrieval.TopK, 1)
	}
	r.mu.Lock()
	ls := r.sources[source]
	if ls == nil {
		ls = &loadedSource{}
		r.sources[source] = ls
	}
	r.mu.Unlock()
	ls.mu.Lock()
	if ls.ix == nil {
		// Loaded on first use; a failure is not cached, so a later call can succeed.
		ix, err := LoadIndex(ctx, r.store, source)
		if err != nil {
			ls.mu.Unlock()
			return nil, err
		}
		// Embed queries the way the snapshot was built, even if the spec moved on.
		emb, err := EmbedderForSource(r.bundle, &compiler.RAG{Name: source, Embedding: ix.Snapshot.Embedding}, r.opts...)
		if err != nil {
			ls.mu.Unlock()
			return nil, err
		}
		ls.ix, ls.emb = ix, emb
	}
	ls.mu.Unlock()
	return ls.ix.Search(ctx, ls.emb, query, k)
}

// SnapshotID is the snapshot Retrieve reads source from, once it was
// loaded (ok=false before): what eval runs record as their RAG evidence.
func (r *Retriever) SnapshotID(source string) (string, bool) {
	r.mu.Lock()
	ls := r.sources[source]
	r.mu.Unlock()
	if ls == nil {
		return "", false
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.ix == nil {
		return "", false
	}
	return ls.ix.Snapshot.ID, true
}
