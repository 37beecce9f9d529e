package data

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"

	"github.com/cairn-dev/cairn/compiler"
)

// ParityOptions say how to join and compare the offline and online samples.
type ParityOptions struct {
	Key string // the join column, present in both files
	// Features, when set, restricts the comparison to these features and
	// gives their dtypes; otherwise every column both files share is compared.
	Features   map[string]*compiler.Feature
	FeatureSet string // recorded in the report
	// Tolerance: numbers a and b agree when |a−b| ≤ Tolerance·max(1, |a|, |b|)
	// (absolute near zero, relative for large magnitudes). Default 1e-6.
	Tolerance float64
}

// ParityReport compares the feature values a model was trained on (offline)
// with those served (online), row by row on a key.
type ParityReport struct {
	FeatureSet     string           `json:"feature_set,omitempty"`
	Key            string           `json:"key"`
	Tolerance      float64          `json:"tolerance"`
	Offline        Fingerprint      `json:"offline"`
	Online         Fingerprint      `json:"online"`
	OfflineRows    int              `json:"offline_rows"`
	OnlineRows     int              `json:"online_rows"`
	Joined         int              `json:"joined"`
	MissingOnline  int              `json:"missing_online"`  // offline keys with no online row
	MissingOffline int              `json:"missing_offline"` // online keys with no offline row
	DuplicateKeys  int              `json:"duplicate_keys"`  // repeated keys (the first row is used)
	MissingKeys    []string         `json:"missing_examples,omitempty"`
	Features       []*FeatureParity `json:"features"`
	// MaxMismatchShare is the largest per-feature mismatch share: what a policy bounds.
	MaxMismatchShare float64 `json:"max_mismatch_share"`
}

// FeatureParity is one feature's agreement over the joined rows.
type FeatureParity struct {
	Feature       string          `json:"feature"`
	Compared      int             `json:"compared"`
	Mismatches    int             `json:"mismatches"`
	MismatchShare float64         `json:"mismatch_share"`
	Examples      []ParityExample `json:"examples,omitempty"`
}

// ParityExample is a joined row whose values differ.
type ParityExample struct {
	Key     string `json:"key"`
	Offline string `json:"offline"`
	Online  string `json:"online"`
}

