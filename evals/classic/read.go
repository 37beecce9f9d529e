package classic

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/cairn-dev/cairn/data"
	"github.com/cairn-dev/cairn/internal/diag"
	"github.com/cairn-dev/cairn/limits"
)

// Spec says which columns of a predictions file hold what.
type Spec struct {
	Label     string   // the true label (classification: the positive class or not; regression: the target)
	Score     string   // probability of the positive class (binary classification)
	Predicted string   // predicted class or value; else Score >= Threshold
	Threshold float64  // decision threshold on Score (default 0.5)
	Positive  string   // the label value of the positive class (default "1"; "true", "yes" also count)
	Weight    string   // optional sample weight
	Slices    []string // columns to report every metric by
	Sensitive []string // protected attributes the fairness measures are computed over
	Task      string   // "classification" (binary, the default), "multiclass", "regression" or "ranking"
	// Multiclass: the label values in order, and optionally a probability
	// column per class in the same order (else Predicted is required).
	Classes       []string
	Probabilities []string
	Query         string // ranking: the column grouping rows into queries
	// Version names the column that says which model version made a row;
	// ForVersion keeps that version's rows only. One file then holds the
	// predictions of several versions, so a challenger can be compared with
	// the champion on the same rows.
	Version    string
	ForVersion string
	// ID names the column that pairs rows across versions (default: their
	// order within each version).
	ID string
}

// Columns are the attribute columns, Sensitive first then Slices, each once;
// Sample.Attrs follows this order.
func (s Spec) Columns() []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range append(append([]string{}, s.Sensitive...), s.Slices...) {
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}

// RowError is a malformed prediction: the file, the 1-based data row and why.
type RowError struct {
	Path string
	Row  int
	Msg  string
}

// Error cuts a long echoed value to a prefix with its length (diag.Shorten).
func (e *RowError) Error() string {
	return diag.Shorten(fmt.Sprintf("%s: row %d: %s", e.Path, e.Row, e.Msg))
}

// Read streams a predictions file (CSV, Parquet or JSONL) into samples,
// checking every row: a missing column, a label outside the classes, a
// probability outside [0, 1], a NaN, a negative weight or a ragged row is
// an error naming the row.
func Read(path string, spec Spec) ([]Sample, error) {
	var out []Sample
	if _, err := ReadEach(path, spec, func(x Sample) error {
		out = append(out, x)
		return nil
	}); err != nil {
		return nil, err
	}
	return out, nil
}

