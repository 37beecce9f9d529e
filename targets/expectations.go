package targets

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/cairn-dev/cairn/compiler"
)

// GreatExpectationsVersion is the Great Expectations release whose
// expectation-suite JSON format the suites follow (the file-based
// "expectation_suite_name"/"expectation_type" format of the 0.x line).
const GreatExpectationsVersion = "0.18.19"

// geTypes are the storage type names a cairn dtype may arrive as, across
// pandas, SQL and Spark, for expect_column_values_to_be_in_type_list.
var geTypes = map[string][]string{
	"int":       {"int", "int8", "int16", "int32", "int64", "Int8", "Int16", "Int32", "Int64", "INTEGER", "BIGINT", "IntegerType", "LongType"},
	"float":     {"float", "float32", "float64", "Float32", "Float64", "FLOAT", "DOUBLE", "REAL", "FloatType", "DoubleType"},
	"string":    {"str", "string", "object", "VARCHAR", "TEXT", "STRING", "StringType"},
	"bool":      {"bool", "boolean", "BOOLEAN", "BooleanType"},
	"timestamp": {"datetime64[ns]", "datetime64[ns, UTC]", "datetime64[us]", "Timestamp", "TIMESTAMP", "TimestampType"},
}

// geExpectation is one expectation of a suite.
type geExpectation struct {
	ExpectationType string         `json:"expectation_type"`
	Kwargs          map[string]any `json:"kwargs"`
	Meta            map[string]any `json:"meta"`
}

// geSuite is a Great Expectations expectation suite file.
type geSuite struct {
	DataAssetType        *string         `json:"data_asset_type"`
	ExpectationSuiteName string          `json:"expectation_suite_name"`
	Expectations         []geExpectation `json:"expectations"`
	GECloudID            *string         `json:"ge_cloud_id"`
	Meta                 map[string]any  `json:"meta"`
}

// renderExpectations writes one expectation suite per feature entity and
// one per model with features, the same feature sets `cairn data validate
// --feature-set` takes. Suite "entities.<e>" lives at
// great_expectations/expectations/entities/<e>.json, where Great
// Expectations' file store looks for a dotted suite name. JSON has no
// comments, so the bundle hash is in the suite's meta.
func renderExpectations(r *run) error {
	if len(r.b.Features) == 0 {
		return nil
	}
	entities := map[string][]*compiler.Feature{}
	for _, name := range slices.Sorted(maps.Keys(r.b.Features)) {
		f := r.b.Features[name]
		entities[f.Entity] = append(entities[f.Entity], f)
	}
	for _, e := range slices.Sorted(maps.Keys(entities)) {
		r.geSuite("entities", e, "entity", entities[e])
	}
	for _, name := range slices.Sorted(maps.Keys(r.b.Models)) {
		m := r.b.Models[name]
		var feats []*compiler.Feature
		for _, fn := range m.Features {
			if f := r.b.Features[fn]; f != nil {
				feats = append(feats, f)
			}
		}
		if len(feats) > 0 {
			r.geSuite("models", name, "model", feats)
		}
	}
	return nil
}

func (r *run) geSuite(dir, name, kind string, feats []*compiler.Feature) {
	s := geSuite{
		ExpectationSuiteName: dir + "." + name,
		Expectations:         []geExpectation{},
		Meta: map[string]any{
			"great_expectations_version": GreatExpectationsVersion,
			"cairn": map[string]any{
				"generated_by": "cairn — do not edit",
				"bundle":       r.hash,
				"feature_set":  name,
				"kind":         kind,
			},
		},
	}
	for _, f := range feats {
		s.Expectations = append(s.Expectations, featureExpectations(f)...)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		// Only plain values from the bundle are encoded.
		panic(fmt.Sprintf("targets: encoding an expectation suite: %v", err))
	}
	r.add("great_expectations/expectations/"+dir+"/"+name+".json", buf.Bytes())
}

// featureExpectations turns one feature's dtype and quality rules into
// expectations, each tagged in meta with the feature and the cairn rule.
func featureExpectations(f *compiler.Feature) []geExpectation {
	exp := func(typ, rule string, kw map[string]any) geExpectation {
		kw["column"] = f.Name
		return geExpectation{ExpectationType: typ, Kwargs: kw, Meta: map[string]any{"cairn": map[string]any{"feature": f.Name, "rule": rule}}}
	}
	out := []geExpectation{
		exp("expect_column_to_exist", "column", map[string]any{}),
		exp("expect_column_values_to_be_in_type_list", "dtype "+f.DType, map[string]any{"type_list": geTypes[f.DType]}),
	}
	q := f.Quality
	if q == nil {
		return out
	}
	switch {
	case q.NotNull != nil && *q.NotNull:
		out = append(out, exp("expect_column_values_to_not_be_null", "not_null", map[string]any{}))
	case q.MaxNullRatio != nil:
		// At most max_null_ratio nulls: at least 1-max_null_ratio non-null
		// (rounded so that 1-0.05 reads 0.95, not 0.9500000000000001).
		mostly := math.Round((1-*q.MaxNullRatio)*1e12) / 1e12
		out = append(out, exp("expect_column_values_to_not_be_null", fmt.Sprintf("max_null_ratio %g", *q.MaxNullRatio), map[string]any{"mostly": mostly}))
	}
	if q.Min != nil || q.Max != nil {
		kw := map[string]any{"min_value": nil, "max_value": nil}
		rule := "range"
		if q.Min != nil {
			kw["min_value"] = *q.Min
			rule += fmt.Sprintf(" min %g", *q.Min)
		}
		if q.Max != nil {
			kw["max_value"] = *q.Max
			rule += fmt.Sprintf(" max %g", *q.Max)
		}
		out = append(out, exp("expect_column_values_to_be_between", rule, kw))
	}
	if len(q.Allowed) > 0 {
		out = append(out, exp("expect_column_values_to_be_in_set", "allowed", map[string]any{"value_set": q.Allowed}))
	}
	return out
}
