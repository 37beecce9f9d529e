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

// MaxExamples is how many offending rows each rule keeps as examples.
const MaxExamples = 5

// Report is the result of checking a sample against the quality rules of a
// feature set.
type Report struct {
	FeatureSet string           `json:"feature_set,omitempty"`
	Data       *Fingerprint     `json:"data,omitempty"`
	Rows       int              `json:"rows"`
	Passed     bool             `json:"passed"`
	Failures   int              `json:"failures"` // rules that failed
	Features   []*FeatureReport `json:"features"`
}

// FeatureReport holds the rules checked for one feature (sorted by name).
type FeatureReport struct {
	Feature   string        `json:"feature"`
	DType     string        `json:"dtype"`
	Rows      int           `json:"rows"`
	Nulls     int           `json:"nulls"`
	NullRatio float64       `json:"null_ratio"`
	Passed    bool          `json:"passed"`
	Rules     []*RuleResult `json:"rules"`
}

// RuleResult is one declared rule: how many rows broke it and a few of them.
// For max_null_ratio, Failures is the number of nulls when the ratio is exceeded.
type RuleResult struct {
	Rule     string    `json:"rule"`   // dtype | not_null | min | max | allowed | max_null_ratio
	Expect   string    `json:"expect"` // the declared bound, as text
	Checked  int       `json:"checked"`
	Failures int       `json:"failures"`
	Passed   bool      `json:"passed"`
	Examples []Example `json:"examples,omitempty"`
}

// Example is an offending row.
type Example struct {
	Row   int    `json:"row"`
	Value string `json:"value"`
}

func (r *RuleResult) fail(row int, v string) {
	r.Failures++
	if len(r.Examples) < MaxExamples {
		r.Examples = append(r.Examples, Example{Row: row, Value: v})
	}
}

// featureCheck is the compiled form of one feature's rules.
type featureCheck struct {
	f                 *compiler.Feature
	col               int
	rep               *FeatureReport
	dtype, notNull    *RuleResult
	min, max, allowed *RuleResult
	nullRatio         *RuleResult
	minV, maxV        float64
	allowedSet        map[string]bool
	buf               []float64 // numbers' scratch
}

// Validate streams r once and checks every declared rule of every feature:
// the dtype always, then not_null, min, max, allowed and max_null_ratio as
// declared. Rules other than not_null and max_null_ratio apply to non-null
// values; min/max to numeric ones. Every feature must be a column of r.
func Validate(features map[string]*compiler.Feature, r Reader) (*Report, error) {
	if len(features) == 0 {
		return nil, fmt.Errorf("no features to validate")
	}
	names := slices.Sorted(maps.Keys(features))
	colIdx := make(map[string]int, len(r.Columns()))
	for i, c := range r.Columns() {
		colIdx[c] = i
	}
	var missing []string
	checks := make([]*featureCheck, 0, len(names))
	rep := &Report{}
	for _, name := range names {
		f := features[name]
		i, ok := colIdx[name]
		if !ok {
			missing = append(missing, name)
			continue
		}
		c := &featureCheck{f: f, col: i, rep: &FeatureReport{Feature: name, DType: f.DType}}
		c.dtype = c.add("dtype", f.DType)
		if q := f.Quality; q != nil {
			if q.NotNull != nil && *q.NotNull {
				c.notNull = c.add("not_null", "true")
			}
			if q.Min != nil {
				c.min, c.minV = c.add("min", fmtNum(*q.Min)), *q.Min
			}
			if q.Max != nil {
				c.max, c.maxV = c.add("max", fmtNum(*q.Max)), *q.Max
			}
			if len(q.Allowed) > 0 {
				c.allowedSet = make(map[string]bool, len(q.Allowed))
				var keys []string
				for _, a := range q.Allowed {
					k := allowedKey(a)
					c.allowedSet[k] = true
					keys = append(keys, k)
				}
				c.allowed = c.add("allowed", fmt.Sprintf("one of %s", quoteJoin(keys)))
			}
			if q.MaxNullRatio != nil {
				c.nullRatio = c.add("max_null_ratio", fmtNum(*q.MaxNullRatio))
			}
		}
		checks = append(checks, c)
		rep.Features = append(rep.Features, c.rep)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: feature column %s not found (the file has: %s)", r.Path(), quoteJoin(missing), joinCols(r.Columns()))
	}
	// Each feature's rules read only its own column: scan column by column.
	src := columnsOf(r)
	sinks := make([]sink, len(r.Columns()))
	for i := range sinks {
		sinks[i] = func(*chunk) error { return nil }
	}
	for _, c := range checks {
		sinks[c.col] = c.consume
	}
	rows, err := src.scan(sinks)
	if err != nil {
		return nil, err
	}
	rep.Rows = rows
	rep.Passed = true
	for _, c := range checks {
		c.finish(rep.Rows)
		for _, rr := range c.rep.Rules {
			if !rr.Passed {
				rep.Failures++
				rep.Passed = false
				c.rep.Passed = false
			}
		}
	}
	return rep, nil
}

func (c *featureCheck) add(rule, expect string) *RuleResult {
	rr := &RuleResult{Rule: rule, Expect: expect}
	c.rep.Rules = append(c.rep.Rules, rr)
	return rr
}

