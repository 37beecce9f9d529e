package compiler

import (
	"bytes"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"os"
	"path"
	"path/filepath"
	"strconv"

	"github.com/cairn-dev/cairn/internal/atomicfile"
	"github.com/cairn-dev/cairn/internal/diag"
	"github.com/cairn-dev/cairn/limits"
)

// The dataset cache. Checking an eval's dataset decodes every row (ids
// unique, the prompt's vars present) and scans it for credentials: a tenth
// of a check after an edit, for files that had not changed. What the check
// finds depends only on the file's bytes, the vars the target prompt needs
// (and its name, which the messages quote), whether its context comes from
// RAG, and the row limits: kept under their hash in datasets.gob, this run's
// entries only. A scan that failed (a binary, non-UTF-8 or oversized file)
// is not kept: it is cheap, and the file must be fixed anyway.

// datasetFacts is what one scan found.
type datasetFacts struct {
	Cases   int
	Rows    []rowFinding
	Secrets []rowFinding // Code holds the kind
}

type rowFinding struct {
	Code, Message string
	Line, Col     int
}

type datasetCache struct {
	path  string // "" without a cache directory: nothing is read or kept
	salt  string
	known map[string]datasetFacts
	used  map[string]datasetFacts
	added bool
}

func readDatasetCache(dir, salt string) *datasetCache {
	c := &datasetCache{salt: salt, known: map[string]datasetFacts{}, used: map[string]datasetFacts{}}
	if dir == "" {
		return c
	}
	c.path = filepath.Join(dir, "datasets.gob")
	if b, err := os.ReadFile(c.path); err == nil {
		var m map[string]datasetFacts
		if gob.NewDecoder(bytes.NewReader(b)).Decode(&m) == nil {
			c.known = m
		}
	}
	return c
}

// key names a scan of src for a prompt needing needs; sum is src's hash.
func (c *datasetCache) key(src []byte, prompt string, needs []string, ragContext bool) (key string, sum [32]byte) {
	lim := limits.Get()
	h := sha256.New()
	sum = sha256.Sum256(src)
	for _, s := range append([]string{cacheFormat, "dataset", c.salt, hex.EncodeToString(sum[:]), prompt, strconv.FormatBool(ragContext),
		strconv.FormatInt(lim.LineBytes, 10), strconv.FormatInt(lim.Rows, 10)}, needs...) {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)), sum
}

func (c *datasetCache) get(key string) (datasetFacts, bool) {
	if c.path == "" {
		return datasetFacts{}, false
	}
	f, ok := c.known[key]
	if ok {
		c.used[key] = f
	}
	return f, ok
}

// put keeps a scan's facts, unless a message quotes what looks like a
// credential (a row id): the cache keeps no copy of one outside the repo.
func (c *datasetCache) put(key string, f datasetFacts) {
	if c.path == "" {
		return
	}
	for _, r := range f.Rows {
		if diag.Redact(r.Message) != r.Message {
			return
		}
	}
	c.used[key] = f
	c.added = true
}

func (c *datasetCache) save() {
	if !c.added && len(c.used) == len(c.known) {
		return
	}
	var buf bytes.Buffer
	if gob.NewEncoder(&buf).Encode(c.used) != nil {
		return
	}
	_ = os.MkdirAll(filepath.Dir(c.path), 0o755) // a read-only repo simply runs uncached
	_ = atomicfile.Write(c.path, buf.Bytes(), 0o644)
}

// applyDataset replays cached facts as a scan of rel for obj would have produced them.
func (r *resolver) applyDataset(f datasetFacts, obj, rel string, sum [32]byte) {
	file := cleanRel(rel)
	for _, s := range f.Secrets {
		r.c.fs.secrets = append(r.c.fs.secrets, SecretFinding{File: path.Clean(filepath.ToSlash(rel)), Line: s.Line, Col: s.Col, Kind: s.Code})
	}
	for _, d := range f.Rows {
		r.ds = append(r.ds, diag.Diagnostic{Severity: diag.Error, Code: d.Code, Object: obj, Path: "dataset",
			Message: d.Message, Pos: diag.Position{File: file, Line: d.Line, Col: d.Col}})
	}
	r.c.fs.hashes[path.Clean(filepath.ToSlash(rel))] = "sha256:" + hex.EncodeToString(sum[:])
}
