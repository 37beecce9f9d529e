package data

import (
	"fmt"
	"io"
	"strconv"

	"github.com/cairn-dev/cairn/limits"
)

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

// newLineGuard bounds lines at limits.Get().LineBytes.
func newLineGuard(r io.Reader, path string) *lineGuard {
	return &lineGuard{r: r, path: path, max: int(limits.Get().LineBytes), line: 1}
}

// tooManyRows is the error for a data file past the row limit.
func tooManyRows(path, what string) error {
	return &limits.Exceeded{What: path + ": " + what, Flag: "max-rows", Max: strconv.FormatInt(limits.Get().Rows, 10)}
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
			return i, &LineError{Path: g.path, Line: g.line, Msg: (&limits.Exceeded{What: fmt.Sprintf("a line longer than %d bytes: not tabular text", g.max), Flag: "max-line-length", Max: limits.Bytes(int64(g.max))}).Error()}
		}
	}
	return n, err
}
