// Package varenc is the plain encoding of cairn's cache files: numbers as
// unsigned varints, strings and byte strings with their length before them.
// A cache file is read whole and its values sliced out of its bytes; gob
// spent a tenth of a warm check decoding and re-encoding the same maps.
package varenc

import (
	"encoding/binary"
	"errors"
	"math"
)

// ErrCorrupt says the bytes end early or a length runs past them: a torn or
// foreign file, which the caches read as empty.
var ErrCorrupt = errors.New("corrupt cache data")

// Encoder appends to B.
type Encoder struct{ B []byte }

func (e *Encoder) Int(n int)      { e.B = binary.AppendUvarint(e.B, uint64(n)) }
func (e *Encoder) Str(s string)   { e.Int(len(s)); e.B = append(e.B, s...) }
func (e *Encoder) Bytes(b []byte) { e.Int(len(b)); e.B = append(e.B, b...) }

// MaxOverhead is the most bytes a length or number takes.
const MaxOverhead = binary.MaxVarintLen64

// Decoder reads from B; after the first error every read returns zero and
// Err says so.
type Decoder struct {
	B   []byte
	Err error
}

func (d *Decoder) Int() int {
	n, w := binary.Uvarint(d.B)
	if w <= 0 || n > math.MaxInt32 { // no cache holds a count or length that large
		d.fail()
		return 0
	}
	d.B = d.B[w:]
	return int(n)
}

// Bytes returns the next byte string, a slice of B (capacity capped, so an
// append to it never writes over what follows).
func (d *Decoder) Bytes() []byte {
	n := d.Int()
	if n > len(d.B) {
		d.fail()
		return nil
	}
	b := d.B[:n:n]
	d.B = d.B[n:]
	return b
}

func (d *Decoder) Str() string { return string(d.Bytes()) }

func (d *Decoder) fail() {
	if d.Err == nil {
		d.Err = ErrCorrupt
	}
	d.B = nil
}
