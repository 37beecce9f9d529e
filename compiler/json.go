package compiler

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// JSON returns the bundle's canonical JSON: keys sorted, no insignificant
// whitespace, HTML characters not escaped. The same inputs give the same bytes.
func (b *Bundle) JSON() ([]byte, error) {
	v, err := b.generic()
	if err != nil {
		return nil, err
	}
	return marshal(v)
}

// generic is the bundle as a generic JSON value. encoding/json sorts map
// keys; struct fields are in declaration order, so encoding this value
// sorts those too.
func (b *Bundle) generic() (any, error) {
	raw, err := marshal(b)
	if err != nil {
		return nil, err
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keep numbers exactly as written
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Hash is the bundle's identity: "sha256:<hex>" over its canonical JSON with
// source positions left out, so moving a spec around in its file, or
// reformatting it, does not make a new bundle.
func (b *Bundle) Hash() string {
	v, err := b.generic()
	if err != nil {
		return ""
	}
	stripPos(v)
	out, _ := marshal(v)
	sum := sha256.Sum256(out)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func stripPos(v any) {
	switch x := v.(type) {
	case map[string]any:
		delete(x, "pos")
		for _, e := range x {
			stripPos(e)
		}
	case []any:
		for _, e := range x {
			stripPos(e)
		}
	}
}

// Object returns the position of an object ("models/x") or of a field in it
// ("models/x.aliases.prod"), falling back to the nearest enclosing field.
func (b *Bundle) Position(key string) Position {
	for {
		if p, ok := b.FieldPos[key]; ok {
			return p
		}
		i := lastDot(key)
		if i < 0 {
			return Position{}
		}
		key = key[:i]
	}
}

func lastDot(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '.' {
			return i
		}
		if s[i] == '/' {
			return -1
		}
	}
	return -1
}
