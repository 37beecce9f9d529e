package tokens

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
	"github.com/pkoukk/tiktoken-go-loader/assets"
)

// table is one encoding's BPE ranks packed for counting. tiktoken-go keeps
// each encoding as three maps and a sorted copy (o200k_base: 22 MiB live,
// 46 MiB allocated, 0.14 s to build); counting needs only the rank of a byte
// string, so the tokens' bytes live in one arena behind an open-addressing
// index (o200k_base: about 5 MiB, built in a fraction of the time). The
// splitting pattern and the merge order are tiktoken's; TestCountAgrees
// holds the counts to tiktoken-go's on every kind of text.
type table struct {
	arena []byte
	ends  []uint32 // token k is arena[ends[k-1]:ends[k]] (ends[-1] = 0)
	ranks []uint32 // token k's rank; nil when every rank is its index
	slots []uint32 // 0: empty; else token index + 1
	mask  uint32
	seed  maphash.Seed
	split *regexp2.Regexp
}

// patterns are tiktoken's pre-tokenizer expressions (tiktoken-go v0.1.8,
// encoding.go, from OpenAI's tiktoken_ext/openai_public.py).
var patterns = map[string]string{
	Cl100k: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
	O200k: strings.Join([]string{
		`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?`,
		`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?`,
		`\p{N}{1,3}`,
		` ?[^\s\p{L}\p{N}]+[\r\n/]*`,
		`\s*[\r\n]+`,
		`\s+(?!\S)`,
		`\s+`,
	}, "|"),
}

// load builds an encoding's table from the ranks file tiktoken-go-loader
// embeds ("<base64 token> <rank>" per line).
func load(encoding string) (*table, error) {
	pat, ok := patterns[encoding]
	if !ok {
		return nil, fmt.Errorf("unknown encoding (known: %s, %s)", Cl100k, O200k)
	}
	split, err := regexp2.Compile(pat, regexp2.None)
	if err != nil {
		return nil, err
	}
	f, err := assets.Assets.Open(encoding + ".tiktoken")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	// Streamed, not read whole: a copy of the file (3.6 MB for o200k_base)
	// would be garbage the moment the table is built.
	return build(encoding+".tiktoken", f, info.Size(), split)
}

// build reads a ranks file of about size bytes from r.
func build(name string, r io.Reader, size int64, split *regexp2.Regexp) (*table, error) {
	// Sized from the file: a line is a token's base64, a space, its rank and
	// a newline, about 12 bytes of which the token is 5 (both encodings).
	n := int(size/12) + 1
	t := &table{
		arena: make([]byte, 0, size*5/12),
		ends:  make([]uint32, 0, n),
		seed:  maphash.MakeSeed(),
		split: split,
	}
	var err error
	sc := bufio.NewScanner(r)
	var ranks []uint32 // only when a rank is not its line's index
	for lineNo := 1; sc.Scan(); lineNo++ {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		sp := bytes.IndexByte(line, ' ')
		if sp < 0 {
			return nil, fmt.Errorf("%s:%d: no rank after the token", name, lineNo)
		}
		t.arena, err = base64.StdEncoding.AppendDecode(t.arena, line[:sp])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, lineNo, err)
		}
		rank, err := strconv.ParseUint(string(line[sp+1:]), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, lineNo, err)
		}
		if ranks == nil && int(rank) != len(t.ends) {
			ranks = make([]uint32, len(t.ends), cap(t.ends))
			for i := range ranks {
				ranks[i] = uint32(i)
			}
		}
		if ranks != nil {
			ranks = append(ranks, uint32(rank))
		}
		t.ends = append(t.ends, uint32(len(t.arena)))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	t.ranks = ranks
	// The index at about two thirds full: 1 MiB of slots for o200k_base.
	slots := 1
	for slots*2 < len(t.ends)*3 {
		slots <<= 1
	}
	t.slots = make([]uint32, slots)
	t.mask = uint32(slots - 1)
	for k := range t.ends {
		i := maphash.Bytes(t.seed, t.token(k))
		for t.slots[uint32(i)&t.mask] != 0 {
			i++
		}
		t.slots[uint32(i)&t.mask] = uint32(k + 1)
	}
	return t, nil
}

// token is the k-th token's bytes.
func (t *table) token(k int) []byte {
	start := uint32(0)
	if k > 0 {
		start = t.ends[k-1]
	}
	return t.arena[start:t.ends[k]]
}

// rank returns the rank of the byte string b, if it is a token.
func (t *table) rank(b []byte) (int, bool) {
	i := maphash.Bytes(t.seed, b)
	for {
		s := t.slots[uint32(i)&t.mask]
		if s == 0 {
			return 0, false
		}
		if k := int(s - 1); bytes.Equal(t.token(k), b) {
			if t.ranks != nil {
				return int(t.ranks[k]), true
			}
			return k, true
		}
		i++
	}
}

// encode calls emit with each token of text, as tiktoken's encode_ordinary
// does: the text is split by the encoding's pattern, and a piece that is
// not itself a token is merged pairwise, lowest rank first. Text that is
// not UTF-8 is read as tiktoken-go reads it (each bad byte as U+FFFD).
func (t *table) encode(text string, emit func(rank int)) {
	runes := []rune(text)
	var piece []byte
	var parts []int
	m, _ := t.split.FindRunesMatch(runes)
	for m != nil {
		piece = piece[:0]
		for _, r := range runes[m.Index : m.Index+m.Length] {
			piece = utf8.AppendRune(piece, r)
		}
		if r, ok := t.rank(piece); ok {
			emit(r)
		} else {
			parts = t.merge(piece, parts, emit)
		}
		m, _ = t.split.FindNextMatch(m)
	}
}

// merge is tiktoken's byte-pair merge of one piece (tiktoken-go's
// bytePairMerge, with the ranks looked up in the table); parts is reused.
func (t *table) merge(piece []byte, parts []int, emit func(rank int)) []int {
	// parts[2k] is a boundary, parts[2k+1] the rank of joining the two
	// pieces that start there (MaxInt: none).
	parts = parts[:0]
	for i := 0; i <= len(piece); i++ {
		parts = append(parts, i, math.MaxInt)
	}
	at := func(k int) int { return parts[2*k] }
	rankOf := func(k, skip int) int {
		if k+skip+2 < len(parts)/2 {
			if r, ok := t.rank(piece[at(k):at(k+skip+2)]); ok {
				return r
			}
		}
		return math.MaxInt
	}
	for k := 0; k < len(parts)/2-2; k++ {
		parts[2*k+1] = rankOf(k, 0)
	}
	for len(parts)/2 > 1 {
		minRank, minK := math.MaxInt, -1
		for k := 0; k < len(parts)/2-1; k++ {
			if parts[2*k+1] < minRank {
				minRank, minK = parts[2*k+1], k
			}
		}
		if minK < 0 {
			break
		}
		parts[2*minK+1] = rankOf(minK, 1)
		if minK > 0 {
			parts[2*minK-1] = rankOf(minK-1, 1)
		}
		parts = append(parts[:2*minK+2], parts[2*minK+4:]...)
	}
	for k := 0; k < len(parts)/2-1; k++ {
		r, _ := t.rank(piece[at(k):at(k+1)])
		emit(r)
	}
	return parts
}
