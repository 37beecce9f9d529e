package rag

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cairn-dev/cairn/compiler"
)

var update = flag.Bool("update", false, "rewrite golden files")

const corpusDir = "../testdata/rag/corpus"

// corpusRAG mirrors what the compiler produces for testdata/rag/corpus/cairn.cue:
// each source's glob expanded to sorted repo-relative files.
func corpusRAG(t testing.TB, root string) *compiler.RAG {
	t.Helper()
	src := &compiler.RAG{
		Name:      "help-center",
		Chunking:  compiler.Chunking{Size: 300, Overlap: 50},
		Embedding: compiler.Embedding{Provider: "builtin", Model: "hash-384"},
		Retrieval: compiler.Retrieval{TopK: 3},
	}
	for _, s := range []struct{ glob, lic, class string }{
		{"docs/*.md", "CC-BY-4.0", "public"},
		{"docs/*.txt", "CC-BY-4.0", "public"},
		{"docs/*.html", "CC-BY-4.0", "public"},
		{"docs/*.csv", "proprietary", "internal"},
		{"docs/*.pdf", "proprietary", "internal"},
	} {
		src.Sources = append(src.Sources, compiler.RAGSourceFile{Path: s.glob, License: s.lic, Classification: s.class, Files: globFiles(t, root, s.glob)})
	}
	return src
}

func globFiles(t testing.TB, root, glob string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(glob)))
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, f := range m {
		rel, _ := filepath.Rel(root, f)
		out = append(out, filepath.ToSlash(rel))
	}
	slices.Sort(out)
	return out
}

