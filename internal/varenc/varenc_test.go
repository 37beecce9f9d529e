package varenc

import (
	"bytes"
	"testing"
)

func TestRoundTripAndTorn(t *testing.T) {
	e := &Encoder{}
	e.Int(0)
	e.Int(300)
	e.Str("models/fraud.aliases.prod")
	e.Bytes([]byte{0, 1, 2})
	e.Str("")
	d := &Decoder{B: e.B}
	if d.Int() != 0 || d.Int() != 300 || d.Str() != "models/fraud.aliases.prod" || !bytes.Equal(d.Bytes(), []byte{0, 1, 2}) || d.Str() != "" || d.Err != nil || len(d.B) != 0 {
		t.Fatal("round trip differs")
	}
	// Every cut reads as an error, never as a shorter value.
	for n := 0; n < len(e.B); n++ {
		d := &Decoder{B: e.B[:n]}
		d.Int()
		d.Int()
		d.Str()
		d.Bytes()
		d.Str()
		if d.Err == nil {
			t.Errorf("cut at %d read without error", n)
		}
	}
	// A length past the end.
	d = &Decoder{B: []byte{0xff, 0xff, 0x03, 'a'}}
	if d.Str(); d.Err == nil {
		t.Error("a length past the end read without error")
	}
}
