package diagfmt

import (
	"fmt"
	"io"
	"strings"

	"github.com/cairn-dev/cairn/internal/diag"
	"github.com/cairn-dev/cairn/internal/md"
)

var mdSeverity = map[diag.Severity]string{
	diag.Error:  "⛔ error",
	diag.Deny:   "❌ deny",
	diag.Warn:   "⚠️ warn",
	diag.Waived: "💤 waived",
}

// writeMarkdown writes a summary line and a table of findings, for PR comments.
func writeMarkdown(w io.Writer, l diag.List, opts Options) error {
	s := summarize(l)
	mark := "✅"
	switch {
	case s.Errors > 0 || s.Denied > 0:
		mark = "❌"
	case s.Warnings > 0:
		mark = "⚠️"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "### %s %s: %s\n", mark, md.Cell(opts.Title), s)
	if len(l) > 0 {
		b.WriteString("\n| | Rule | Object | Location | Message |\n|---|---|---|---|---|\n")
		for _, d := range l {
			msg := md.Cell(d.Message)
			if d.Waiver != "" {
				msg += "<br>_" + md.Cell(d.Waiver) + "_"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", mdSeverity[d.Severity], mdCode(d.Code), mdCode(where(d)), mdCode(d.Pos.String()), msg)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func mdCode(s string) string {
	if s == "" {
		return ""
	}
	// Code spans cannot hold a backtick or a pipe safely inside a table.
	s = strings.NewReplacer("`", "'", "|", "\\|", "\n", " ").Replace(s)
	return "`" + s + "`"
}
