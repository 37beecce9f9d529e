package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/internal/diag"
)

// countingWriter counts the writes that reach it.
type countingWriter struct {
	bytes.Buffer
	writes int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.writes++
	return c.Buffer.Write(p)
}

// Output is redacted line by line however the writes split it (a key split
// across two writes included), and a write of many lines reaches the
// terminal as one.
func TestRedactorSplitsLines(t *testing.T) {
	key := "sk-" + strings.Repeat("a1B2", 10)
	text := "first line\nkey " + key + " here\n" + strings.Repeat("x", 100) + "\nlast without newline"
	var want strings.Builder
	for _, l := range strings.SplitAfter(text, "\n") {
		want.WriteString(diag.Redact(l))
	}
	if strings.Contains(want.String(), key) {
		t.Fatal("the test's key is not one Redact knows")
	}
	for _, cut := range []int{1, 7, 16, 20, 33, len(text)} {
		cw := &countingWriter{}
		r := &redactor{w: cw}
		for p := text; len(p) > 0; {
			n := min(cut, len(p))
			if _, err := r.Write([]byte(p[:n])); err != nil {
				t.Fatal(err)
			}
			p = p[n:]
		}
		r.Flush()
		if cw.String() != want.String() {
			t.Errorf("writes of %d bytes: %q, want %q", cut, cw.String(), want.String())
		}
	}
	cw := &countingWriter{}
	r := &redactor{w: cw}
	r.Write([]byte(strings.Repeat("a finding\n", 1000)))
	if cw.writes != 1 {
		t.Errorf("1,000 lines in one write reached the terminal in %d writes", cw.writes)
	}
}
