package diagfmt

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"github.com/cairn-dev/cairn/internal/diag"
)

func writeText(w io.Writer, l diag.List) error {
	// Written in large pieces: a repo's thousands of findings were as many
	// writes to the terminal.
	bw := bufio.NewWriterSize(w, 64<<10)
	for _, d := range l {
		bw.WriteString(d.String())
		if d.Waiver != "" {
			bw.WriteString(" (" + d.Waiver + ")")
		}
		bw.WriteByte('\n')
	}
	fmt.Fprintln(bw, summarize(l).String())
	return bw.Flush()
}

// jsonFormatVersion is bumped when the JSON output's shape changes.
const jsonFormatVersion = 1

func writeJSON(w io.Writer, l diag.List) error {
	out := struct {
		FormatVersion int               `json:"format_version"`
		Summary       Summary           `json:"summary"`
		Diagnostics   []diag.Diagnostic `json:"diagnostics"`
	}{jsonFormatVersion, summarize(l), append([]diag.Diagnostic{}, l...)}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
