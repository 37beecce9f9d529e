package compiler

import (
	"bytes"
	"crypto/sha256"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/cairn-dev/cairn/internal/atomicfile"
	"github.com/cairn-dev/cairn/internal/diag"
	"github.com/cairn-dev/cairn/internal/varenc"
)

// The parse cache: parsing every file and indexing its fields was a fifth
// of a check's CPU, and in the pull-request loop all files but one are as
// they were. What digest reads off an independent file — its field
// positions, top-level labels, objects and package clause — depends only on
// its name and bytes, so it is kept under their hash (and the build's); a
// file that is not independent keeps its syntax and is parsed every time.
// TestParseCacheAgrees holds the cached digests equal to fresh ones.

const parseCacheFormat = "cairn-parse-cache/2"

// parseStore is parse.bin: entries by key, read whole and decoded on use.
type parseStore struct {
	path    string
	entries map[[32]byte][]byte // key → encoded digest
	used    map[[32]byte]bool
	added   bool
}

func parseKey(salt, rel string, src []byte) [32]byte {
	h := sha256.New()
	for _, s := range []string{parseCacheFormat, salt, rel} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	h.Write(src)
	var k [32]byte
	h.Sum(k[:0])
	return k
}

func readParseStore(path string) *parseStore {
	s := &parseStore{path: path, entries: map[[32]byte][]byte{}, used: map[[32]byte]bool{}}
	b, err := os.ReadFile(path)
	if err != nil || !bytes.HasPrefix(b, []byte(parseCacheFormat+"\n")) {
		return s
	}
	d := &varenc.Decoder{B: b[len(parseCacheFormat)+1:]}
	for len(d.B) > 0 && d.Err == nil {
		k, v := d.Bytes(), d.Bytes()
		if len(k) != 32 {
			break
		}
		s.entries[[32]byte(k)] = v
	}
	if d.Err != nil || len(d.B) > 0 {
		return &parseStore{path: path, entries: map[[32]byte][]byte{}, used: map[[32]byte]bool{}} // torn: start over
	}
	return s
}

// get returns the cached digest of file rel with bytes src. It is called
// from the parse workers: it only reads the store.
func (s *parseStore) get(k [32]byte, rel string, src []byte) (parsed, bool) {
	b, ok := s.entries[k]
	if !ok {
		return parsed{}, false
	}
	p, err := decodeDigest(b, rel, src)
	if err != nil {
		return parsed{}, false
	}
	return p, true
}

// put records an independent file's digest, unless the file holds what
// looks like a credential (its labels are in the digest; no_secrets denies
// it, and the cache must not keep a copy outside the repo).
func (s *parseStore) put(k [32]byte, p *parsed) {
	if !p.indep || diag.Redact(string(p.src)) != string(p.src) {
		return
	}
	s.entries[k] = encodeDigest(p)
	s.used[k] = true
	s.added = true
}

// save writes the entries used in this run and as many others again (another
// branch's files), when anything was added.
func (s *parseStore) save() {
	if !s.added {
		return
	}
	var keep [][32]byte
	for k := range s.used {
		keep = append(keep, k)
	}
	var old [][32]byte
	for k := range s.entries {
		if !s.used[k] {
			old = append(old, k)
		}
	}
	slices.SortFunc(old, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
	keep = append(keep, old[:min(len(old), len(s.used))]...)
	n := len(parseCacheFormat) + 1
	for _, k := range keep {
		n += 32 + len(s.entries[k]) + 2*varenc.MaxOverhead
	}
	e := &varenc.Encoder{B: make([]byte, 0, n)}
	e.B = append(e.B, parseCacheFormat+"\n"...)
	for _, k := range keep {
		e.Bytes(k[:])
		e.Bytes(s.entries[k])
	}
	_ = os.MkdirAll(filepath.Dir(s.path), 0o755) // a read-only repo simply runs uncached
	_ = atomicfile.Write(s.path, e.B, 0o644)
}

// Positions are line and column in the file itself (0 for none).
func putPos(e *varenc.Encoder, p diag.Position) {
	e.Int(p.Line)
	e.Int(p.Col)
}

func getPos(d *varenc.Decoder, rel string) diag.Position {
	line, col := d.Int(), d.Int()
	if line == 0 {
		return diag.Position{}
	}
	return diag.Position{File: rel, Line: line, Col: col}
}

func encodeDigest(p *parsed) []byte {
	e := &varenc.Encoder{}
	e.Str(p.pkg)
	putPos(e, p.pkgPos)
	e.Int(len(p.ix.pos))
	for _, k := range slices.Sorted(maps.Keys(p.ix.pos)) {
		e.Str(k)
		putPos(e, p.ix.pos[k])
	}
	e.Int(len(p.ix.top))
	for _, t := range p.ix.top {
		e.Str(t.name)
		putPos(e, t.pos)
	}
	e.Int(len(p.ix.defined))
	for _, obj := range slices.Sorted(maps.Keys(p.ix.defined)) {
		e.Str(obj)
		e.Int(len(p.ix.defined[obj]))
		for _, w := range p.ix.defined[obj] {
			putPos(e, w)
		}
	}
	e.Int(len(p.units))
	for _, u := range p.units {
		e.Str(u.field)
		e.Str(u.name)
		e.Int(u.off)
		e.Int(len(u.src))
	}
	return e.B
}

func decodeDigest(b []byte, rel string, src []byte) (parsed, error) {
	d := &varenc.Decoder{B: b}
	p := parsed{rel: rel, src: src, indep: true}
	p.pkg = d.Str()
	p.pkgPos = getPos(d, rel)
	n := d.Int()
	p.ix = &posIndex{pos: make(map[string]diag.Position, min(n, len(b))), defined: map[string][]diag.Position{}}
	for range n {
		if d.Err != nil {
			return parsed{}, d.Err
		}
		k := d.Str()
		p.ix.pos[k] = getPos(d, rel)
	}
	n = d.Int()
	for range n {
		if d.Err != nil {
			return parsed{}, d.Err
		}
		name := d.Str()
		p.ix.top = append(p.ix.top, topLabel{name, getPos(d, rel)})
	}
	n = d.Int()
	for range n {
		if d.Err != nil {
			return parsed{}, d.Err
		}
		obj := d.Str()
		m := d.Int()
		for range m {
			p.ix.defined[obj] = append(p.ix.defined[obj], getPos(d, rel))
		}
	}
	n = d.Int()
	for range n {
		if d.Err != nil {
			return parsed{}, d.Err
		}
		u := unit{field: d.Str(), name: d.Str()}
		off, l := d.Int(), d.Int()
		if off < 0 || l < 0 || off > len(src)-l {
			return parsed{}, varenc.ErrCorrupt
		}
		u.src, u.off = src[off:off+l], off
		p.units = append(p.units, u)
	}
	if d.Err != nil || len(d.B) != 0 {
		return parsed{}, varenc.ErrCorrupt
	}
	return p, nil
}
