// Package rag turns a spec's declared RAG sources into versioned, content-
// addressed snapshots: documents loaded with langchaingo's loaders, split with
// its recursive character splitter, embedded (offline hashing by default), and
// stored with an in-memory cosine index through a small Store interface.
package rag

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/tmc/langchaingo/embeddings"
	"github.com/tmc/langchaingo/textsplitter"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/limits"
)

// SnapshotFormat is bumped when the stored manifest or chunk-id scheme changes.
const SnapshotFormat = 1

// Lineage says where a snapshot came from. Nothing here is read from the
// clock: callers pass BuiltAt in when they want it recorded.
type Lineage struct {
	Commit  string `json:"commit,omitempty"`
	Repo    string `json:"repo,omitempty"`
	BuiltAt string `json:"built_at,omitempty"`
}

// Document is one file of a snapshot.
type Document struct {
	Path           string   `json:"path"`
	Type           string   `json:"type"` // text | markdown | html | csv | pdf
	SHA256         string   `json:"sha256"`
	Bytes          int64    `json:"bytes"`
	Origin         string   `json:"origin"` // the declared source path or glob that matched it
	License        string   `json:"license"`
	Classification string   `json:"classification"`
	PII            bool     `json:"pii"`
	ChunkCount     int      `json:"chunk_count"`
	Chunks         []string `json:"chunks"` // chunk ids, in document order
}

// Totals summarises a snapshot.
type Totals struct {
	Documents int   `json:"documents"`
	Chunks    int   `json:"chunks"`
	Bytes     int64 `json:"bytes"`
}

// Snapshot is the manifest of one build of a RAG source. Its ID is the sha256
// of everything that determines the index (settings, documents, chunk ids,
// source metadata) and excludes lineage, so the same inputs give the same ID
// on any machine.
type Snapshot struct {
	FormatVersion int                `json:"format_version"`
	ID            string             `json:"id"`
	Source        string             `json:"source"`
	Chunking      compiler.Chunking  `json:"chunking"`
	Embedding     compiler.Embedding `json:"embedding"`
	Dim           int                `json:"dim"` // vector size; 0 in a scan that was not embedded
	Lineage       Lineage            `json:"lineage"`
	Previous      string             `json:"previous,omitempty"` // the snapshot this one replaced
	Documents     []Document         `json:"documents"`
	Totals        Totals             `json:"totals"`

	chunks []Chunk // in index order; set by Scan and LoadIndex
}

// Chunk is one retrievable piece of a document.
type Chunk struct {
	ID       string  `json:"id"`
	Source   string  `json:"source"`
	Document string  `json:"document"`
	Index    int     `json:"index"` // position within the document
	Page     int     `json:"page,omitempty"`
	Row      int     `json:"row,omitempty"`
	Text     string  `json:"text"`
	Score    float64 `json:"score,omitempty"` // cosine similarity, set by retrieval
}

// Chunks returns the snapshot's chunks in index order (nil for a manifest
// loaded without its chunks).
func (s *Snapshot) Chunks() []Chunk { return s.chunks }

// Diff is what a new snapshot changes against the current one: the plan's
// snapshot_rag action shows it, and Build embeds only what it needs.
type Diff struct {
	Source    string   `json:"source"`
	From      string   `json:"from,omitempty"` // current snapshot id; empty on the first build
	To        string   `json:"to"`
	Added     []string `json:"added"`
	Changed   []string `json:"changed"`
	Removed   []string `json:"removed"`
	Relabeled []string `json:"relabeled"` // licence, classification or PII changed, content did not
	Unchanged int      `json:"unchanged"`
	// Reembed is set when chunking or embedding settings changed, so no
	// stored vector can be reused; Reason says which.
	Reembed bool   `json:"reembed"`
	Reason  string `json:"reason,omitempty"`
	// Filled by Build: chunks sent to the embedder and chunks whose stored
	// vectors were reused.
	EmbeddedChunks int `json:"embedded_chunks"`
	ReusedChunks   int `json:"reused_chunks"`
}

// HasChanges reports whether the new snapshot differs from the current one.
func (d Diff) HasChanges() bool { return d.From != d.To }

