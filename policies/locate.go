package policies

import (
	"strconv"
	"strings"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/internal/diag"
)

// Locate finds the position of target ("models/x", "project", "governance")
// and its field path ("gates.prod.evals", "sources[0].license") in the
// user's files: the field itself when the compiler recorded it in
// Bundle.FieldPos, else its nearest recorded parent field, else the object.
func Locate(b *compiler.Bundle, target, path string) diag.Position {
	if b == nil || target == "" {
		return diag.Position{}
	}
	for p := path; ; {
		if p == "" {
			if pos, ok := b.FieldPos.Get(target); ok {
				return pos
			}
			break
		}
		// FieldPos keys write list indexes either way: "sources[0]" or "sources.0".
		if pos, ok := b.FieldPos.Get(target + "." + p); ok {
			return pos
		}
		if pos, ok := b.FieldPos.Get(target + "." + dotIndexes(p)); ok {
			return pos
		}
		p = parent(p)
	}
	return objectPos(b, target, path)
}

// parent drops the last segment of a field path: "a.b[0]" → "a.b" → "a" → "".
func parent(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

func dotIndexes(p string) string {
	return strings.ReplaceAll(strings.ReplaceAll(p, "[", "."), "]", "")
}

// leadingIndex parses "waivers[3]..." → 3 for the given list name.
func leadingIndex(path, list string) (int, bool) {
	rest, ok := strings.CutPrefix(path, list+"[")
	if !ok {
		return 0, false
	}
	end := strings.IndexByte(rest, ']')
	if end < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(rest[:end])
	return n, err == nil
}

func objectPos(b *compiler.Bundle, target, path string) diag.Position {
	switch target {
	case "project":
		return b.Project.Pos
	case "governance":
		if i, ok := leadingIndex(path, "waivers"); ok && i >= 0 && i < len(b.Governance.Waivers) && b.Governance.Waivers[i].Pos.IsValid() {
			return b.Governance.Waivers[i].Pos
		}
		return b.Governance.Pos
	}
	kind, name, ok := strings.Cut(target, "/")
	if !ok {
		return diag.Position{}
	}
	switch kind {
	case "providers":
		if o := b.Providers[name]; o != nil {
			return o.Pos
		}
	case "features":
		if o := b.Features[name]; o != nil {
			return o.Pos
		}
	case "models":
		if o := b.Models[name]; o != nil {
			return o.Pos
		}
	case "prompts":
		if o := b.Prompts[name]; o != nil {
			return o.Pos
		}
	case "rag":
		if o := b.RAG[name]; o != nil {
			return o.Pos
		}
	case "evals":
		if o := b.Evals[name]; o != nil {
			return o.Pos
		}
	case "slos":
		if o := b.SLOs[name]; o != nil {
			return o.Pos
		}
	case "deployments":
		if o := b.Deployments[name]; o != nil {
			return o.Pos
		}
	}
	return diag.Position{}
}
