// Package promql turns the PromQL an SLO spec holds into what the rule
// renderers need: a query template with a {{.window}} placeholder for each
// burn-rate window, and parsed metric selectors. It uses Prometheus' own
// parser, so anything it accepts Prometheus accepts too, and it imports no
// cairn package: the compiler (vet time) and the renderers (render time)
// call the same functions and so agree on what is valid.
package promql

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"text/template"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// Window is the placeholder a query template holds where the burn-rate
// window goes (Sloth's spelling).
const Window = "{{.window}}"

// placeholderRe also accepts the spaced spelling users write in Go templates.
var placeholderRe = regexp.MustCompile(`\{\{-?\s*\.window\s*-?\}\}`)

// sentinel stands in for the placeholder while a template is parsed; any
// valid duration does, this one is unlikely to be written by hand.
const (
	sentinel        = "4242s"
	sentinelSeconds = 4242
)

var promParser = parser.NewParser(parser.Options{})

// Hint says how an SLI query may be written; error messages end with it.
const Hint = `write a metric selector (errors_total{job="api"}), a query with a range (sum(rate(errors_total[5m]))), or a query with ` + Window + ` where the window goes (sum(rate(errors_total[` + Window + `])))`

// WindowTemplate turns an SLI query into a template whose every {{.window}}
// is replaced by a burn-rate window ("5m", "1h", …) with Expand:
//
//   - a bare selector            errors_total{job="api"}       → sum(rate(errors_total{job="api"}[{{.window}}]))
//   - a query with {{.window}}   sum(rate(x[{{ .window }}]))   → kept, placeholder normalised to {{.window}}
//   - a query with range windows sum(rate(x[5m])) / sum(...)   → each [<duration>] range becomes [{{.window}}]
//
// A query that has literal ranges as well as {{.window}} keeps its literal
// ranges: where the placeholder is, the user chose. Queries that cannot be
// windowed (no range and not a selector, such as sum(errors_total)), hold a
// subquery, do not parse, or do not give an instant vector are errors that
// say how to write them.
func WindowTemplate(q string) (string, error) {
	q = strings.TrimSpace(q)
	if q == "" {
		return "", errors.New("the query is empty: " + Hint)
	}
	if placeholderRe.MatchString(q) {
		tmpl := placeholderRe.ReplaceAllString(q, Window)
		expr, err := parse(strings.ReplaceAll(tmpl, Window, sentinel))
		if err != nil {
			return "", err
		}
		if err := instantVector(expr); err != nil {
			return "", err
		}
		return tmpl, nil
	}
	expr, err := parse(q)
	if err != nil {
		return "", err
	}
	if vs, ok := expr.(*parser.VectorSelector); ok {
		if vs.OriginalOffset != 0 || vs.OriginalOffsetExpr != nil || vs.Timestamp != nil || vs.StartOrEnd != 0 {
			return "", fmt.Errorf("a selector with offset or @ cannot be windowed as it is: write the range yourself, as in sum(rate(%s[%s] offset 5m))", vs.Name, Window)
		}
		return "sum(rate(" + q + "[" + Window + "]))", nil
	}
	if err := instantVector(expr); err != nil {
		return "", err
	}
	// Splice the placeholder into the user's own text, so the recorded
	// query reads as they wrote it.
	var spans [][2]int // [start, end) of each range's duration text
	var bad error
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.SubqueryExpr:
			bad = fmt.Errorf("the subquery %s cannot be windowed: place %s where the burn-rate window belongs", n.String(), Window)
			return bad
		case *parser.MatrixSelector:
			start := int(n.VectorSelector.PositionRange().End)
			end := int(n.EndPos)
			open := strings.IndexByte(q[start:end], '[')
			closing := strings.IndexByte(q[start:end], ']')
			if open < 0 || closing < open {
				bad = fmt.Errorf("cannot find the range of %s in the query", n.String())
				return bad
			}
			spans = append(spans, [2]int{start + open + 1, start + closing})
		}
		return nil
	})
	if bad != nil {
		return "", bad
	}
	if len(spans) == 0 {
		return "", fmt.Errorf("%s has no range to replace with the burn-rate window and is not a plain selector: %s", q, Hint)
	}
	slices.SortFunc(spans, func(a, b [2]int) int { return a[0] - b[0] })
	var b strings.Builder
	prev := 0
	for _, s := range spans {
		b.WriteString(q[prev:s[0]])
		b.WriteString(Window)
		prev = s[1]
	}
	b.WriteString(q[prev:])
	return b.String(), nil
}

// Expand fills a template from WindowTemplate with one window ("5m").
func Expand(tmpl, window string) string {
	return strings.ReplaceAll(tmpl, Window, window)
}

func parse(q string) (parser.Expr, error) {
	expr, err := promParser.ParseExpr(q)
	if err != nil {
		// The parser's own message names line:col inside the query.
		return nil, fmt.Errorf("not valid PromQL: %s", strings.ReplaceAll(err.Error(), sentinel, Window))
	}
	return expr, nil
}

