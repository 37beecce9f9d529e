package targets

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/cairn-dev/cairn/compiler"
)

// feastDTypes maps cairn feature dtypes to feast.types names.
var feastDTypes = map[string]string{
	"int":       "Int64",
	"float":     "Float64",
	"string":    "String",
	"bool":      "Bool",
	"timestamp": "UnixTimestamp",
}

// FeastTimestampField is the event-time column every generated source reads;
// Feast needs one for point-in-time joins and cairn's spec does not name it.
const FeastTimestampField = "event_timestamp"

// feastView is one FeatureView: the features of one entity read from one
// source with one freshness (Feast has a single ttl per view).
type feastView struct {
	name      string
	entity    string
	source    string
	freshness string
	features  []*compiler.Feature
}

// renderFeast writes a Feast feature repository: feature_store.yaml (a local
// provider, file offline store, SQLite online store, so `feast apply` works
// offline) and features.py with an Entity per cairn entity, a source per
// declared `source` (a PushSource over a FileSource for "stream." sources),
// and a FeatureView per (entity, source, freshness).
func renderFeast(r *run) error {
	if len(r.b.Features) == 0 {
		return nil
	}
	project := feastProject(r.b.Project.Name)
	store := map[string]any{
		"project":  project,
		"registry": "data/registry.db",
		"provider": "local",
		"online_store": map[string]any{
			"type": "sqlite",
			"path": "data/online_store.db",
		},
		"offline_store":                    map[string]any{"type": "file"},
		"entity_key_serialization_version": 3,
	}
	r.add("feast/feature_store.yaml", r.yamlDocs(store))
	r.add("feast/features.py", []byte(r.feastPython()))
	return nil
}

// feastProject turns a cairn project name into a Feast project name, which
// may hold only letters, digits and underscores and not start with "_".
func feastProject(name string) string {
	p := strings.Trim(pyIdentRe.ReplaceAllString(name, "_"), "_")
	if p == "" {
		return "cairn"
	}
	return p
}

var pyIdentRe = regexp.MustCompile(`[^A-Za-z0-9_]+`)

// pyKeywords are Python's reserved words: a generated variable never takes one.
var pyKeywords = map[string]bool{
	"False": true, "None": true, "True": true, "and": true, "as": true, "assert": true, "async": true, "await": true,
	"break": true, "class": true, "continue": true, "def": true, "del": true, "elif": true, "else": true, "except": true,
	"finally": true, "for": true, "from": true, "global": true, "if": true, "import": true, "in": true, "is": true,
	"lambda": true, "nonlocal": true, "not": true, "or": true, "pass": true, "raise": true, "return": true, "try": true,
	"while": true, "with": true, "yield": true,
}

// pyNames hands out unique Python identifiers for arbitrary names.
type pyNames struct{ used map[string]bool }

func (n *pyNames) get(parts ...string) string {
	id := strings.Trim(pyIdentRe.ReplaceAllString(strings.Join(parts, "__"), "_"), "_")
	if id == "" {
		id = "x"
	}
	if id[0] >= '0' && id[0] <= '9' {
		id = "_" + id
	}
	// The names Feast's imports bind are taken too.
	base := id
	for i := 2; n.used[id] || pyKeywords[id]; i++ {
		id = base + "_" + strconv.Itoa(i)
	}
	n.used[id] = true
	return id
}

// pyStr is a Python string literal: Go's quoting (\n, \", \xNN, \uNNNN) is valid Python.
func pyStr(s string) string { return strconv.Quote(s) }

// pyDuration renders a cairn duration ("5m", "24h", "7d", "2w") as a timedelta.
func pyDuration(d string) string {
	if d == "" {
		return "timedelta(0)"
	}
	n, unit := d[:len(d)-1], d[len(d)-1]
	name := map[byte]string{'s': "seconds", 'm': "minutes", 'h': "hours", 'd': "days", 'w': "weeks"}[unit]
	if name == "" {
		return "timedelta(0)"
	}
	return "timedelta(" + name + "=" + n + ")"
}

