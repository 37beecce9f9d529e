package rag

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/PuerkitoBio/goquery"
	"github.com/cairn-dev/cairn/limits"
	"github.com/tmc/langchaingo/documentloaders"
	"github.com/tmc/langchaingo/schema"
)

// docTypes maps file extensions to loaders.
var docTypes = map[string]string{
	".txt": "text", ".text": "text",
	".md": "markdown", ".markdown": "markdown",
	".html": "html", ".htm": "html",
	".csv": "csv",
	".pdf": "pdf",
}

func supportedExts() string {
	return ".txt .md .markdown .html .htm .csv .pdf"
}

// FileError is a problem with one document; Build reports all of them.
type FileError struct {
	File string // repo-relative path
	Err  error
}

func (e *FileError) Error() string { return e.File + ": " + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// loaded is one document file, read and parsed into loader documents
// (one per file for text, Markdown and HTML; one per row for CSV; one per page for PDF).
type loaded struct {
	path  string
	typ   string
	size  int64
	sha   string
	parts []schema.Document
}

// readDoc opens rel inside root without following any path out of it (os.Root
// rejects "..", absolute paths and symlinks that escape), checks size and
// content, and runs the langchaingo loader for its type.
func readDoc(ctx context.Context, root *os.Root, rel string, maxBytes int64) (*loaded, error) {
	if rel == "" || path.IsAbs(rel) || filepath.IsAbs(rel) || strings.Contains(rel, `\`) {
		return nil, fmt.Errorf("path must be relative with forward slashes")
	}
	typ, ok := docTypes[strings.ToLower(path.Ext(rel))]
	if !ok {
		return nil, fmt.Errorf("unsupported document type %q (supported: %s)", path.Ext(rel), supportedExts())
	}
	f, err := root.Open(filepath.FromSlash(rel))
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is already in the FileError
		}
		return nil, fmt.Errorf("cannot open: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file")
	}
	if st.Size() > maxBytes {
		return nil, &limits.Exceeded{What: "file is " + limits.Bytes(st.Size()), Flag: "max-document-size", Max: limits.Bytes(maxBytes)}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > maxBytes {
		return nil, &limits.Exceeded{What: "file grew while reading", Flag: "max-document-size", Max: limits.Bytes(maxBytes)}
	}
	sum := sha256.Sum256(data)
	d := &loaded{path: rel, typ: typ, size: int64(len(data)), sha: "sha256:" + hex.EncodeToString(sum[:])}
	if typ != "pdf" {
		if err := checkText(data); err != nil {
			return nil, err
		}
	}
	d.parts, err = parse(ctx, typ, data)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// checkText rejects binary content in files that claim to be text: a NUL
// byte or invalid UTF-8 means the extension lies.
func checkText(data []byte) error {
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return fmt.Errorf("binary content (NUL byte at offset %d) in a text document", i)
	}
	if !utf8.Valid(data) {
		off := 0
		for off < len(data) {
			r, n := utf8.DecodeRune(data[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return fmt.Errorf("not valid UTF-8 (first bad byte at offset %d)", off)
	}
	return nil
}

func parse(ctx context.Context, typ string, data []byte) (docs []schema.Document, err error) {
	switch typ {
	case "text", "markdown":
		return documentloaders.NewText(bytes.NewReader(data)).Load(ctx)
	case "html":
		return loadHTML(data)
	case "csv":
		docs, err = documentloaders.NewCSV(bytes.NewReader(data)).Load(ctx)
		if err != nil {
			return nil, fmt.Errorf("invalid CSV: %w", err)
		}
		return docs, nil
	case "pdf":
		// The PDF parser panics on some malformed files; a bad document must
		// be an error naming the file, never a crash.
		defer func() {
			if r := recover(); r != nil {
				docs, err = nil, fmt.Errorf("unreadable PDF: %v", r)
			}
		}()
		if !bytes.HasPrefix(data, []byte("%PDF-")) {
			return nil, errors.New("unreadable PDF: missing %PDF- header")
		}
		docs, err = documentloaders.NewPDF(bytes.NewReader(data), int64(len(data))).Load(ctx)
		if err != nil {
			return nil, fmt.Errorf("unreadable PDF: %w", err)
		}
		text := 0
		for _, d := range docs {
			text += len(strings.TrimSpace(d.PageContent))
		}
		if text == 0 {
			return nil, errors.New("unreadable PDF: no extractable text (a scanned image needs OCR first)")
		}
		return docs, nil
	}
	return nil, fmt.Errorf("no loader for %s", typ)
}

// loadHTML is a page's readable text: the body without script, style,
// noscript, template or head content, with entities decoded. (langchaingo's
// HTML loader kept script bodies and returned the text HTML-escaped:
// `alert(&#34;x&#34;)` in a chunk.) Chunks are plain text, never markup.
func loadHTML(data []byte) ([]schema.Document, error) {
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("invalid HTML: %w", err)
	}
	doc.Find("script, style, noscript, template, head").Remove()
	sel := doc.Selection
	if body := doc.Find("body"); body.Length() > 0 {
		sel = body
	}
	return []schema.Document{{PageContent: strings.TrimSpace(sel.Text()), Metadata: map[string]any{}}}, nil
}
