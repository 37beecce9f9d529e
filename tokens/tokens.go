// Package tokens counts tokens the way OpenAI's models do, offline: the BPE
// ranks are embedded (tiktoken-go-loader), so nothing is downloaded at run time.
package tokens

import (
	"fmt"
	"strings"
	"sync"

	"github.com/pkoukk/tiktoken-go"
	tiktoken_loader "github.com/pkoukk/tiktoken-go-loader"
)

const (
	O200k  = "o200k_base"
	Cl100k = "cl100k_base"
)

func init() {
	tiktoken.SetBpeLoader(tiktoken_loader.NewOfflineLoader())
}

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

var (
	mu    sync.Mutex
	cache = map[string]*tiktoken.Tiktoken{}
)

func get(encoding string) (*tiktoken.Tiktoken, error) {
	mu.Lock()
	defer mu.Unlock()
	if t, ok := cache[encoding]; ok {
		return t, nil
	}
	t, err := tiktoken.GetEncoding(encoding)
	if err != nil {
		return nil, fmt.Errorf("token encoding %q: %w", encoding, err)
	}
	cache[encoding] = t
	return t, nil
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
	return len(t.EncodeOrdinary(text)), nil
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
