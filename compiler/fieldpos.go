package compiler

import "strings"

// FieldPositions says where each field is written in the user's files,
// keyed "kind/name" + "." + field path ("models/fraud.aliases.prod"), and
// "project.name" for the fields outside the object kinds.
//
// It keeps each spec file's own index and sends an object's keys to the
// file that defines it, rather than merging the files' indexes into one
// map: the large repo has 100,000 positions, and the merge was a tenth of
// a check after an edit (most files' indexes come whole from the parse
// cache). Where a key is in several files, the first file in the repo's
// order holds it, as a merge that kept the first would.
type FieldPositions struct {
	files   []map[string]Position
	objects map[string][]int // "kind/name" → the files that define it, in order
	added   map[string]Position
}

// NewFieldPositions returns positions read from one map (tests, and
// bundles built by hand).
func NewFieldPositions(m map[string]Position) *FieldPositions {
	return &FieldPositions{files: []map[string]Position{m}}
}

// Get returns the position recorded for key.
func (f *FieldPositions) Get(key string) (Position, bool) {
	if f == nil {
		return Position{}, false
	}
	if p, ok := f.added[key]; ok {
		return p, true
	}
	if f.objects != nil && isObjectKey(key) {
		// Only a file that declares the object writes keys under it. An
		// object's name may hold dots: each prefix that ends at one is
		// tried, and of the files defining one, the first holding the key wins.
		first := -1
		var pos Position
		for end := strings.IndexByte(key, '.'); ; {
			obj := key
			if end >= 0 {
				obj = key[:end]
			}
			for _, i := range f.objects[obj] {
				if first >= 0 && i >= first {
					break
				}
				if p, ok := f.files[i][key]; ok {
					first, pos = i, p
				}
			}
			if end < 0 {
				break
			}
			next := strings.IndexByte(key[end+1:], '.')
			if next < 0 {
				end = -1
			} else {
				end += 1 + next
			}
		}
		return pos, first >= 0
	}
	for _, m := range f.files {
		if p, ok := m[key]; ok {
			return p, true
		}
	}
	return Position{}, false
}

// At returns the position recorded for key, or none.
func (f *FieldPositions) At(key string) Position {
	p, _ := f.Get(key)
	return p
}

// Set records a position the compiler found after the files were indexed
// (a credential's line in a dataset).
func (f *FieldPositions) Set(key string, p Position) {
	if f.added == nil {
		f.added = map[string]Position{}
	}
	f.added[key] = p
}

// All returns every recorded key and its position, as Get would answer it.
func (f *FieldPositions) All() map[string]Position {
	out := map[string]Position{}
	if f == nil {
		return out
	}
	for _, m := range f.files {
		for k := range m {
			if _, ok := out[k]; !ok {
				out[k], _ = f.Get(k)
			}
		}
	}
	for k, p := range f.added {
		out[k] = p
	}
	return out
}

// isObjectKey reports whether key lies under an object ("models/x…"): its
// first segment is a kind, a slash and a name.
func isObjectKey(key string) bool {
	slash := strings.IndexByte(key, '/')
	if slash < 0 {
		return false
	}
	if dot := strings.IndexByte(key, '.'); dot >= 0 && dot < slash {
		return false
	}
	return isKind(key[:slash])
}
