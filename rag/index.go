package rag

import (
	"container/heap"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/tmc/langchaingo/embeddings"
)

// vecMagic heads a stored vector blob: "CRV1", then the dimension as uint32,
// then n×dim float32, all little-endian. 10,000 chunks at 384 dimensions is 15 MiB.
var vecMagic = []byte("CRV1")

func snapKey(source, id string) string { return source + "@" + id }

// Current returns the current snapshot manifest of a source (without chunk
// texts), or nil when the source was never built.
func Current(ctx context.Context, store Store, source string) (*Snapshot, error) {
	id, ok, err := store.GetRecord(ctx, KindCurrent, source)
	if err != nil {
		return nil, fmt.Errorf("rag/%s: reading current snapshot: %w", source, err)
	}
	if !ok {
		return nil, nil
	}
	return LoadSnapshot(ctx, store, source, string(id))
}

// LoadSnapshot returns one stored snapshot manifest.
func LoadSnapshot(ctx context.Context, store Store, source, id string) (*Snapshot, error) {
	b, ok, err := store.GetRecord(ctx, KindSnapshot, snapKey(source, id))
	if err != nil {
		return nil, fmt.Errorf("rag/%s: reading snapshot %s: %w", source, id, err)
	}
	if !ok {
		return nil, fmt.Errorf("rag/%s: snapshot %s is missing from the state store", source, id)
	}
	var s Snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("rag/%s: snapshot %s is corrupt: %w", source, id, err)
	}
	return &s, nil
}

// History returns the current snapshot and its predecessors, newest first.
func History(ctx context.Context, store Store, source string) ([]*Snapshot, error) {
	var out []*Snapshot
	s, err := Current(ctx, store, source)
	seen := map[string]bool{}
	for s != nil && err == nil && !seen[s.ID] {
		seen[s.ID] = true
		out = append(out, s)
		if s.Previous == "" {
			break
		}
		s, err = LoadSnapshot(ctx, store, source, s.Previous)
	}
	return out, err
}

// save writes chunks, vectors and manifest, and only then the current pointer.
func save(ctx context.Context, store Store, s *Snapshot, vecs []float32) error {
	key := snapKey(s.Source, s.ID)
	chunks := make([]Chunk, len(s.chunks))
	copy(chunks, s.chunks)
	for i := range chunks {
		chunks[i].Score = 0
	}
	cb, err := json.Marshal(chunks)
	if err != nil {
		return err
	}
	if err := store.PutRecord(ctx, KindChunks, key, cb); err != nil {
		return err
	}
	if err := store.PutRecord(ctx, KindVectors, key, encodeVectors(s.Dim, vecs)); err != nil {
		return err
	}
	mb, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := store.PutRecord(ctx, KindSnapshot, key, mb); err != nil {
		return err
	}
	return store.PutRecord(ctx, KindCurrent, s.Source, []byte(s.ID))
}

func encodeVectors(dim int, vecs []float32) []byte {
	b := make([]byte, 8+4*len(vecs))
	copy(b, vecMagic)
	binary.LittleEndian.PutUint32(b[4:], uint32(dim))
	for i, f := range vecs {
		binary.LittleEndian.PutUint32(b[8+4*i:], math.Float32bits(f))
	}
	return b
}

func decodeVectors(b []byte, n int) (int, []float32, error) {
	if len(b) < 8 || string(b[:4]) != string(vecMagic) {
		return 0, nil, errors.New("vector blob has no CRV1 header")
	}
	dim := int(binary.LittleEndian.Uint32(b[4:]))
	body := b[8:]
	if dim <= 0 || len(body) != 4*dim*n {
		return 0, nil, fmt.Errorf("vector blob holds %d bytes, want %d chunks × %d dims × 4", len(body), n, dim)
	}
	v := make([]float32, dim*n)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[4*i:]))
	}
	return dim, v, nil
}

// unit returns v scaled to length 1, so that search is a dot product.
func unit(v []float32) ([]float32, error) {
	var s float64
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, errors.New("embedding has a NaN or infinite component")
		}
		s += float64(x) * float64(x)
	}
	out := make([]float32, len(v))
	if s == 0 {
		return out, nil // an empty text; it scores 0 against everything
	}
	n := math.Sqrt(s)
	for i, x := range v {
		out[i] = float32(float64(x) / n)
	}
	return out, nil
}

// Index is a snapshot loaded for search: chunks and their unit vectors, row-major.
type Index struct {
	Snapshot *Snapshot
	Chunks   []Chunk
	Dim      int
	Vecs     []float32
}

// LoadIndex loads the current snapshot of a source for search. Load it once
// and call Search many times when answering many queries (an eval suite).
func LoadIndex(ctx context.Context, store Store, source string) (*Index, error) {
	s, err := Current(ctx, store, source)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, fmt.Errorf("rag/%s: no snapshot built yet (run `cairn rag build`)", source)
	}
	return loadIndex(ctx, store, s)
}

