package varenc

import (
	"bytes"
	"testing"
)

func TestRoundTripAndTorn(t *testing.T) {
	e := &Encoder{}
	e.Int(0)
	e.Int(300)
	e.String("models/fraud.aliases.prod")
	e.Bytes([]byte{0, 1, 2})
	e.String("")
	d := &Decoder{B: e.B}
	if d.Int() != 0 || d.Int() != 300 || d.String() != "models/fraud.aliases.prod" || !bytes.Equal(d.Bytes(), []byte{0, 1, 2}) || d.String() != "" || d.Err != nil || len(d.B) != 0 {
		t.Fatal("round trip differs")
	}
	// Every cut reads as an error, never as a shorter value.
	for n := 0; n < len(e.B); n++ {
		d := &Decoder{B: e.B[:n]}
		d.Int()
		d.Int()
		d.String()
		d.Bytes()
		d.String()
		if d.Err == nil {
			t.Errorf("cut at %d read without error", n)
		}
	}
	// A length past the end.
	d = &Decoder{B: []byte{0xff, 0xff, 0x03, 'a'}}
	if d.String(); d.Err == nil {
		t.Error("a length past the end read without error")
	}
}
