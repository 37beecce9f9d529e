package diagfmt

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/cairn-dev/cairn/internal/diag"
)

func writeText(w io.Writer, l diag.List) error {
	for _, d := range l {
		line := d.String()
		if d.Waiver != "" {
			line += " (" + d.Waiver + ")"
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintln(w, summarize(l).String())
	return err
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