// ReadEach streams a predictions file row by row to each, with Read's
// checks, and returns the number of rows given to it. Nothing is held.
func ReadEach(path string, spec Spec, each func(Sample) error) (int, error) {
	if spec.Threshold == 0 {
		spec.Threshold = 0.5
	}
	cols := []string{spec.Label}
	for _, c := range []string{spec.Score, spec.Predicted, spec.Weight} {
		if c != "" {
			cols = append(cols, c)
		}
	}
	attrs := spec.Columns()
	cols = append(cols, attrs...)
	for _, c := range append([]string{spec.Version, spec.ID, spec.Query}, spec.Probabilities...) {
		if c != "" && !slices.Contains(cols, c) {
			cols = append(cols, c)
		}
	}
	switch {
	case spec.Task == TaskMulticlass && len(spec.Classes) < 2:
		return 0, fmt.Errorf("%s: a multiclass eval needs its classes (two or more)", path)
	case spec.Task == TaskMulticlass && len(spec.Probabilities) > 0 && len(spec.Probabilities) != len(spec.Classes):
		return 0, fmt.Errorf("%s: %d probability columns for %d classes", path, len(spec.Probabilities), len(spec.Classes))
	case spec.Task == TaskMulticlass && len(spec.Probabilities) == 0 && spec.Predicted == "":
		return 0, fmt.Errorf("%s: a multiclass eval needs a predicted column or a probability column per class", path)
	case spec.Task == TaskRanking && (spec.Query == "" || spec.Score == ""):
		return 0, fmt.Errorf("%s: a ranking eval needs a query column and a score column", path)
	case spec.Task != TaskMulticlass && spec.Score == "" && spec.Predicted == "":
		return 0, fmt.Errorf("%s: predictions need a score or a predicted column", path)
	}
	classIdx := map[string]int{}
	for i, c := range spec.Classes {
		classIdx[c] = i
	}
	class := func(v string) (float64, error) {
		if i, ok := classIdx[strings.TrimSpace(v)]; ok {
			return float64(i), nil
		}
		return 0, fmt.Errorf("not one of the classes %q", spec.Classes)
	}
	if spec.Version != "" && spec.ForVersion == "" {
		return 0, fmt.Errorf("%s: rows are per model version (column %q): name the version to evaluate", path, spec.Version)
	}
	n := 0
	versions := map[string]bool{}
	// getNum, where the reader has typed cells, reads a number without a
	// round trip through text (the cost of a large Parquet file).
	add := func(row int, get func(string) (string, bool), getNum func(string) (float64, bool)) error {
		if spec.Version != "" {
			v, ok := get(spec.Version)
			if !ok {
				return &RowError{path, row, fmt.Sprintf("no value in column %q", spec.Version)}
			}
			if v = strings.TrimSpace(v); v != spec.ForVersion {
				versions[v] = true
				return nil
			}
		}
		cell := func(c string) (string, error) {
			v, ok := get(c)
			if !ok {
				return "", &RowError{path, row, fmt.Sprintf("no value in column %q", c)}
			}
			return v, nil
		}
		num := func(c string) (float64, error) {
			if getNum != nil {
				if f, ok := getNum(c); ok && !math.IsNaN(f) && !math.IsInf(f, 0) {
					return f, nil
				}
			}
			v, err := cell(c)
			if err != nil {
				return 0, err
			}
			f, perr := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if perr != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return 0, &RowError{path, row, fmt.Sprintf("column %q holds %q, not a number", c, v)}
			}
			return f, nil
		}
		x := Sample{Weight: 1, Score: math.NaN(), Attrs: make([]string, 0, len(attrs))}
		lab, err := cell(spec.Label)
		if err != nil {
			return err
		}
		switch spec.Task {
		case TaskRegression, TaskRanking:
			if x.Label, err = num(spec.Label); err != nil {
				return err
			}
			if spec.Task == TaskRanking && x.Label < 0 {
				return &RowError{path, row, fmt.Sprintf("relevance %v is negative", x.Label)}
			}
		case TaskMulticlass:
			if x.Label, err = class(lab); err != nil {
				return &RowError{path, row, fmt.Sprintf("label %q: %v", lab, err)}
			}
		default:
			if x.Label, err = binary(lab, spec.Positive); err != nil {
				return &RowError{path, row, fmt.Sprintf("label %q: %v", lab, err)}
			}
		}
		if spec.Score != "" {
			if x.Score, err = num(spec.Score); err != nil {
				return err
			}
			if (spec.Task == "" || spec.Task == TaskClassification) && (x.Score < 0 || x.Score > 1) {
				return &RowError{path, row, fmt.Sprintf("score %v is a probability outside [0, 1]", x.Score)}
			}
		}
		if spec.Task == TaskRanking {
			if x.Query, err = cell(spec.Query); err != nil {
				return err
			}
		}
		if spec.Task == TaskMulticlass {
			var sum float64
			for _, c := range spec.Probabilities {
				p, err := num(c)
				if err != nil {
					return err
				}
				if p < 0 || p > 1 {
					return &RowError{path, row, fmt.Sprintf("column %q: %v is a probability outside [0, 1]", c, p)}
				}
				x.Probs = append(x.Probs, p)
				sum += p
			}
			// Rounded probabilities are fine; ones that do not describe one
			// distribution would make the log loss and AUC meaningless.
			if len(x.Probs) > 0 && math.Abs(sum-1) > 0.01 {
				return &RowError{path, row, fmt.Sprintf("the class probabilities sum to %v, not 1", sum)}
			}
			if spec.Predicted != "" {
				p, err := cell(spec.Predicted)
				if err != nil {
					return err
				}
				if x.Predicted, err = class(p); err != nil {
					return &RowError{path, row, fmt.Sprintf("predicted %q: %v", p, err)}
				}
			} else {
				x.Predicted = float64(argmax(x.Probs))
			}
		}
		switch {
		case spec.Task == TaskMulticlass || spec.Task == TaskRanking:
		case spec.Predicted != "" && spec.Task == "regression":
			if x.Predicted, err = num(spec.Predicted); err != nil {
				return err
			}
		case spec.Predicted != "":
			p, err := cell(spec.Predicted)
			if err != nil {
				return err
			}
			if x.Predicted, err = binary(p, spec.Positive); err != nil {
				return &RowError{path, row, fmt.Sprintf("predicted %q: %v", p, err)}
			}
		default:
			if x.Score >= spec.Threshold {
				x.Predicted = 1
			}
		}
		if spec.Weight != "" {
			if x.Weight, err = num(spec.Weight); err != nil {
				return err
			}
			if x.Weight < 0 {
				return &RowError{path, row, fmt.Sprintf("weight %v is negative", x.Weight)}
			}
		}
		for _, a := range attrs {
			v, err := cell(a)
			if err != nil {
				return err
			}
			x.Attrs = append(x.Attrs, v)
		}
		if spec.ID != "" {
			if x.ID, err = cell(spec.ID); err != nil {
				return err
			}
		}
		if int64(n) >= limits.Get().Rows {
			return &limits.Exceeded{What: fmt.Sprintf("%s: more than %d rows", path, limits.Get().Rows), Flag: "max-rows", Max: strconv.FormatInt(limits.Get().Rows, 10)}
		}
		n++
		return each(x)
	}
	if strings.EqualFold(filepath.Ext(path), ".jsonl") {
		if err := readJSONL(path, add); err != nil {
			return n, err
		}
		if n == 0 {
			return 0, noRows(path, spec, versions)
		}
		return n, nil
	}
	r, err := data.Open(path, cols)
	if err != nil {
		return n, err
	}
	defer r.Close()
	names := r.Columns()
	// The same column names come back every row: a short scan beats
	// hashing them (the cost of a large file is per cell).
	at := func(c string) int {
		for i, n := range names {
			if len(n) == len(c) && n == c {
				return i
			}
		}
		return -1
	}
	get := func(c string) (string, bool) {
		v := r.Value(at(c))
		if v.IsNull() {
			return "", false
		}
		return v.Key(), true
	}
	getNum := func(c string) (float64, bool) { return r.Value(at(c)).Number() }
	for r.Next() {
		if err := add(r.Row(), get, getNum); err != nil {
			return n, err
		}
	}
	if err := r.Err(); err != nil {
		return n, err
	}
	if n == 0 {
		return 0, noRows(path, spec, versions)
	}
	return n, nil
}