func instantVector(expr parser.Expr) error {
	if t := expr.Type(); t != parser.ValueTypeVector {
		name := map[parser.ValueType]string{parser.ValueTypeMatrix: "range vector", parser.ValueTypeScalar: "scalar", parser.ValueTypeString: "string"}[t]
		return fmt.Errorf("the query gives a %s, not an instant vector: an SLI is a per-window rate, as in sum(rate(errors_total[%s]))", name, Window)
	}
	return nil
}

// Matcher is one label matcher of a selector; Op is =, !=, =~ or !~.
type Matcher struct {
	Label, Op, Value string
}

// Selector is an instant vector selector: a metric name and its matchers
// (without the __name__ matcher the name becomes), in the order written.
type Selector struct {
	Name     string
	Matchers []Matcher
}

// ParseSelector parses a plain metric selector such as
// http_request_duration_seconds{service="api"}. It must name a metric and
// have no offset, @ or range.
func ParseSelector(s string) (Selector, error) {
	expr, err := parse(strings.TrimSpace(s))
	if err != nil {
		return Selector{}, err
	}
	vs, ok := expr.(*parser.VectorSelector)
	if !ok {
		return Selector{}, fmt.Errorf("%s is not a metric selector such as http_request_duration_seconds{job=\"api\"}", strings.TrimSpace(s))
	}
	if vs.OriginalOffset != 0 || vs.OriginalOffsetExpr != nil || vs.Timestamp != nil || vs.StartOrEnd != 0 {
		return Selector{}, fmt.Errorf("the selector %s has an offset or @ modifier; write the plain selector", strings.TrimSpace(s))
	}
	return fromVS(vs)
}

func fromVS(vs *parser.VectorSelector) (Selector, error) {
	sel := Selector{Name: vs.Name}
	for _, m := range vs.LabelMatchers {
		if m.Name == labels.MetricName && m.Type == labels.MatchEqual && (sel.Name == "" || sel.Name == m.Value) {
			// {__name__="x"} is x; the parser also adds this matcher for x{…}.
			sel.Name = m.Value
			continue
		}
		sel.Matchers = append(sel.Matchers, Matcher{Label: m.Name, Op: m.Type.String(), Value: m.Value})
	}
	if sel.Name == "" {
		return Selector{}, fmt.Errorf("the selector %s names no metric", vs.String())
	}
	return sel, nil
}

// RateSelector returns the selector of a template of the common shape
// sum(rate(sel[{{.window}}])) (or increase, or a bare selector's template),
// from which test series can be made; ok is false for any other shape.
func RateSelector(tmpl string) (Selector, bool) {
	if !strings.Contains(tmpl, Window) {
		return Selector{}, false
	}
	expr, err := promParser.ParseExpr(strings.ReplaceAll(tmpl, Window, sentinel))
	if err != nil {
		return Selector{}, false
	}
	agg, ok := expr.(*parser.AggregateExpr)
	if !ok || agg.Op != parser.SUM || len(agg.Grouping) > 0 || agg.Without {
		return Selector{}, false
	}
	call, ok := unparen(agg.Expr).(*parser.Call)
	if !ok || (call.Func.Name != "rate" && call.Func.Name != "increase") || len(call.Args) != 1 {
		return Selector{}, false
	}
	ms, ok := unparen(call.Args[0]).(*parser.MatrixSelector)
	if !ok || ms.Range.Seconds() != sentinelSeconds {
		return Selector{}, false
	}
	vs, ok := ms.VectorSelector.(*parser.VectorSelector)
	if !ok || vs.OriginalOffset != 0 || vs.Timestamp != nil || vs.StartOrEnd != 0 {
		return Selector{}, false
	}
	sel, err := fromVS(vs)
	return sel, err == nil
}

func unparen(e parser.Expr) parser.Expr {
	for {
		p, ok := e.(*parser.ParenExpr)
		if !ok {
			return e
		}
		e = p.Expr
	}
}

// Analysis are the values a canary analysis query template is filled in
// with: {{.version}}, {{.deployment}}, {{.namespace}}, {{.window}}.
type Analysis struct {
	Version, Deployment, Namespace, Window string
}

// labelValue escapes a value for a double-quoted PromQL string, so that a
// version such as `8"} or vector(1)` stays one label value.
var labelValue = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// FillAnalysis fills an analysis query template; the values are escaped
// for the double-quoted label values templates put them in.
func FillAnalysis(tmpl string, v Analysis) (string, error) {
	t, err := template.New("q").Option("missingkey=error").Parse(tmpl)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	err = t.Execute(&b, map[string]string{"version": labelValue.Replace(v.Version), "deployment": labelValue.Replace(v.Deployment),
		"namespace": labelValue.Replace(v.Namespace), "window": v.Window})
	return b.String(), err
}
