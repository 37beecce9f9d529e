// Package diag holds the Diagnostic type shared by the compiler, the policy
// engine and the CLI: every error and violation a user sees is one of these.
package diag

import (
	"fmt"
	"sort"
	"strconv"
)

// Position is a place in a user's file. File is relative to the spec repo
// root with forward slashes, so output is identical on every machine.
type Position struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Col  int    `json:"col"`
}

func (p Position) String() string {
	if p.File == "" {
		return ""
	}
	if p.Line == 0 {
		return p.File
	}
	return p.File + ":" + strconv.Itoa(p.Line) + ":" + strconv.Itoa(p.Col)
}

// IsValid reports whether the position names a file.
func (p Position) IsValid() bool { return p.File != "" }

// Severity of a diagnostic.
type Severity string

const (
	Error  Severity = "error"  // the spec is invalid (exit 2)
	Deny   Severity = "deny"   // a policy denies it (exit 1)
	Warn   Severity = "warn"   // a policy warns
	Waived Severity = "waived" // a denial suppressed by an active waiver
)

// Diagnostic is one error or violation, located in the user's files.
type Diagnostic struct {
	Severity Severity `json:"severity"`
	Code     string   `json:"code"` // stable: "E012" for compiler errors, the policy id for violations
	Message  string   `json:"message"`
	Object   string   `json:"object,omitempty"` // "models/fraud-detector"
	Path     string   `json:"path,omitempty"`   // field path inside the object: "aliases.prod"
	Pos      Position `json:"pos"`
	// Title and Waiver are set for policy results.
	Title  string `json:"title,omitempty"`
	Waiver string `json:"waiver,omitempty"` // why it is waived: "approved by x until 2026-12-31: reason"
}

func (d Diagnostic) Error() string { return d.String() }

// String renders the diagnostic the way compilers do: "file:line:col: code: message (object.path)".
func (d Diagnostic) String() string {
	s := ""
	if d.Pos.IsValid() {
		s = d.Pos.String() + ": "
	}
	s += string(d.Severity) + " " + d.Code + ": " + d.Message
	if d.Object != "" {
		s += " [" + d.Object
		if d.Path != "" {
			s += "." + d.Path
		}
		s += "]"
	}
	return s
}

// List is a set of diagnostics; as an error it reports them all.
type List []Diagnostic

func (l List) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].String()
	}
	return fmt.Sprintf("%s (and %d more)", l[0].String(), len(l)-1)
}

// Sort orders diagnostics by file, line, column, code and message so output is deterministic.
func (l List) Sort() {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.Pos.File != b.Pos.File {
			return a.Pos.File < b.Pos.File
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		if a.Pos.Col != b.Pos.Col {
			return a.Pos.Col < b.Pos.Col
		}
		if a.Code != b.Code {
			return a.Code < b.Code
		}
		if a.Object != b.Object {
			return a.Object < b.Object
		}
		return a.Message < b.Message
	})
}

// Count returns how many diagnostics have the severity.
func (l List) Count(s Severity) int {
	n := 0
	for _, d := range l {
		if d.Severity == s {
			n++
		}
	}
	return n
}

// Blocking returns the diagnostics that block a change: errors (an invalid
// spec, a policy that does not compile) and unwaived denials.
func (l List) Blocking() List {
	var out List
	for _, d := range l {
		if d.Severity == Error || d.Severity == Deny {
			out = append(out, d)
		}
	}
	return out
}
