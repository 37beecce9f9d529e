package policies

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"
)

// jsonValue parses JSON straight into OPA's value. OPA's own route (decode
// into Go maps, then ast.InterfaceToValue) builds every value twice; on a
// large bundle that double was most of the time between the compiler and
// the first policy. Strings without escapes are sliced, not copied; anything
// unusual in a string or a number is left to encoding/json, so the result
// is what util.UnmarshalJSON + ast.InterfaceToValue give (a test holds them
// equal).
func jsonValue(data []byte) (ast.Value, error) {
	p := &jsonParser{s: string(data)}
	p.space()
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	if p.space(); p.i != len(p.s) {
		return nil, p.errorf("unexpected %q after the value", p.s[p.i])
	}
	return v, nil
}

type jsonParser struct {
	s string
	i int
}

func (p *jsonParser) errorf(format string, args ...any) error {
	return fmt.Errorf("JSON offset %d: "+format, append([]any{p.i}, args...)...)
}

func (p *jsonParser) space() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) value() (ast.Value, error) {
	if p.i >= len(p.s) {
		return nil, p.errorf("unexpected end")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		s, err := p.str()
		return ast.String(s), err
	case c == 't' && p.lit("true"):
		return ast.Boolean(true), nil
	case c == 'f' && p.lit("false"):
		return ast.Boolean(false), nil
	case c == 'n' && p.lit("null"):
		return ast.Null{}, nil
	case c == '-' || '0' <= c && c <= '9':
		return p.number()
	default:
		return nil, p.errorf("unexpected %q", c)
	}
}

func (p *jsonParser) lit(w string) bool {
	if len(p.s)-p.i >= len(w) && p.s[p.i:p.i+len(w)] == w {
		p.i += len(w)
		return true
	}
	return false
}

func (p *jsonParser) object() (ast.Value, error) {
	p.i++ // {
	var kvs [][2]*ast.Term
	var keys []string        // to find a repeated key: the last one wins, as in encoding/json
	var index map[string]int // for large objects
	p.space()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return ast.NewObject(), nil
	}
	for {
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			return nil, p.errorf("want a key")
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, p.errorf("want ':'")
		}
		p.i++
		p.space()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		at := -1
		if index != nil {
			if j, ok := index[k]; ok {
				at = j
			}
		} else {
			for j, x := range keys {
				if x == k {
					at = j
					break
				}
			}
		}
		if at >= 0 {
			kvs[at][1] = ast.NewTerm(v)
		} else {
			keys = append(keys, k)
			kvs = append(kvs, [2]*ast.Term{ast.StringTerm(k), ast.NewTerm(v)})
			if index != nil {
				index[k] = len(keys) - 1
			} else if len(keys) > 16 {
				index = make(map[string]int, 2*len(keys))
				for j, x := range keys {
					index[x] = j
				}
			}
		}
		if end, err := p.after('}'); err != nil || end {
			return ast.NewObject(kvs...), err
		}
	}
}

// after reads what follows a member or an element: a comma (false) or
// the closing bracket (true).
func (p *jsonParser) after(closing byte) (end bool, err error) {
	p.space()
	if p.i >= len(p.s) {
		return false, p.errorf("unexpected end before %q", closing)
	}
	switch p.s[p.i] {
	case ',':
		p.i++
		return false, nil
	case closing:
		p.i++
		return true, nil
	}
	return false, p.errorf("want ',' or %q", closing)
}

func (p *jsonParser) array() (ast.Value, error) {
	p.i++ // [
	var ts []*ast.Term
	p.space()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		return ast.NewArray(), nil
	}
	for {
		p.space()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		ts = append(ts, ast.NewTerm(v))
		if end, err := p.after(']'); err != nil || end {
			return ast.NewArray(ts...), err
		}
	}
}

// str reads a string; one with escapes or control bytes goes to encoding/json.
func (p *jsonParser) str() (string, error) {
	start := p.i
	p.i++ // "
	plain, ascii := true, true
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			// encoding/json replaces invalid UTF-8; so must this.
			if plain && (ascii || utf8.ValidString(p.s[start+1:p.i-1])) {
				return p.s[start+1 : p.i-1], nil
			}
			var s string
			if err := json.Unmarshal([]byte(p.s[start:p.i]), &s); err != nil {
				return "", fmt.Errorf("JSON offset %d: %w", start, err)
			}
			return s, nil
		case c == '\\':
			plain = false
			p.i += 2
		case c < 0x20:
			return "", p.errorf("control character in a string")
		case c >= 0x80:
			ascii = false
			p.i++
		default:
			p.i++
		}
	}
	return "", p.errorf("unterminated string")
}

func (p *jsonParser) number() (ast.Value, error) {
	start := p.i
	for p.i < len(p.s) {
		switch c := p.s[p.i]; {
		case '0' <= c && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
			p.i++
			continue
		}
		break
	}
	n := json.Number(p.s[start:p.i])
	if !json.Valid([]byte(n)) {
		return nil, fmt.Errorf("JSON offset %d: invalid number %q", start, string(n))
	}
	return ast.Number(n), nil
}

// jsonMembers splits a JSON object into its members' keys and raw values
// without building them, so that they can be parsed side by side.
func jsonMembers(data []byte) (keys []string, vals [][]byte, err error) {
	p := &jsonParser{s: string(data)}
	p.space()
	if p.i >= len(p.s) || p.s[p.i] != '{' {
		return nil, nil, p.errorf("want an object")
	}
	p.i++
	p.space()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		return nil, nil, nil
	}
	for {
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			return nil, nil, p.errorf("want a key")
		}
		k, err := p.str()
		if err != nil {
			return nil, nil, err
		}
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, nil, p.errorf("want ':'")
		}
		p.i++
		p.space()
		start := p.i
		if err := p.skip(); err != nil {
			return nil, nil, err
		}
		keys, vals = append(keys, k), append(vals, data[start:p.i])
		if end, err := p.after('}'); err != nil {
			return nil, nil, err
		} else if end {
			if p.space(); p.i != len(p.s) {
				return nil, nil, p.errorf("unexpected %q after the value", p.s[p.i])
			}
			return keys, vals, nil
		}
	}
}

// skip moves past one value; what it skips is checked when it is parsed.
func (p *jsonParser) skip() error {
	depth := 0
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case '"':
			if _, err := p.str(); err != nil {
				return err
			}
		case '{', '[':
			depth++
			p.i++
		case '}', ']':
			if depth == 0 {
				return nil
			}
			depth--
			p.i++
		case ',':
			if depth == 0 {
				return nil
			}
			p.i++
		default:
			p.i++
		}
		if depth == 0 && p.i < len(p.s) {
			switch p.s[p.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return nil
			}
		}
	}
	if depth > 0 {
		return p.errorf("unexpected end")
	}
	return nil
}
