// Package tokens counts tokens the way OpenAI's models do, offline: the BPE
// ranks are embedded (tiktoken-go-loader), so nothing is downloaded at run
// time, and packed for counting (bpe.go); tiktoken-go is the reference the
// tests hold the counts to.
package tokens

import (
	"fmt"
	"strings"
	"sync"
)

const (
	O200k  = "o200k_base"
	Cl100k = "cl100k_base"
)

// EncodingFor returns the encoding a model id uses: o200k_base for the
// gpt-4o, gpt-4.1, gpt-5 and o-series families, cl100k_base otherwise
// (gpt-4, gpt-3.5 and, as the best offline guess, non-OpenAI models).
func EncodingFor(modelID string) string {
	id := strings.ToLower(modelID)
	if i := strings.LastIndex(id, "/"); i >= 0 { // "openai/gpt-4o", "azure/gpt-4o"
		id = id[i+1:]
	}
	switch {
	case strings.HasPrefix(id, "gpt-4o"), strings.HasPrefix(id, "gpt-4.1"), strings.HasPrefix(id, "gpt-4.5"),
		strings.HasPrefix(id, "gpt-5"), strings.HasPrefix(id, "chatgpt-4o"), strings.HasPrefix(id, "gpt-oss"):
		return O200k
	case len(id) >= 2 && id[0] == 'o' && id[1] >= '1' && id[1] <= '9': // o1, o3-mini, o4-mini …
		return O200k
	}
	return Cl100k
}

// loaded holds each encoding's table, built once on first use; the two
// encodings can load side by side.
var loaded sync.Map // encoding → *lazyTable

type lazyTable struct {
	once sync.Once
	t    *table
	err  error
}

func get(encoding string) (*table, error) {
	v, _ := loaded.LoadOrStore(encoding, &lazyTable{})
	l := v.(*lazyTable)
	l.once.Do(func() {
		l.t, l.err = load(encoding)
		if l.err != nil {
			l.err = fmt.Errorf("token encoding %q: %w", encoding, l.err)
		}
	})
	return l.t, l.err
}

// Warm loads an encoding's tables ahead of the first count (errors are
// reported by the count that needs it).
func Warm(encoding string) { _, _ = get(encoding) }

// Count returns the number of tokens of text in the encoding. Special-token
// text in the input is counted as ordinary text, as an API would for user content.
func Count(encoding, text string) (int, error) {
	t, err := get(encoding)
	if err != nil {
		return 0, err
	}
	n := 0
	t.encode(text, func(int) { n++ })
	return n, nil
}

// Message is one chat message.
type Message struct {
	Role    string
	Content string
}

// CountChat counts a chat request's prompt tokens with OpenAI's documented
// overhead: 3 tokens per message and 3 to prime the reply.
func CountChat(modelID string, msgs []Message) (int, error) {
	enc := EncodingFor(modelID)
	n := 3
	for _, m := range msgs {
		c, err := Count(enc, m.Content)
		if err != nil {
			return 0, err
		}
		r, _ := Count(enc, m.Role)
		n += 3 + c + r
	}
	return n, nil
}