// copyCorpus copies the fixture corpus into a temp dir the test may edit.
func copyCorpus(t testing.TB) string {
	t.Helper()
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS(corpusDir)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// countingEmbedder wraps the hash embedder and records every call.
type countingEmbedder struct {
	HashEmbedder
	mu       sync.Mutex
	docCalls int
	texts    []string
	fail     error
}

func newCounting() *countingEmbedder { return &countingEmbedder{HashEmbedder: HashEmbedder{Dim: 384}} }

func (c *countingEmbedder) EmbedDocuments(ctx context.Context, texts []string) ([][]float32, error) {
	c.mu.Lock()
	c.docCalls++
	c.texts = append(c.texts, texts...)
	c.mu.Unlock()
	if c.fail != nil {
		return nil, c.fail
	}
	return c.HashEmbedder.EmbedDocuments(ctx, texts)
}

func TestScanDeterministicAndGolden(t *testing.T) {
	ctx := context.Background()
	src := corpusRAG(t, corpusDir)
	a, err := Scan(ctx, corpusDir, src, Lineage{Commit: "abc123"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Scan(ctx, corpusDir, corpusRAG(t, corpusDir), Lineage{Commit: "def456"})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != b.ID {
		t.Fatalf("same content, different ids: %s vs %s (lineage must not change the id)", a.ID, b.ID)
	}
	if a.Totals.Documents != 16 {
		t.Errorf("documents = %d, want 16", a.Totals.Documents)
	}
	// Every loader produced text: the PDF page, the CSV rows (one chunk per row), the HTML body without tags.
	byDoc := map[string][]Chunk{}
	for _, c := range a.Chunks() {
		byDoc[c.Document] = append(byDoc[c.Document], c)
	}
	if cs := byDoc["docs/warranty.pdf"]; len(cs) == 0 || !strings.Contains(cs[0].Text, "two year limited warranty") || cs[0].Page != 1 {
		t.Errorf("pdf chunks = %+v", cs)
	}
	if cs := byDoc["docs/pricing-plans.csv"]; len(cs) != 3 || cs[1].Row != 2 || !strings.Contains(cs[1].Text, "plan: Team") {
		t.Errorf("csv chunks = %+v", cs)
	}
	for _, c := range byDoc["docs/sso-saml.html"] {
		if strings.Contains(c.Text, "<") || strings.Contains(c.Text, "font-family") {
			t.Errorf("html chunk kept markup or style: %q", c.Text)
		}
	}
	for _, c := range a.Chunks() {
		if n := len([]rune(c.Text)); n > src.Chunking.Size {
			t.Errorf("%s chunk %d has %d runes, over chunk size %d", c.Document, c.Index, n, src.Chunking.Size)
		}
	}
	if len(byDoc["docs/password-reset.md"]) < 2 {
		t.Errorf("password-reset.md should split into several chunks at size 300, got %d", len(byDoc["docs/password-reset.md"]))
	}

	got, err := json.MarshalIndent(struct {
		Snapshot *Snapshot `json:"snapshot"`
		Chunks   []Chunk   `json:"chunks"`
	}{a, a.Chunks()}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden := "../testdata/rag/golden/help-center.snapshot.json"
	if *update {
		os.MkdirAll(filepath.Dir(golden), 0o755)
		if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./rag -run Golden -update)", err)
	}
	if string(want) != string(got)+"\n" {
		t.Errorf("snapshot differs from %s (run with -update if intended)", golden)
	}
}

func TestBuildReembedsOnlyChanges(t *testing.T) {
	ctx := context.Background()
	root := copyCorpus(t)
	store := NewMemStore()
	emb := newCounting()

	s1, d1, err := Build(ctx, root, corpusRAG(t, root), store, emb, Lineage{Commit: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	if d1.From != "" || len(d1.Added) != 16 || d1.EmbeddedChunks != s1.Totals.Chunks || len(emb.texts) != s1.Totals.Chunks {
		t.Fatalf("first build: diff %+v, embedded %d texts, snapshot has %d chunks", d1, len(emb.texts), s1.Totals.Chunks)
	}
	if s1.Dim != 384 || s1.Lineage.Commit != "c1" {
		t.Errorf("snapshot dim %d lineage %+v", s1.Dim, s1.Lineage)
	}

	// Nothing changed: no embedder call, no write.
	before := store.Kinds()
	emb.docCalls, emb.texts = 0, nil
	s2, d2, err := Build(ctx, root, corpusRAG(t, root), store, emb, Lineage{Commit: "c2"})
	if err != nil {
		t.Fatal(err)
	}
	if d2.HasChanges() || s2.ID != s1.ID || emb.docCalls != 0 {
		t.Fatalf("unchanged rebuild: diff %+v, %d embedder calls", d2, emb.docCalls)
	}
	if fmt.Sprint(store.Kinds()) != fmt.Sprint(before) {
		t.Error("unchanged rebuild wrote to the store")
	}

	// Change the end of one document, add one, remove one, relabel the CSV.
	appendFile(t, filepath.Join(root, "docs/refunds.md"), "\nRefunds for digital downloads are granted only if the file was never downloaded.\n")
	write(t, filepath.Join(root, "docs/loyalty.md"), "# Loyalty points\n\nEvery dollar spent earns one loyalty point; 100 points give a $5 voucher.\n")
	os.Remove(filepath.Join(root, "docs/gift-cards.txt"))
	src := corpusRAG(t, root)
	src.Sources[3].Classification = "confidential"

	plan, err := PlanSource(ctx, root, src, store, Lineage{})
	if err != nil {
		t.Fatal(err)
	}
	emb.docCalls, emb.texts = 0, nil
	s3, d3, err := Build(ctx, root, src, store, emb, Lineage{Commit: "c3"})
	if err != nil {
		t.Fatal(err)
	}
	want := Diff{Source: "help-center", From: s1.ID, To: s3.ID,
		Added: []string{"docs/loyalty.md"}, Changed: []string{"docs/refunds.md"}, Removed: []string{"docs/gift-cards.txt"},
		Relabeled: []string{"docs/pricing-plans.csv"}, Unchanged: 13}
	cmp := func(d Diff) string {
		d.EmbeddedChunks, d.ReusedChunks = 0, 0
		return fmt.Sprintf("%+v", d)
	}
	if cmp(d3) != cmp(want) {
		t.Errorf("diff\n got %s\nwant %s", cmp(d3), cmp(want))
	}
	if cmp(plan) != cmp(d3) {
		t.Errorf("PlanSource %s differs from Build's diff %s", cmp(plan), cmp(d3))
	}
	// Only new chunks went to the embedder: loyalty.md's, and refunds.md's changed tail.
	if emb.docCalls != 1 {
		t.Errorf("embedder calls = %d, want 1 batch", emb.docCalls)
	}
	old := map[string]bool{}
	for _, doc := range s1.Documents {
		for _, id := range doc.Chunks {
			old[id] = true
		}
	}
	var wantTexts []string
	for _, c := range s3.Chunks() {
		if !old[c.ID] {
			wantTexts = append(wantTexts, c.Text)
			if c.Document != "docs/loyalty.md" && c.Document != "docs/refunds.md" {
				t.Errorf("unchanged document %s re-embedded", c.Document)
			}
		}
	}
	if !slices.Equal(emb.texts, wantTexts) || d3.EmbeddedChunks != len(wantTexts) || d3.ReusedChunks != s3.Totals.Chunks-len(wantTexts) {
		t.Errorf("embedded %d texts %q, want %d %q (diff %+v)", len(emb.texts), emb.texts, len(wantTexts), wantTexts, d3)
	}
	if d3.ReusedChunks == 0 || len(wantTexts) >= s3.Totals.Chunks/2 {
		t.Errorf("expected most chunks reused: reused %d of %d", d3.ReusedChunks, s3.Totals.Chunks)
	}
	if s3.Previous != s1.ID {
		t.Errorf("previous = %s, want %s", s3.Previous, s1.ID)
	}

	// The index reflects the new snapshot, and reused vectors equal fresh ones.
	got, err := Retrieve(ctx, store, "help-center", "how many loyalty points for a voucher", 1)
	if err != nil || len(got) != 1 || got[0].Document != "docs/loyalty.md" {
		t.Fatalf("retrieve after rebuild: %+v %v", got, err)
	}
	fresh := NewMemStore()
	if _, _, err := Build(ctx, root, src, fresh, newCounting(), Lineage{Commit: "c3"}); err != nil {
		t.Fatal(err)
	}
	a, _, _ := fresh.GetRecord(ctx, KindVectors, snapKey("help-center", s3.ID))
	b, _, _ := store.GetRecord(ctx, KindVectors, snapKey("help-center", s3.ID))
	if string(a) != string(b) {
		t.Error("incremental build's vectors differ from a full rebuild's")
	}

	// Changing the chunking re-embeds everything.
	src.Chunking.Size = 200
	emb.docCalls, emb.texts = 0, nil
	s4, d4, err := Build(ctx, root, src, store, emb, Lineage{Commit: "c4"})
	if err != nil {
		t.Fatal(err)
	}
	if !d4.Reembed || !strings.Contains(d4.Reason, "chunking 300/50 → 200/50") || len(emb.texts) != s4.Totals.Chunks {
		t.Errorf("chunking change: diff %+v, embedded %d of %d", d4, len(emb.texts), s4.Totals.Chunks)
	}
	st, err := Status(ctx, store, "help-center")
	if err != nil || st.Current.ID != s4.ID || len(st.History) != 3 {
		t.Errorf("status: %+v %v", st, err)
	}
}

func TestRetrievalCorpusTopK(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore()
	src := corpusRAG(t, corpusDir)
	if _, _, err := Build(ctx, corpusDir, src, store, &HashEmbedder{Dim: 384}, Lineage{}); err != nil {
		t.Fatal(err)
	}
	ix, err := LoadIndex(ctx, store, "help-center")
	if err != nil {
		t.Fatal(err)
	}
	qs := readQuestions(t)
	if len(qs) < 15 {
		t.Fatalf("only %d questions", len(qs))
	}
	k := src.Retrieval.TopK
	hits, first := 0, 0
	for _, q := range qs {
		got, err := ix.Search(ctx, &HashEmbedder{Dim: 384}, q.Question, k)
		if err != nil {
			t.Fatal(err)
		}
		found := -1
		for i, c := range got {
			if c.Document == q.Document && strings.Contains(c.Text, q.Contains) {
				found = i
				break
			}
		}
		if found < 0 {
			t.Errorf("%q: expected chunk of %s containing %q not in top %d: %v", q.Question, q.Document, q.Contains, k, docs(got))
			continue
		}
		hits++
		if found == 0 {
			first++
		}
		for i := 1; i < len(got); i++ {
			if got[i].Score > got[i-1].Score {
				t.Errorf("%q: results not sorted by score", q.Question)
			}
		}
	}
	t.Logf("recall@%d = %d/%d, first place %d/%d", k, hits, len(qs), first, len(qs))
}

type question struct {
	Question, Document, Contains string
}

func readQuestions(t testing.TB) []question {
	f, err := os.Open(filepath.Join(corpusDir, "questions.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var qs []question
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var q question
		if err := json.Unmarshal(sc.Bytes(), &q); err != nil {
			t.Fatal(err)
		}
		qs = append(qs, q)
	}
	return qs
}

func docs(cs []Chunk) []string {
	var out []string
	for _, c := range cs {
		out = append(out, fmt.Sprintf("%s#%d(%.3f)", c.Document, c.Index, c.Score))
	}
	return out
}

// failingStore fails the first PutRecord of one kind.
type failingStore struct {
	*MemStore
	failKind string
}

func (f *failingStore) PutRecord(ctx context.Context, kind, key string, v []byte) error {
	if kind == f.failKind {
		return errors.New("disk full")
	}
	return f.MemStore.PutRecord(ctx, kind, key, v)
}

func TestFailedBuildKeepsPreviousSnapshot(t *testing.T) {
	ctx := context.Background()
	root := copyCorpus(t)
	mem := NewMemStore()
	s1, _, err := Build(ctx, root, corpusRAG(t, root), mem, newCounting(), Lineage{Commit: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	appendFile(t, filepath.Join(root, "docs/webhooks.md"), "\nWebhook payloads are at most 256 KB.\n")
	for _, kind := range []string{KindChunks, KindVectors, KindSnapshot, KindCurrent, "embedder"} {
		t.Run(kind, func(t *testing.T) {
			store := &failingStore{MemStore: mem, failKind: kind}
			emb := newCounting()
			if kind == "embedder" {
				emb.fail = errors.New("connection refused")
			}
			_, _, err := Build(ctx, root, corpusRAG(t, root), store, emb, Lineage{Commit: "c2"})
			if err == nil {
				t.Fatal("build succeeded")
			}
			cur, err2 := Current(ctx, mem, "help-center")
			if err2 != nil || cur.ID != s1.ID {
				t.Fatalf("current moved after failed build (%v): %v", err, err2)
			}
			got, err2 := Retrieve(ctx, mem, "help-center", "webhook signature", 1)
			if err2 != nil || len(got) != 1 || got[0].Document != "docs/webhooks.md" {
				t.Fatalf("previous index unusable: %v %v", got, err2)
			}
		})
	}
}

func TestBadInputs(t *testing.T) {
	ctx := context.Background()
	outside := t.TempDir()
	write(t, filepath.Join(outside, "secret.md"), "outside the repo")
	cases := []struct {
		name  string
		setup func(root string, src *compiler.RAG)
		want  []string
	}{
		{"glob matches nothing", func(root string, src *compiler.RAG) {
			src.Sources = append(src.Sources, compiler.RAGSourceFile{Path: "kb/**/*.md", License: "x", Classification: "public"})
		}, []string{`sources[5].path "kb/**/*.md" matched no files`}},
		{"binary text file", func(root string, src *compiler.RAG) {
			write(t, filepath.Join(root, "docs/blob.txt"), "ELF\x00\x01\x02")
			src.Sources[1].Files = append(src.Sources[1].Files, "docs/blob.txt")
		}, []string{"docs/blob.txt: binary content (NUL byte at offset 3)"}},
		{"invalid utf-8", func(root string, src *compiler.RAG) {
			write(t, filepath.Join(root, "docs/latin1.md"), "caf\xe9 menu")
			src.Sources[0].Files = append(src.Sources[0].Files, "docs/latin1.md")
		}, []string{"docs/latin1.md: not valid UTF-8 (first bad byte at offset 3)"}},
		{"huge file", func(root string, src *compiler.RAG) {
			write(t, filepath.Join(root, "docs/huge.md"), strings.Repeat("lorem ipsum ", 2000))
			src.Sources[0].Files = append(src.Sources[0].Files, "docs/huge.md")
		}, []string{"docs/huge.md: file is 23 KiB (limit 16 KiB; raise it with --max-document-size"}},
		{"pdf garbage", func(root string, src *compiler.RAG) {
			write(t, filepath.Join(root, "docs/broken.pdf"), "%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage")
			src.Sources[4].Files = append(src.Sources[4].Files, "docs/broken.pdf")
		}, []string{"docs/broken.pdf: unreadable PDF"}},
		{"pdf that is not a pdf", func(root string, src *compiler.RAG) {
			write(t, filepath.Join(root, "docs/fake.pdf"), "just text")
			src.Sources[4].Files = append(src.Sources[4].Files, "docs/fake.pdf")
		}, []string{"docs/fake.pdf: unreadable PDF: missing %PDF- header"}},
		{"truncated pdf", func(root string, src *compiler.RAG) {
			b, _ := os.ReadFile(filepath.Join(root, "docs/warranty.pdf"))
			write(t, filepath.Join(root, "docs/cut.pdf"), string(b[:len(b)/2]))
			src.Sources[4].Files = append(src.Sources[4].Files, "docs/cut.pdf")
		}, []string{"docs/cut.pdf: unreadable PDF"}},
		{"dot-dot escape", func(root string, src *compiler.RAG) {
			src.Sources[0].Files = append(src.Sources[0].Files, "../secret.md")
		}, []string{"../secret.md: cannot open"}},
		{"symlink escape", func(root string, src *compiler.RAG) {
			if err := os.Symlink(filepath.Join(outside, "secret.md"), filepath.Join(root, "docs/link.md")); err != nil {
				t.Skip(err)
			}
			src.Sources[0].Files = append(src.Sources[0].Files, "docs/link.md")
		}, []string{"docs/link.md: cannot open"}},
		{"unsupported type", func(root string, src *compiler.RAG) {
			write(t, filepath.Join(root, "docs/notes.docx"), "PK")
			src.Sources[0].Files = append(src.Sources[0].Files, "docs/notes.docx")
		}, []string{`docs/notes.docx: unsupported document type ".docx"`}},
		{"bad csv", func(root string, src *compiler.RAG) {
			write(t, filepath.Join(root, "docs/bad.csv"), "a,b\n1,2,3\n")
			src.Sources[3].Files = append(src.Sources[3].Files, "docs/bad.csv")
		}, []string{"docs/bad.csv: invalid CSV"}},
		{"overlap too large", func(root string, src *compiler.RAG) {
			src.Chunking.Overlap = 300
		}, []string{"specs/rag.cue:7:2: rag/help-center.chunking: overlap: 300 must be smaller than size (300)"}},
		{"several bad files reported together", func(root string, src *compiler.RAG) {
			write(t, filepath.Join(root, "docs/a.txt"), "\x00")
			write(t, filepath.Join(root, "docs/b.pdf"), "nope")
			src.Sources[1].Files = append(src.Sources[1].Files, "docs/a.txt")
			src.Sources[4].Files = append(src.Sources[4].Files, "docs/b.pdf")
		}, []string{"docs/a.txt: binary content", "docs/b.pdf: unreadable PDF"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := copyCorpus(t)
			store := NewMemStore()
			s1, _, err := Build(ctx, root, corpusRAG(t, root), store, newCounting(), Lineage{})
			if err != nil {
				t.Fatal(err)
			}
			before := store.Kinds()
			src := corpusRAG(t, root)
			src.Pos = compiler.Position{File: "specs/rag.cue", Line: 7, Col: 2}
			tc.setup(root, src)
			_, _, err = Build(ctx, root, src, store, newCounting(), Lineage{}, WithMaxFileBytes(16<<10))
			if err == nil {
				t.Fatal("build succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "outside the repo") {
				t.Error("error leaked content of a file outside the repo")
			}
			if fmt.Sprint(store.Kinds()) != fmt.Sprint(before) {
				t.Error("failed build changed the store")
			}
			if cur, _ := Current(ctx, store, "help-center"); cur == nil || cur.ID != s1.ID {
				t.Error("previous snapshot is no longer current")
			}
		})
	}
}

func TestFileErrorIsInspectable(t *testing.T) {
	root := copyCorpus(t)
	write(t, filepath.Join(root, "docs/z.txt"), "\x00")
	src := corpusRAG(t, root)
	src.Sources[1].Files = append(src.Sources[1].Files, "docs/z.txt")
	_, err := Scan(context.Background(), root, src, Lineage{})
	var fe *FileError
	if !errors.As(err, &fe) || fe.File != "docs/z.txt" {
		t.Fatalf("errors.As(*FileError) = %v, %v", fe, err)
	}
}

func TestRetrieveErrors(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore()
	if _, err := Retrieve(ctx, store, "nope", "q", 3); err == nil || !strings.Contains(err.Error(), "rag/nope: no snapshot built yet") {
		t.Errorf("unbuilt source: %v", err)
	}
	if _, _, err := Build(ctx, corpusDir, corpusRAG(t, corpusDir), store, &HashEmbedder{Dim: 384}, Lineage{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Retrieve(ctx, store, "help-center", "q", 0); err == nil || !strings.Contains(err.Error(), "k = 0") {
		t.Errorf("k=0: %v", err)
	}
	if _, err := Retrieve(ctx, store, "help-center", "q", 2, WithEmbedder(&HashEmbedder{Dim: 128})); err == nil || !strings.Contains(err.Error(), "128 dimensions, the index 384") {
		t.Errorf("dimension mismatch: %v", err)
	}
	got, err := Retrieve(ctx, store, "help-center", "gift card balance", 100)
	if err != nil || len(got) == 0 || len(got) > 100 {
		t.Errorf("k larger than index: %d %v", len(got), err)
	}
	// Corrupt vectors are reported, not a panic.
	cur, _ := Current(ctx, store, "help-center")
	store.PutRecord(ctx, KindVectors, snapKey("help-center", cur.ID), []byte("CRV1\x80\x01\x00\x00short"))
	if _, err := Retrieve(ctx, store, "help-center", "q", 1); err == nil || !strings.Contains(err.Error(), "vectors of snapshot") {
		t.Errorf("corrupt vectors: %v", err)
	}
}

func write(t testing.TB, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t testing.TB, path, s string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	write(t, path, string(b)+s)
}

func TestRetrieverConcurrent(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore()
	src := corpusRAG(t, corpusDir)
	b := &compiler.Bundle{Root: corpusDir, RAG: map[string]*compiler.RAG{"help-center": src, "never-built": {Name: "never-built"}}}
	r := NewRetriever(store, b)
	if _, err := r.Retrieve(ctx, "help-center", "q", 0); err == nil || !strings.Contains(err.Error(), "no snapshot built yet") {
		t.Fatalf("before build: %v", err)
	}
	if _, _, err := (Snapshotter{Store: store}).BuildSource(ctx, b, "help-center"); err != nil {
		t.Fatal(err)
	}
	// The same Retriever now finds the snapshot: failures are not cached.
	qs := readQuestions(t)
	var wg sync.WaitGroup
	errs := make(chan error, len(qs))
	for _, q := range qs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := r.Retrieve(ctx, "help-center", q.Question, 0)
			if err != nil {
				errs <- err
				return
			}
			if len(got) != src.Retrieval.TopK {
				errs <- fmt.Errorf("%q: %d chunks, want top_k %d", q.Question, len(got), src.Retrieval.TopK)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if _, err := r.Retrieve(ctx, "nope", "q", 1); err == nil || !strings.Contains(err.Error(), "rag/nope: not declared") {
		t.Errorf("undeclared: %v", err)
	}
}
