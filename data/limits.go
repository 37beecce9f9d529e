package data

import (
	"fmt"
	"io"
)

// Limits bound what a data file may hold, so a hostile or mistaken file is
// rejected early, in little memory, with a short message.
type Limits struct {
	// MaxLineBytes is the longest CSV line accepted (default 1 MiB): a file
	// without newlines — a binary blob, a file of NUL bytes — fails at once
	// instead of being buffered whole.
	MaxLineBytes int
}

// DefaultLimits are the limits readers use unless told otherwise.
var DefaultLimits = Limits{MaxLineBytes: 1 << 20}

// LineError says a line broke a limit or held binary content.
type LineError struct {
	Path string
	Line int
	Msg  string
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg) }

// lineGuard passes a text file through while counting lines, and fails at
// the first NUL byte or at a line longer than max bytes.
type lineGuard struct {
	r       io.Reader
	path    string
	max     int
	line    int // 1-based line being read
	lineLen int
}

func newLineGuard(r io.Reader, path string, l Limits) *lineGuard {
	if l.MaxLineBytes <= 0 {
		l.MaxLineBytes = DefaultLimits.MaxLineBytes
	}
	return &lineGuard{r: r, path: path, max: l.MaxLineBytes, line: 1}
}

func (g *lineGuard) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	for i, c := range p[:n] {
		switch c {
		case '\n':
			g.line++
			g.lineLen = 0
			continue
		case 0:
			return i, &LineError{Path: g.path, Line: g.line, Msg: "a NUL byte: this is binary content, not a CSV text file"}
		}
		g.lineLen++
		if g.lineLen > g.max {
			return i, &LineError{Path: g.path, Line: g.line, Msg: fmt.Sprintf("a line longer than %d bytes: not tabular text (data.Limits.MaxLineBytes)", g.max)}
		}
	}
	return n, err
}