// consume checks a chunk of the feature's column: the typed numeric and
// string cases inline, anything else (and any chunk holding a value of the
// wrong type) value by value through check.
func (c *featureCheck) consume(ch *chunk) error {
	switch {
	case numericDType(c.f.DType):
		xs, bad := ch.numbers(c.f.DType, &c.buf)
		if bad >= 0 {
			break
		}
		c.numeric(ch, xs)
		return nil
	case c.f.DType == "string" && ch.kind == KindString:
		c.strings(ch)
		return nil
	}
	j := 0
	for i := range ch.n {
		if ch.null(i) {
			c.check(ch.row0+i+1, Value{})
			continue
		}
		c.check(ch.row0+i+1, ch.value(j))
		j++
	}
	return nil
}

// nulls counts the chunk's null rows and fails not_null on each.
func (c *featureCheck) nulls(ch *chunk) int {
	c.rep.Rows += ch.n
	if ch.defs == nil {
		return 0
	}
	n := 0
	for i := range ch.n {
		if ch.null(i) {
			n++
			if c.notNull != nil {
				c.notNull.fail(ch.row0+i+1, "null")
			}
		}
	}
	c.rep.Nulls += n
	return n
}

// numeric checks valid numbers xs (the chunk's packed values, coerced).
func (c *featureCheck) numeric(ch *chunk, xs []float64) {
	nn := ch.n - c.nulls(ch)
	if c.notNull != nil {
		c.notNull.Checked += nn
	}
	c.dtype.Checked += nn
	if c.min == nil && c.max == nil && c.allowed == nil {
		return
	}
	j := 0
	for i := range ch.n {
		if ch.null(i) {
			continue
		}
		x := xs[j]
		j++
		if c.min != nil && x < c.minV || c.max != nil && x > c.maxV || c.allowed != nil {
			c.bounds(ch.row0+i+1, x, lazyValue{ch, j - 1, c.f.DType})
		}
	}
	if c.min != nil {
		c.min.Checked += nn
	}
	if c.max != nil {
		c.max.Checked += nn
	}
}

// bounds records the min/max failures and the allowed check of one value
// (the Checked counts are the caller's).
func (c *featureCheck) bounds(row int, x float64, lv lazyValue) {
	// Only the first MaxExamples failures need the value as text.
	if c.min != nil && x < c.minV {
		c.min.failLazy(row, lv)
	}
	if c.max != nil && x > c.maxV {
		c.max.failLazy(row, lv)
	}
	if c.allowed != nil {
		v := lv.get()
		c.allowed.Checked++
		if !c.allowedSet[v.Key()] {
			c.allowed.fail(row, v.String())
		}
	}
}

// lazyValue is packed value j of a chunk, coerced (and boxed) only if needed.
type lazyValue struct {
	ch    *chunk
	j     int
	dtype string
}

func (l lazyValue) get() Value {
	v, _ := Coerce(l.ch.value(l.j), l.dtype) // cannot fail: numbers coerced it
	return v
}

func (r *RuleResult) failLazy(row int, v lazyValue) {
	if len(r.Examples) < MaxExamples {
		r.fail(row, v.get().String())
		return
	}
	r.Failures++
}

// strings checks a chunk of strings for a string feature (no coercion).
func (c *featureCheck) strings(ch *chunk) {
	nn := ch.n - c.nulls(ch)
	if c.notNull != nil {
		c.notNull.Checked += nn
	}
	c.dtype.Checked += nn
	if c.allowed == nil {
		return
	}
	c.allowed.Checked += nn
	j := 0
	for i := range ch.n {
		if ch.null(i) {
			continue
		}
		b := ch.bytesAt(j)
		j++
		if !c.allowedSet[string(b)] {
			c.allowed.fail(ch.row0+i+1, string(b))
		}
	}
}

func (c *featureCheck) check(row int, raw Value) {
	c.rep.Rows++
	if raw.IsNull() {
		c.rep.Nulls++
		if c.notNull != nil {
			c.notNull.fail(row, "null")
		}
		return
	}
	if c.notNull != nil {
		c.notNull.Checked++
	}
	c.dtype.Checked++
	v, err := Coerce(raw, c.f.DType)
	if err != nil {
		c.dtype.fail(row, raw.String())
		return // other rules cannot judge a value of the wrong type
	}
	if c.min != nil || c.max != nil {
		if x, ok := v.Number(); ok {
			if c.min != nil {
				c.min.Checked++
				if x < c.minV {
					c.min.fail(row, v.String())
				}
			}
			if c.max != nil {
				c.max.Checked++
				if x > c.maxV {
					c.max.fail(row, v.String())
				}
			}
		}
	}
	if c.allowed != nil {
		c.allowed.Checked++
		if !c.allowedSet[v.Key()] {
			c.allowed.fail(row, v.String())
		}
	}
}

func (c *featureCheck) finish(rows int) {
	if rows > 0 {
		c.rep.NullRatio = float64(c.rep.Nulls) / float64(rows)
	}
	if c.nullRatio != nil {
		c.nullRatio.Checked = rows
		if c.rep.NullRatio > *c.f.Quality.MaxNullRatio {
			c.nullRatio.Failures = c.rep.Nulls
		}
	}
	c.rep.Passed = true
	for _, rr := range c.rep.Rules {
		rr.Passed = rr.Failures == 0
	}
}

// allowedKey renders a declared allowed value the way Value.Key renders a cell.
func allowedKey(a any) string {
	switch x := a.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return fmtNum(x)
	case int:
		return fmtNum(float64(x))
	case int64:
		return fmtNum(float64(x))
	}
	return fmt.Sprint(a)
}

func fmtNum(f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return fmt.Sprint(f)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func joinCols(c []string) string {
	s := append([]string(nil), c...)
	sort.Strings(s)
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}