// noRows says why a file gave no samples, naming the versions it has when
// the asked one is missing.
func noRows(path string, spec Spec, versions map[string]bool) error {
	if spec.Version == "" {
		return fmt.Errorf("%s: no predictions", path)
	}
	have := slices.Sorted(maps.Keys(versions))
	if len(have) > 10 {
		have = append(have[:10], "…")
	}
	if len(have) == 0 {
		return fmt.Errorf("%s: no predictions", path)
	}
	return &NoVersionError{Path: path, Version: spec.ForVersion, Column: spec.Version, Have: have}
}

// NoVersionError: the file holds no row of the version asked for — a
// version not scored yet, which fails its eval rather than the run.
type NoVersionError struct {
	Path, Version, Column string
	Have                  []string
}

func (e *NoVersionError) Error() string {
	return fmt.Sprintf("%s: no predictions of version %q in column %q (it has %s)", e.Path, e.Version, e.Column, strings.Join(e.Have, ", "))
}

func readJSONL(path string, add func(int, func(string) (string, bool), func(string) (float64, bool)) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), int(limits.Get().LineBytes))
	row := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		row++
		var obj map[string]any
		if err := json.Unmarshal([]byte(line), &obj); err != nil {
			return &RowError{path, row, "not a JSON object: " + err.Error()}
		}
		if err := add(row, func(c string) (string, bool) {
			v, ok := obj[c]
			if !ok || v == nil {
				return "", false
			}
			switch v := v.(type) {
			case string:
				return v, true
			case bool:
				return strconv.FormatBool(v), true
			case float64:
				return strconv.FormatFloat(v, 'g', -1, 64), true
			}
			b, _ := json.Marshal(v)
			return string(b), true
		}, func(c string) (float64, bool) {
			f, ok := obj[c].(float64)
			return f, ok
		}); err != nil {
			return err
		}
	}
	if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		return &limits.Exceeded{What: fmt.Sprintf("%s: a line after row %d is too long", path, row), Flag: "max-line-length", Max: limits.Bytes(limits.Get().LineBytes)}
	} else if err != nil {
		return fmt.Errorf("%s: after row %d: %w", path, row, err)
	}
	return nil
}

// binary reads a class label as 1 (the positive class) or 0.
func binary(v, positive string) (float64, error) {
	v = strings.TrimSpace(v)
	if positive != "" {
		if v == positive {
			return 1, nil
		}
	} else {
		switch strings.ToLower(v) {
		case "1", "1.0", "true", "yes":
			return 1, nil
		case "0", "0.0", "false", "no":
			return 0, nil
		}
		return 0, fmt.Errorf("not one of the classes 0/1 (declare positive: to name the positive class)")
	}
	return 0, nil
}
