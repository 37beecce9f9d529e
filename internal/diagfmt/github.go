package diagfmt

import (
	"fmt"
	"io"
	"strings"

	"github.com/cairn-dev/cairn/internal/diag"
)

// writeGitHub prints GitHub Actions workflow commands, one annotation per
// diagnostic: ::error file=F,line=L,col=C,title=T::message.
func writeGitHub(w io.Writer, l diag.List, opts Options) error {
	for _, d := range l {
		cmd := "notice"
		switch d.Severity {
		case diag.Error, diag.Deny:
			cmd = "error"
		case diag.Warn:
			cmd = "warning"
		}
		var props []string
		if inRepo(d.Pos) {
			props = append(props, "file="+ghProp(opts.PathPrefix+d.Pos.File))
			if d.Pos.Line > 0 {
				props = append(props, fmt.Sprintf("line=%d", d.Pos.Line))
				if d.Pos.Col > 0 {
					props = append(props, fmt.Sprintf("col=%d", d.Pos.Col))
				}
			}
		}
		title := d.Code
		if d.Title != "" {
			title += ": " + d.Title
		}
		props = append(props, "title="+ghProp(title))
		msg := d.Message
		if o := where(d); o != "" {
			msg += " [" + o + "]"
		}
		if d.Waiver != "" {
			msg = "waived: " + msg + " (" + d.Waiver + ")"
		}
		if _, err := fmt.Fprintf(w, "::%s %s::%s\n", cmd, strings.Join(props, ","), ghData(msg)); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintln(w, summarize(l).String())
	return err
}

// ghData escapes a workflow command's message (the runner's escapeData).
func ghData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// ghProp escapes a workflow command property value (the runner's escapeProperty).
func ghProp(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
