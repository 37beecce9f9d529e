package diag

import (
	"fmt"
	"regexp"
)

// MaxQuoted is how much of a quoted value a message keeps.
const MaxQuoted = 80

// quoted is a Go-quoted string in a message: "…" with escapes.
var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// Shorten cuts every quoted value in a message that is longer than
// MaxQuoted to a prefix, stating its full length, so a hostile or huge
// value is never echoed whole.
func Shorten(msg string) string {
	if len(msg) <= MaxQuoted+2 {
		return msg
	}
	return quoted.ReplaceAllStringFunc(msg, func(q string) string {
		if len(q) <= MaxQuoted+2 {
			return q
		}
		cut := MaxQuoted
		for cut > 0 && q[cut]&0xC0 == 0x80 { // not inside a UTF-8 sequence
			cut--
		}
		if i := lastEscape(q[:cut]); i >= 0 { // not inside an escape
			cut = i
		}
		return fmt.Sprintf("%s…\" (%d bytes)", q[:cut], len(q)-2)
	})
}

// lastEscape returns the index of a trailing, incomplete backslash escape in
// s, or -1.
func lastEscape(s string) int {
	for i := len(s) - 1; i >= 0 && i >= len(s)-10; i-- {
		if s[i] == '\\' {
			return i
		}
	}
	return -1
}

// ShortenAll applies Shorten to every message of a list, in place.
func (l List) ShortenAll() List {
	for i := range l {
		l[i].Message = Shorten(l[i].Message)
	}
	return l
}