func (r *run) feastViews() []*feastView {
	groups := map[[3]string]*feastView{}
	perSource := map[[2]string]map[string]bool{} // (entity, source) → freshness values
	for _, name := range slices.Sorted(maps.Keys(r.b.Features)) {
		f := r.b.Features[name]
		k := [3]string{f.Entity, f.Source, f.Freshness}
		if groups[k] == nil {
			groups[k] = &feastView{entity: f.Entity, source: f.Source, freshness: f.Freshness}
		}
		groups[k].features = append(groups[k].features, f)
		es := [2]string{f.Entity, f.Source}
		if perSource[es] == nil {
			perSource[es] = map[string]bool{}
		}
		perSource[es][f.Freshness] = true
	}
	views := make([]*feastView, 0, len(groups))
	for _, v := range groups {
		views = append(views, v)
	}
	sort.Slice(views, func(i, j int) bool {
		a, b := views[i], views[j]
		if a.entity != b.entity {
			return a.entity < b.entity
		}
		if a.source != b.source {
			return a.source < b.source
		}
		return a.freshness < b.freshness
	})
	for _, v := range views {
		v.name = v.entity + "__" + v.source
		// One source read at several freshnesses becomes one view per ttl.
		if len(perSource[[2]string{v.entity, v.source}]) > 1 {
			if v.freshness == "" {
				v.name += "__no_ttl"
			} else {
				v.name += "__ttl_" + v.freshness
			}
		}
		v.name = strings.Trim(pyIdentRe.ReplaceAllString(v.name, "_"), "_")
	}
	return views
}