// Parity joins the two files on the key column. The online file is indexed
// in memory (it is the side of a join that must be held); the offline file
// is streamed.
func Parity(offline, online string, opts ParityOptions) (*ParityReport, error) {
	if opts.Key == "" {
		return nil, fmt.Errorf("parity: a key column is required")
	}
	if opts.Tolerance <= 0 {
		opts.Tolerance = 1e-6
	}
	rep := &ParityReport{FeatureSet: opts.FeatureSet, Key: opts.Key, Tolerance: opts.Tolerance, MissingKeys: nil}
	var err error
	if rep.Offline, err = FingerprintFile(offline); err != nil {
		return nil, err
	}
	if rep.Online, err = FingerprintFile(online); err != nil {
		return nil, err
	}
	onR, err := Open(online, nil)
	if err != nil {
		return nil, err
	}
	defer onR.Close()
	offR, err := Open(offline, nil)
	if err != nil {
		return nil, err
	}
	defer offR.Close()

	var names []string
	if opts.Features != nil {
		names = slices.Sorted(maps.Keys(opts.Features))
	} else {
		in := map[string]bool{}
		for _, c := range onR.Columns() {
			in[c] = true
		}
		for _, c := range offR.Columns() {
			if in[c] && c != opts.Key {
				names = append(names, c)
			}
		}
		sort.Strings(names)
	}
	onIdx, err := indexOf(online, onR.Columns(), opts.Key, names)
	if err != nil {
		return nil, err
	}
	offIdx, err := indexOf(offline, offR.Columns(), opts.Key, names)
	if err != nil {
		return nil, err
	}
	dtypes := make([]string, len(names))
	for i, n := range names {
		if f := opts.Features[n]; f != nil {
			dtypes[i] = f.DType
		}
	}

	type onRow struct {
		vals []Value
		seen bool
	}
	index := map[string]*onRow{}
	for onR.Next() {
		k, err := keyOf(onR, onIdx[0])
		if err != nil {
			return nil, err
		}
		rep.OnlineRows++
		if _, dup := index[k]; dup {
			rep.DuplicateKeys++
			continue
		}
		row := &onRow{vals: make([]Value, len(names))}
		for i := range names {
			row.vals[i] = onR.Value(onIdx[i+1])
		}
		index[k] = row
	}
	if err := onR.Err(); err != nil {
		return nil, err
	}

	fps := make([]*FeatureParity, len(names))
	for i, n := range names {
		fps[i] = &FeatureParity{Feature: n}
	}
	seenOff := map[string]bool{}
	for offR.Next() {
		k, err := keyOf(offR, offIdx[0])
		if err != nil {
			return nil, err
		}
		rep.OfflineRows++
		if seenOff[k] {
			rep.DuplicateKeys++
			continue
		}
		seenOff[k] = true
		row, ok := index[k]
		if !ok {
			rep.MissingOnline++
			if len(rep.MissingKeys) < MaxExamples {
				rep.MissingKeys = append(rep.MissingKeys, "online lacks "+k)
			}
			continue
		}
		row.seen = true
		rep.Joined++
		for i := range names {
			a, b := offR.Value(offIdx[i+1]), row.vals[i]
			fp := fps[i]
			fp.Compared++
			same, err := agree(a, b, dtypes[i], opts.Tolerance)
			if err != nil {
				return nil, rowErr(offR, fmt.Errorf("column %q: %w", names[i], err))
			}
			if !same {
				fp.Mismatches++
				if len(fp.Examples) < MaxExamples {
					fp.Examples = append(fp.Examples, ParityExample{Key: k, Offline: a.String(), Online: b.String()})
				}
			}
		}
	}
	if err := offR.Err(); err != nil {
		return nil, err
	}
	var onlyOnline []string
	for k, row := range index {
		if !row.seen {
			rep.MissingOffline++
			onlyOnline = append(onlyOnline, k)
		}
	}
	sort.Strings(onlyOnline)
	for _, k := range onlyOnline {
		if len(rep.MissingKeys) >= 2*MaxExamples {
			break
		}
		rep.MissingKeys = append(rep.MissingKeys, "offline lacks "+k)
	}
	for _, fp := range fps {
		if fp.Compared > 0 {
			fp.MismatchShare = float64(fp.Mismatches) / float64(fp.Compared)
		}
		rep.MaxMismatchShare = math.Max(rep.MaxMismatchShare, fp.MismatchShare)
	}
	rep.Features = fps
	return rep, nil
}

// indexOf returns the positions of key and then names among cols.
func indexOf(path string, cols []string, key string, names []string) ([]int, error) {
	pos := map[string]int{}
	for i, c := range cols {
		pos[c] = i
	}
	want := append([]string{key}, names...)
	idx := make([]int, len(want))
	var missing []string
	for i, w := range want {
		j, ok := pos[w]
		if !ok {
			missing = append(missing, w)
		}
		idx[i] = j
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: column %s not found (the file has: %s)", path, quoteJoin(missing), joinCols(cols))
	}
	return idx, nil
}

func keyOf(r Reader, col int) (string, error) {
	v := r.Value(col)
	if v.IsNull() {
		return "", rowErr(r, fmt.Errorf("the key column %q is null", r.Columns()[col]))
	}
	return v.Key(), nil
}

// agree compares two cells: as the declared dtype when known, else as
// numbers when both parse as numbers, else as text. Null equals only null.
func agree(a, b Value, dtype string, tol float64) (bool, error) {
	if a.IsNull() || b.IsNull() {
		return a.IsNull() && b.IsNull(), nil
	}
	if dtype != "" {
		var err error
		if a, err = Coerce(a, dtype); err != nil {
			return false, fmt.Errorf("offline %w", err)
		}
		if b, err = Coerce(b, dtype); err != nil {
			return false, fmt.Errorf("online %w", err)
		}
	}
	x, okx := asNumber(a)
	y, oky := asNumber(b)
	if okx && oky {
		return math.Abs(x-y) <= tol*math.Max(1, math.Max(math.Abs(x), math.Abs(y))), nil
	}
	return a.Key() == b.Key(), nil
}

func asNumber(v Value) (float64, bool) {
	if x, ok := v.Number(); ok {
		return x, true
	}
	if v.Kind == KindString {
		if x, err := strconv.ParseFloat(v.Str, 64); err == nil {
			return x, true
		}
	}
	return 0, false
}
