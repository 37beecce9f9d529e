package main

import (
	"bytes"
	"io"
	"os"
	"sync"

	"github.com/cairn-dev/cairn/internal/diag"
)

// redactor is the CLI's stdout and stderr: every line passes through
// diag.Redact before it is written, so no command — text, JSON, HTML,
// Markdown, SARIF, JUnit, logs — prints anything shaped like a credential,
// whatever path the value took to get there. It buffers one line at a time
// (a secret never spans lines, except a PEM block whose first line is
// enough to redact), so streaming output stays live.
type redactor struct {
	mu   sync.Mutex
	w    io.Writer
	f    *os.File // the terminal or file underneath, for progress bars
	line []byte
}

func newRedactor(f *os.File) *redactor { return &redactor{w: f, f: f} }

func (r *redactor) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(p)
	// The complete lines of one Write go out in one write underneath (a
	// check's 6,000 diagnostics were 6,000 system calls), each redacted.
	var out []byte
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			r.line = append(r.line, p...)
			break
		}
		r.line = append(r.line, p[:i+1]...)
		p = p[i+1:]
		out = append(out, diag.Redact(string(r.line))...)
		r.line = r.line[:0]
	}
	if len(out) > 0 {
		if _, err := r.w.Write(out); err != nil {
			return 0, err
		}
	}
	if len(r.line) > 1<<20 { // a huge line without a newline: write what we have
		if err := r.flushLocked(); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// Flush writes a last line without its newline.
func (r *redactor) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.flushLocked()
}

func (r *redactor) flushLocked() error {
	if len(r.line) == 0 {
		return nil
	}
	_, err := io.WriteString(r.w, diag.Redact(string(r.line)))
	r.line = r.line[:0]
	return err
}
