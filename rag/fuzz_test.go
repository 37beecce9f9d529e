package rag

import (
	"context"
	"testing"
)

// FuzzParse feeds every document loader arbitrary bytes: a malformed
// document is an error, never a panic or a hang.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"# Title\n\nRefunds take 5 days.", "<html><body><p>a &amp; b</p><script>x()</script></body></html>",
		"q,a\nrefund,5 days\n", "%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF", "a,\"b\nc", "%PDF-", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		for _, typ := range []string{"text", "markdown", "html", "csv", "pdf"} {
			docs, err := parse(context.Background(), typ, []byte(data))
			if err == nil && docs == nil && typ == "pdf" {
				t.Fatalf("pdf: neither documents nor an error")
			}
		}
	})
}
