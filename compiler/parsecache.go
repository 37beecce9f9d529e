package compiler

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/cairn-dev/cairn/internal/atomicfile"
	"github.com/cairn-dev/cairn/internal/diag"
)

// The parse cache: parsing every file and indexing its fields was a fifth
// of a check's CPU, and in the pull-request loop all files but one are as
// they were. What digest reads off an independent file — its field
// positions, top-level labels, objects and package clause — depends only on
// its name and bytes, so it is kept under their hash (and the build's); a
// file that is not independent keeps its syntax and is parsed every time.
// TestParseCacheAgrees holds the cached digests equal to fresh ones.

const parseCacheFormat = "cairn-parse-cache/1"

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
	b = b[len(parseCacheFormat)+1:]
	for len(b) > 0 {
		if len(b) < 32 {
			return &parseStore{path: path, entries: map[[32]byte][]byte{}, used: map[[32]byte]bool{}} // torn: start over
		}
		var k [32]byte
		copy(k[:], b)
		n, w := binary.Uvarint(b[32:])
		if w <= 0 || uint64(len(b)-32-w) < n {
			return &parseStore{path: path, entries: map[[32]byte][]byte{}, used: map[[32]byte]bool{}}
		}
		s.entries[k] = b[32+w : 32+w+int(n)]
		b = b[32+w+int(n):]
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
		n += 32 + binary.MaxVarintLen64 + len(s.entries[k])
	}
	buf := make([]byte, 0, n)
	buf = append(buf, parseCacheFormat+"\n"...)
	for _, k := range keep {
		buf = append(buf, k[:]...)
		buf = binary.AppendUvarint(buf, uint64(len(s.entries[k])))
		buf = append(buf, s.entries[k]...)
	}
	_ = os.MkdirAll(filepath.Dir(s.path), 0o755) // a read-only repo simply runs uncached
	_ = atomicfile.Write(s.path, buf, 0o644)
}

// The encoding: strings and numbers as varints, positions as line and
// column in the file itself (0 for none).
type enc struct{ b []byte }

func (e *enc) int(n int)    { e.b = binary.AppendUvarint(e.b, uint64(n)) }
func (e *enc) str(s string) { e.int(len(s)); e.b = append(e.b, s...) }
func (e *enc) pos(p diag.Position) {
	e.int(p.Line)
	e.int(p.Col)
}

func encodeDigest(p *parsed) []byte {
	e := &enc{}
	e.str(p.pkg)
	e.pos(p.pkgPos)
	e.int(len(p.ix.pos))
	for _, k := range slices.Sorted(maps.Keys(p.ix.pos)) {
		e.str(k)
		e.pos(p.ix.pos[k])
	}
	e.int(len(p.ix.top))
	for _, t := range p.ix.top {
		e.str(t.name)
		e.pos(t.pos)
	}
	e.int(len(p.ix.defined))
	for _, obj := range slices.Sorted(maps.Keys(p.ix.defined)) {
		e.str(obj)
		e.int(len(p.ix.defined[obj]))
		for _, w := range p.ix.defined[obj] {
			e.pos(w)
		}
	}
	e.int(len(p.units))
	for _, u := range p.units {
		e.str(u.field)
		e.str(u.name)
		e.int(u.off)
		e.int(len(u.src))
	}
	return e.b
}

type dec struct {
	b   []byte
	err error
}

var errCorrupt = errors.New("corrupt parse cache entry")

func (d *dec) int() int {
	n, w := binary.Uvarint(d.b)
	if w <= 0 {
		d.err, d.b = errCorrupt, nil
		return 0
	}
	d.b = d.b[w:]
	return int(n)
}

func (d *dec) str() string {
	n := d.int()
	if n > len(d.b) {
		d.err, d.b = errCorrupt, nil
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *dec) pos(rel string) diag.Position {
	line, col := d.int(), d.int()
	if line == 0 {
		return diag.Position{}
	}
	return diag.Position{File: rel, Line: line, Col: col}
}

func decodeDigest(b []byte, rel string, src []byte) (parsed, error) {
	d := &dec{b: b}
	p := parsed{rel: rel, src: src, indep: true}
	p.pkg = d.str()
	p.pkgPos = d.pos(rel)
	n := d.int()
	p.ix = &posIndex{pos: make(map[string]diag.Position, min(n, len(b))), defined: map[string][]diag.Position{}}
	for range n {
		if d.err != nil {
			return parsed{}, d.err
		}
		k := d.str()
		p.ix.pos[k] = d.pos(rel)
	}
	n = d.int()
	for range n {
		if d.err != nil {
			return parsed{}, d.err
		}
		name := d.str()
		p.ix.top = append(p.ix.top, topLabel{name, d.pos(rel)})
	}
	n = d.int()
	for range n {
		if d.err != nil {
			return parsed{}, d.err
		}
		obj := d.str()
		m := d.int()
		for range m {
			p.ix.defined[obj] = append(p.ix.defined[obj], d.pos(rel))
		}
	}
	n = d.int()
	for range n {
		if d.err != nil {
			return parsed{}, d.err
		}
		u := unit{field: d.str(), name: d.str()}
		off, l := d.int(), d.int()
		if off+l > len(src) || off < 0 {
			return parsed{}, errCorrupt
		}
		u.src, u.off = src[off:off+l], off
		p.units = append(p.units, u)
	}
	if d.err != nil || len(d.b) != 0 {
		return parsed{}, errCorrupt
	}
	return p, nil
}