func (r *run) feastPython() string {
	var b strings.Builder
	b.WriteString(header("#", r.hash))
	fmt.Fprintf(&b, "\"\"\"Feast feature definitions for project %s, generated from its cairn features.\"\"\"\n\n", pyEscapeDoc(r.b.Project.Name))
	b.WriteString("from datetime import timedelta\n\n")

	views := r.feastViews()
	types := map[string]bool{}
	stream := false
	for _, v := range views {
		for _, f := range v.features {
			types[feastDTypes[f.DType]] = true
		}
		if isStreamSource(v.source) {
			stream = true
		}
	}
	imports := []string{"Entity", "FeatureView", "Field", "FileSource", "ValueType"}
	if stream {
		imports = append(imports, "PushSource")
	}
	fmt.Fprintf(&b, "from feast import %s\n", strings.Join(imports, ", "))
	fmt.Fprintf(&b, "from feast.types import %s\n", strings.Join(slices.Sorted(maps.Keys(types)), ", "))

	names := &pyNames{used: map[string]bool{"timedelta": true}}
	for _, s := range imports {
		names.used[s] = true
	}
	for t := range types {
		names.used[t] = true
	}

	// Entities, with the features they key.
	entities := map[string][]string{}
	for _, name := range slices.Sorted(maps.Keys(r.b.Features)) {
		f := r.b.Features[name]
		entities[f.Entity] = append(entities[f.Entity], f.Name)
	}
	entityVar := map[string]string{}
	b.WriteString("\n# Entities: one per cairn feature entity, joined on the <entity>-id column, a\n# string key (Feast's default UNKNOWN value type is deprecated and skips checks).\n")
	for _, e := range slices.Sorted(maps.Keys(entities)) {
		v := names.get(e)
		entityVar[e] = v
		fmt.Fprintf(&b, "\n%s = Entity(\n", v)
		fmt.Fprintf(&b, "    name=%s,\n", pyStr(e))
		fmt.Fprintf(&b, "    join_keys=[%s],\n", pyStr(e+"-id"))
		b.WriteString("    value_type=ValueType.STRING,\n")
		fmt.Fprintf(&b, "    description=%s,\n", pyStr("Keys the cairn features "+strings.Join(entities[e], ", ")+"."))
		b.WriteString(")\n")
	}

	// Sources: one per declared source string.
	sources := map[string]bool{}
	for _, v := range views {
		sources[v.source] = true
	}
	sourceVar := map[string]string{}
	b.WriteString("\n# Sources: one per declared feature source. Offline data is read from\n")
	fmt.Fprintf(&b, "# data/<source>.parquet with an %s column; stream sources are pushed to.\n", FeastTimestampField)
	for _, s := range slices.Sorted(maps.Keys(sources)) {
		file := "data/" + s + ".parquet"
		if !isStreamSource(s) {
			v := names.get(s)
			sourceVar[s] = v
			fmt.Fprintf(&b, "\n%s = FileSource(\n", v)
			fmt.Fprintf(&b, "    name=%s,\n", pyStr(v))
			fmt.Fprintf(&b, "    path=%s,\n", pyStr(file))
			fmt.Fprintf(&b, "    timestamp_field=%s,\n", pyStr(FeastTimestampField))
			fmt.Fprintf(&b, "    description=%s,\n", pyStr("cairn source "+s))
			b.WriteString(")\n")
			continue
		}
		batch := names.get(s, "batch")
		v := names.get(s)
		sourceVar[s] = v
		fmt.Fprintf(&b, "\n%s = FileSource(\n", batch)
		fmt.Fprintf(&b, "    name=%s,\n", pyStr(batch))
		fmt.Fprintf(&b, "    path=%s,\n", pyStr(file))
		fmt.Fprintf(&b, "    timestamp_field=%s,\n", pyStr(FeastTimestampField))
		fmt.Fprintf(&b, "    description=%s,\n", pyStr("history of cairn stream source "+s))
		b.WriteString(")\n")
		fmt.Fprintf(&b, "\n%s = PushSource(\n", v)
		fmt.Fprintf(&b, "    name=%s,\n", pyStr(v))
		fmt.Fprintf(&b, "    batch_source=%s,\n", batch)
		fmt.Fprintf(&b, "    description=%s,\n", pyStr("cairn stream source "+s))
		b.WriteString(")\n")
	}

	b.WriteString("\n# Feature views: one per entity and source (and freshness, which sets the ttl;\n")
	b.WriteString("# timedelta(0) means values never expire).\n")
	for _, v := range views {
		vv := names.get(v.name)
		owners := map[string]bool{}
		for _, f := range v.features {
			owners[f.Owner] = true
		}
		fmt.Fprintf(&b, "\n%s = FeatureView(\n", vv)
		fmt.Fprintf(&b, "    name=%s,\n", pyStr(v.name))
		fmt.Fprintf(&b, "    entities=[%s],\n", entityVar[v.entity])
		fmt.Fprintf(&b, "    ttl=%s,\n", pyDuration(v.freshness))
		b.WriteString("    schema=[\n")
		for _, f := range v.features {
			fmt.Fprintf(&b, "        Field(\n")
			fmt.Fprintf(&b, "            name=%s,\n", pyStr(f.Name))
			fmt.Fprintf(&b, "            dtype=%s,\n", feastDTypes[f.DType])
			if f.Description != "" {
				fmt.Fprintf(&b, "            description=%s,\n", pyStr(f.Description))
			}
			fmt.Fprintf(&b, "            tags=%s,\n", pyDict(featureTags(f)))
			b.WriteString("        ),\n")
		}
		b.WriteString("    ],\n")
		fmt.Fprintf(&b, "    source=%s,\n", sourceVar[v.source])
		b.WriteString("    online=True,\n")
		fmt.Fprintf(&b, "    owner=%s,\n", pyStr(strings.Join(slices.Sorted(maps.Keys(owners)), ", ")))
		fmt.Fprintf(&b, "    tags=%s,\n", pyDict(map[string]string{"cairn.dev/bundle": r.hash, "cairn.dev/source": v.source}))
		b.WriteString(")\n")
	}
	return b.String()
}

func isStreamSource(s string) bool { return strings.HasPrefix(s, "stream.") }

// featureTags carry what Feast has no field for: ownership, PII, the
// transformation and the declared freshness.
func featureTags(f *compiler.Feature) map[string]string {
	t := map[string]string{"owner": f.Owner, "pii": strconv.FormatBool(f.PII)}
	if f.Transformation != "" {
		t["transformation"] = f.Transformation
	}
	if f.Freshness != "" {
		t["freshness"] = f.Freshness
	}
	return t
}

// pyDict renders a string map as a Python dict literal with sorted keys.
func pyDict(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, pyStr(k)+": "+pyStr(m[k]))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// pyEscapeDoc keeps a name from closing the module docstring.
func pyEscapeDoc(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return strings.ReplaceAll(s, `"`, `\"`)
}
