package prompts

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strings"
)

// Message is a chat message of a messages-style prompt.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Params are the model parameters that are part of a prompt version's identity.
type Params struct {
	Provider    string  `json:"provider"`
	ID          string  `json:"id"`
	Temperature float64 `json:"temperature"`
	MaxTokens   int     `json:"max_tokens"`
}

// Content is everything that makes a prompt version what it is.
type Content struct {
	Template string    `json:"template,omitempty"`
	Messages []Message `json:"messages,omitempty"`
	Inputs   []string  `json:"inputs"`
	Model    Params    `json:"model"`
	RAG      string    `json:"rag,omitempty"`
}

// Canonical normalises template text so that line-ending and trailing-newline
// differences between editors do not create new versions.
func Canonical(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.TrimRight(s, "\n")
}

// Hash returns "sha256:<hex>" over the canonical JSON of the content.
func Hash(c Content) string {
	c.Template = Canonical(c.Template)
	msgs := make([]Message, len(c.Messages))
	for i, m := range c.Messages {
		msgs[i] = Message{m.Role, Canonical(m.Content)}
	}
	c.Messages = msgs
	in := append([]string(nil), c.Inputs...)
	sort.Strings(in)
	c.Inputs = in
	b, _ := json.Marshal(c) // struct fields marshal in declaration order: stable
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