// Summary is a one-line description for plans and logs.
func (d Diff) Summary() string {
	if !d.HasChanges() {
		return "up to date"
	}
	if d.From == "" {
		return fmt.Sprintf("first snapshot: %d documents", len(d.Added))
	}
	parts := []string{}
	for _, p := range []struct {
		n    int
		what string
	}{{len(d.Added), "added"}, {len(d.Changed), "changed"}, {len(d.Removed), "removed"}, {len(d.Relabeled), "relabeled"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.what))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "no document changes")
	}
	s := strings.Join(parts, ", ")
	if d.Reembed {
		s += "; re-embed all: " + d.Reason
	}
	return s
}

// BuildOption configures Scan and Build.
type BuildOption func(*buildConfig)

type buildConfig struct {
	maxFileBytes int64
}

// WithMaxFileBytes overrides limits.Get().DocumentBytes: larger documents
// are almost always a mistake (a data dump, a binary) and would bloat the index.
func WithMaxFileBytes(n int64) BuildOption { return func(c *buildConfig) { c.maxFileBytes = n } }

// Scan loads, splits and fingerprints a source's files without embedding or
// storing anything: the snapshot a build would produce. Every bad file is
// reported (errors.As finds each *FileError).
func Scan(ctx context.Context, root string, src *compiler.RAG, lineage Lineage, opts ...BuildOption) (*Snapshot, error) {
	cfg := buildConfig{maxFileBytes: limits.Get().DocumentBytes}
	for _, o := range opts {
		o(&cfg)
	}
	if src == nil {
		return nil, errors.New("rag source is nil")
	}
	where := "rag/" + src.Name
	if src.Pos.IsValid() {
		where = src.Pos.String() + ": " + where
	}
	if err := checkChunking(src.Chunking); err != nil {
		return nil, fmt.Errorf("%s.chunking: %w", where, err)
	}
	if len(src.Sources) == 0 {
		return nil, fmt.Errorf("%s.sources: no sources declared", where)
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("%s: spec repo: %w", where, err)
	}
	defer r.Close()

	splitter := textsplitter.NewRecursiveCharacter(
		textsplitter.WithChunkSize(src.Chunking.Size),
		textsplitter.WithChunkOverlap(src.Chunking.Overlap),
	)
	snap := &Snapshot{
		FormatVersion: SnapshotFormat,
		Source:        src.Name,
		Chunking:      src.Chunking,
		Embedding:     normEmbedding(src.Embedding),
		Lineage:       lineage,
		Documents:     []Document{},
	}
	var problems []error
	seen := map[string]bool{}
	type pending struct {
		doc    Document
		chunks []Chunk
	}
	var docs []pending
	for i, s := range src.Sources {
		if len(s.Files) == 0 {
			problems = append(problems, fmt.Errorf("sources[%d].path %q matched no files", i, s.Path))
			continue
		}
		for _, f := range s.Files {
			if seen[f] {
				continue // matched by an earlier source entry; the first declaration wins
			}
			seen[f] = true
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			ld, err := readDoc(ctx, r, f, cfg.maxFileBytes)
			if err != nil {
				problems = append(problems, &FileError{File: f, Err: err})
				continue
			}
			p := pending{doc: Document{
				Path: f, Type: ld.typ, SHA256: ld.sha, Bytes: ld.size, Origin: s.Path,
				License: s.License, Classification: s.Classification, PII: s.PII,
			}}
			for _, part := range ld.parts {
				texts, err := splitter.SplitText(part.PageContent)
				if err != nil {
					problems = append(problems, &FileError{File: f, Err: fmt.Errorf("splitting: %w", err)})
					break
				}
				for _, t := range texts {
					if strings.TrimSpace(t) == "" {
						continue
					}
					c := Chunk{Source: src.Name, Document: f, Index: len(p.chunks), Text: t}
					c.Page, _ = part.Metadata["page"].(int)
					c.Row, _ = part.Metadata["row"].(int)
					c.ID = chunkID(f, c.Index, t)
					p.chunks = append(p.chunks, c)
					p.doc.Chunks = append(p.doc.Chunks, c.ID)
				}
			}
			p.doc.ChunkCount = len(p.chunks)
			if p.doc.Chunks == nil {
				p.doc.Chunks = []string{}
			}
			docs = append(docs, p)
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s: %w", where, errors.Join(problems...))
	}
	slices.SortFunc(docs, func(a, b pending) int { return strings.Compare(a.doc.Path, b.doc.Path) })
	for _, p := range docs {
		snap.Documents = append(snap.Documents, p.doc)
		snap.chunks = append(snap.chunks, p.chunks...)
		snap.Totals.Documents++
		snap.Totals.Chunks += len(p.chunks)
		snap.Totals.Bytes += p.doc.Bytes
	}
	snap.ID = snapshotID(snap)
	return snap, nil
}

func checkChunking(c compiler.Chunking) error {
	switch {
	case c.Size <= 0:
		return fmt.Errorf("size: %d must be positive", c.Size)
	case c.Overlap < 0:
		return fmt.Errorf("overlap: %d must not be negative", c.Overlap)
	case c.Overlap >= c.Size:
		return fmt.Errorf("overlap: %d must be smaller than size (%d)", c.Overlap, c.Size)
	}
	return nil
}

func normEmbedding(e compiler.Embedding) compiler.Embedding {
	if e.Provider == "" {
		e.Provider = BuiltinProvider
	}
	if e.Model == "" && e.Provider == BuiltinProvider {
		e.Model = DefaultHashModel
	}
	return e
}

// chunkID is content-addressed: the document path, the chunk's position and
// its text. An unchanged chunk keeps its id (and its stored vector) across
// builds even when other parts of its document change.
func chunkID(doc string, index int, text string) string {
	h := sha256.New()
	h.Write([]byte(doc))
	h.Write([]byte{0})
	h.Write([]byte(strconv.Itoa(index)))
	h.Write([]byte{0})
	h.Write([]byte(text))
	return hex.EncodeToString(h.Sum(nil))[:32]
}

func snapshotID(s *Snapshot) string {
	// Lineage, Previous and Dim are left out: they describe the build, not the content.
	b, err := json.Marshal(struct {
		F int                `json:"f"`
		S string             `json:"s"`
		C compiler.Chunking  `json:"c"`
		E compiler.Embedding `json:"e"`
		D []Document         `json:"d"`
	}{s.FormatVersion, s.Source, s.Chunking, s.Embedding, s.Documents})
	if err != nil {
		panic(err) // plain structs of strings and ints always marshal
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// DiffSnapshots compares a new snapshot against the current one (nil when
// the source was never built).
func DiffSnapshots(prev, next *Snapshot) Diff {
	d := Diff{Source: next.Source, To: next.ID, Added: []string{}, Changed: []string{}, Removed: []string{}, Relabeled: []string{}}
	old := map[string]Document{}
	if prev != nil {
		d.From = prev.ID
		for _, doc := range prev.Documents {
			old[doc.Path] = doc
		}
		var why []string
		if prev.Chunking != next.Chunking {
			why = append(why, fmt.Sprintf("chunking %d/%d → %d/%d", prev.Chunking.Size, prev.Chunking.Overlap, next.Chunking.Size, next.Chunking.Overlap))
		}
		if prev.Embedding != next.Embedding {
			why = append(why, fmt.Sprintf("embedding %s/%s → %s/%s", prev.Embedding.Provider, prev.Embedding.Model, next.Embedding.Provider, next.Embedding.Model))
		}
		if prev.FormatVersion != next.FormatVersion {
			why = append(why, fmt.Sprintf("snapshot format %d → %d", prev.FormatVersion, next.FormatVersion))
		}
		if len(why) > 0 {
			d.Reembed, d.Reason = true, strings.Join(why, ", ")
		}
	}
	for _, doc := range next.Documents {
		o, ok := old[doc.Path]
		delete(old, doc.Path)
		switch {
		case !ok:
			d.Added = append(d.Added, doc.Path)
		case o.SHA256 != doc.SHA256:
			d.Changed = append(d.Changed, doc.Path)
		case o.License != doc.License || o.Classification != doc.Classification || o.PII != doc.PII || o.Origin != doc.Origin:
			d.Relabeled = append(d.Relabeled, doc.Path)
		default:
			d.Unchanged++
		}
	}
	for p := range old {
		d.Removed = append(d.Removed, p)
	}
	slices.Sort(d.Removed)
	return d
}

// Build scans the source, diffs it against the current snapshot, embeds only
// chunks that have no stored vector, and stores the new snapshot. The new
// snapshot's records are all written before the current pointer moves, so a
// failure at any step leaves the previous snapshot current and intact.
// When nothing changed, the current snapshot is returned and nothing is written.
func Build(ctx context.Context, root string, src *compiler.RAG, store Store, emb embeddings.Embedder, lineage Lineage, opts ...BuildOption) (*Snapshot, Diff, error) {
	next, err := Scan(ctx, root, src, lineage, opts...)
	if err != nil {
		return nil, Diff{}, err
	}
	prev, err := Current(ctx, store, src.Name)
	if err != nil {
		return nil, Diff{}, err
	}
	diff := DiffSnapshots(prev, next)
	if !diff.HasChanges() {
		diff.ReusedChunks = prev.Totals.Chunks
		return prev, diff, nil
	}
	if emb == nil {
		return nil, diff, fmt.Errorf("rag/%s: no embedder", src.Name)
	}

	reuse := map[string][]float32{}
	dim := 0
	if prev != nil && !diff.Reembed {
		idx, err := loadIndex(ctx, store, prev)
		if err != nil {
			return nil, diff, fmt.Errorf("rag/%s: reading current snapshot for reuse: %w", src.Name, err)
		}
		dim = idx.Dim
		for i, c := range idx.Chunks {
			reuse[c.ID] = idx.Vecs[i*idx.Dim : (i+1)*idx.Dim]
		}
	}
	var texts []string
	var missing []int
	for i, c := range next.chunks {
		if _, ok := reuse[c.ID]; !ok {
			texts = append(texts, c.Text)
			missing = append(missing, i)
		}
	}
	diff.EmbeddedChunks = len(texts)
	diff.ReusedChunks = len(next.chunks) - len(texts)

	var fresh [][]float32
	if len(texts) > 0 {
		fresh, err = emb.EmbedDocuments(ctx, texts)
		if err != nil {
			return nil, diff, fmt.Errorf("rag/%s: embedding %d chunks: %w", src.Name, len(texts), err)
		}
		if len(fresh) != len(texts) {
			return nil, diff, fmt.Errorf("rag/%s: embedder returned %d vectors for %d chunks", src.Name, len(fresh), len(texts))
		}
	}
	for j, v := range fresh {
		if dim == 0 {
			dim = len(v)
		}
		if len(v) != dim || dim == 0 {
			c := next.chunks[missing[j]]
			return nil, diff, fmt.Errorf("rag/%s: embedder returned a %d-dimensional vector for %s chunk %d, want %d", src.Name, len(v), c.Document, c.Index, dim)
		}
	}
	vecs := make([]float32, 0, len(next.chunks)*dim)
	j := 0
	for i, c := range next.chunks {
		if j < len(missing) && missing[j] == i {
			v, err := unit(fresh[j])
			if err != nil {
				return nil, diff, fmt.Errorf("rag/%s: %s chunk %d: %w", src.Name, c.Document, c.Index, err)
			}
			vecs = append(vecs, v...)
			j++
			continue
		}
		vecs = append(vecs, reuse[c.ID]...)
	}
	next.Dim = dim
	if prev != nil {
		next.Previous = prev.ID
	}
	if err := save(ctx, store, next, vecs); err != nil {
		return nil, diff, fmt.Errorf("rag/%s: storing snapshot (the previous one stays current): %w", src.Name, err)
	}
	return next, diff, nil
}

// PlanSource is Scan plus a diff against the stored current snapshot: what
// `cairn plan` shows for a snapshot_rag action, without embedding anything.
func PlanSource(ctx context.Context, root string, src *compiler.RAG, store Store, lineage Lineage, opts ...BuildOption) (Diff, error) {
	next, err := Scan(ctx, root, src, lineage, opts...)
	if err != nil {
		return Diff{}, err
	}
	prev, err := Current(ctx, store, src.Name)
	if err != nil {
		return Diff{}, err
	}
	return DiffSnapshots(prev, next), nil
}