func loadIndex(ctx context.Context, store Store, s *Snapshot) (*Index, error) {
	key := snapKey(s.Source, s.ID)
	cb, ok, err := store.GetRecord(ctx, KindChunks, key)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("rag/%s: chunks of snapshot %s are missing", s.Source, s.ID)
	}
	var chunks []Chunk
	if err := json.Unmarshal(cb, &chunks); err != nil {
		return nil, fmt.Errorf("rag/%s: chunks of snapshot %s are corrupt: %w", s.Source, s.ID, err)
	}
	if len(chunks) != s.Totals.Chunks {
		return nil, fmt.Errorf("rag/%s: snapshot %s lists %d chunks, %d stored", s.Source, s.ID, s.Totals.Chunks, len(chunks))
	}
	vb, ok, err := store.GetRecord(ctx, KindVectors, key)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("rag/%s: vectors of snapshot %s are missing", s.Source, s.ID)
	}
	var vecs []float32
	dim := s.Dim
	if len(chunks) > 0 {
		dim, vecs, err = decodeVectors(vb, len(chunks))
		if err != nil {
			return nil, fmt.Errorf("rag/%s: vectors of snapshot %s: %w", s.Source, s.ID, err)
		}
	}
	s.chunks = chunks
	return &Index{Snapshot: s, Chunks: chunks, Dim: dim, Vecs: vecs}, nil
}

// Search embeds the query and returns the k most similar chunks, best first.
func (ix *Index) Search(ctx context.Context, emb embeddings.Embedder, query string, k int) ([]Chunk, error) {
	if emb == nil {
		return nil, errors.New("no embedder")
	}
	q, err := emb.EmbedQuery(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("rag/%s: embedding the query: %w", ix.Snapshot.Source, err)
	}
	return ix.SearchVector(q, k)
}

// SearchVector returns the k chunks with the highest cosine similarity to q,
// best first; ties keep index order so results are deterministic.
func (ix *Index) SearchVector(q []float32, k int) ([]Chunk, error) {
	if k <= 0 {
		return nil, fmt.Errorf("k = %d: want at least 1", k)
	}
	if len(ix.Chunks) == 0 {
		return []Chunk{}, nil
	}
	if len(q) != ix.Dim {
		return nil, fmt.Errorf("rag/%s: query vector has %d dimensions, the index %d (was it built with %s/%s?)",
			ix.Snapshot.Source, len(q), ix.Dim, ix.Snapshot.Embedding.Provider, ix.Snapshot.Embedding.Model)
	}
	q, err := unit(q)
	if err != nil {
		return nil, err
	}
	h := make(minHeap, 0, k+1)
	d := ix.Dim
	for i := range ix.Chunks {
		row := ix.Vecs[i*d : (i+1)*d : (i+1)*d]
		var s float32
		for j, x := range row {
			s += x * q[j]
		}
		if len(h) < k {
			heap.Push(&h, hit{i, s})
		} else if s > h[0].score {
			h[0] = hit{i, s}
			heap.Fix(&h, 0)
		}
	}
	out := make([]Chunk, len(h))
	for i := len(h) - 1; i >= 0; i-- {
		x := heap.Pop(&h).(hit)
		c := ix.Chunks[x.i]
		c.Score = math.Round(float64(x.score)*1e6) / 1e6
		out[i] = c
	}
	return out, nil
}

type hit struct {
	i     int
	score float32
}

// minHeap keeps the k best hits with the worst on top; among equal scores
// the later chunk counts as worse, so earlier chunks win ties.
type minHeap []hit

func (h minHeap) Len() int { return len(h) }
func (h minHeap) Less(a, b int) bool {
	if h[a].score != h[b].score {
		return h[a].score < h[b].score
	}
	return h[a].i > h[b].i
}
func (h minHeap) Swap(a, b int) { h[a], h[b] = h[b], h[a] }
func (h *minHeap) Push(x any)   { *h = append(*h, x.(hit)) }
func (h *minHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// RetrieveOption configures Retrieve.
type RetrieveOption func(*retrieveConfig)

type retrieveConfig struct{ emb embeddings.Embedder }

// WithEmbedder sets the query embedder; it must be the one the snapshot was
// built with. Without it Retrieve uses the builtin embedder the snapshot names,
// and fails for remote providers (their client needs the bundle's provider).
func WithEmbedder(e embeddings.Embedder) RetrieveOption {
	return func(c *retrieveConfig) { c.emb = e }
}

// Retrieve returns the k chunks of a source's current snapshot most similar
// to the query, best first. It loads the index on every call; use LoadIndex
// and Index.Search for many queries.
func Retrieve(ctx context.Context, store Store, sourceName, query string, k int, opts ...RetrieveOption) ([]Chunk, error) {
	var cfg retrieveConfig
	for _, o := range opts {
		o(&cfg)
	}
	ix, err := LoadIndex(ctx, store, sourceName)
	if err != nil {
		return nil, err
	}
	if cfg.emb == nil {
		e := ix.Snapshot.Embedding
		if e.Provider != BuiltinProvider {
			return nil, fmt.Errorf("rag/%s: built with provider %q; pass rag.WithEmbedder(rag.EmbedderForSource(bundle, source))", sourceName, e.Provider)
		}
		cfg.emb, err = NewHashEmbedder(e.Model)
		if err != nil {
			return nil, err
		}
	}
	return ix.Search(ctx, cfg.emb, query, k)
}

// SourceStatus is what `cairn rag status` reports for one source.
type SourceStatus struct {
	Source  string      `json:"source"`
	Current *Snapshot   `json:"current,omitempty"` // nil: never built
	History []*Snapshot `json:"history"`           // current first
}

// Status returns the stored state of a source: its current snapshot and
// history. Combine with PlanSource to say whether the repo has moved on.
func Status(ctx context.Context, store Store, sourceName string) (*SourceStatus, error) {
	h, err := History(ctx, store, sourceName)
	if err != nil {
		return nil, err
	}
	st := &SourceStatus{Source: sourceName, History: h}
	if len(h) > 0 {
		st.Current = h[0]
	}
	if st.History == nil {
		st.History = []*Snapshot{}
	}
	return st, nil
}
