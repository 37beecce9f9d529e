// Package md escapes text for Markdown: every value cairn did not write
// itself goes through Cell before it reaches a report, a plan or a comment.
package md

import "strings"

var cell = strings.NewReplacer("\\", "\\\\", "|", "\\|", "\r", "", "\n", "<br>", "<", "&lt;", ">", "&gt;",
	"*", "\\*", "_", "\\_", "`", "\\`", "[", "\\[", "]", "\\]")

// Cell keeps text inside one table cell and stops it from being markup:
// pipes, emphasis, code, links and HTML are escaped, newlines become <br>.
func Cell(s string) string { return cell.Replace(s) }
