// Package specs embeds the CUE schema that every spec repo is unified with.
package specs

import (
	"embed"
	"io/fs"
	"sort"
	"strings"
)

//go:embed schema/*.cue
var schemaFS embed.FS

// SchemaFile is the name under which the schema appears in positions, so an
// error can tell a user's file from cairn's own.
const SchemaFile = "cairn:schema/spec.cue"

// Schema returns the schema source: every file under schema/, in name order.
func Schema() string {
	names, _ := fs.Glob(schemaFS, "schema/*.cue")
	sort.Strings(names)
	var b strings.Builder
	for i, n := range names {
		src, _ := schemaFS.ReadFile(n)
		s := string(src)
		if i > 0 { // one package clause is enough
			s = strings.Replace(s, "package schema\n", "", 1)
		}
		b.WriteString(s)
	}
	return b.String()
}
