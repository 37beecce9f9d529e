package promql

import (
	"reflect"
	"strings"
	"testing"
)

func TestWindowTemplate(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"bare name", "errors_total", "sum(rate(errors_total[{{.window}}]))"},
		{"selector", `http_requests_total{code=~"5..",job="api"}`, `sum(rate(http_requests_total{code=~"5..",job="api"}[{{.window}}]))`},
		{"selector padded", "  errors_total\n", "sum(rate(errors_total[{{.window}}]))"},
		{"placeholder kept", "sum(rate(x[{{.window}}]))", "sum(rate(x[{{.window}}]))"},
		{"placeholder spaced", "sum(rate(x[{{ .window }}]))", "sum(rate(x[{{.window}}]))"},
		{"placeholder keeps literal ranges", "sum(rate(x[{{.window}}])) / sum(rate(y[1d]))", "sum(rate(x[{{.window}}])) / sum(rate(y[1d]))"},
		{"literal range", "sum(rate(errors_total[5m]))", "sum(rate(errors_total[{{.window}}]))"},
		{"acceptance query", `sum(rate(http_requests_total{code=~"5..",service="credit-scorer"}[5m]))`,
			`sum(rate(http_requests_total{code=~"5..",service="credit-scorer"}[{{.window}}]))`},
		{"every range", `sum(increase(a[1h])) + sum(rate(b{x="[5m]"}[ 30s ] offset 1m))`,
			`sum(increase(a[{{.window}}])) + sum(rate(b{x="[5m]"}[{{.window}}] offset 1m))`},
		{"by clause", "sum by (code) (rate(x[5m]))", "sum by (code) (rate(x[{{.window}}]))"},
		{"multi-line", "sum(\n  rate(x[5m])\n)", "sum(\n  rate(x[{{.window}}])\n)"},
		{"rate without sum", "rate(x[2m])", "rate(x[{{.window}}])"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := WindowTemplate(c.in)
			if err != nil {
				t.Fatalf("WindowTemplate(%q): %v", c.in, err)
			}
			if got != c.want {
				t.Errorf("WindowTemplate(%q)\n got %q\nwant %q", c.in, got, c.want)
			}
			// Every template expands to valid PromQL at every window.
			for _, w := range []string{"5m", "1d"} {
				if _, err := WindowTemplate(Expand(got, w)); err != nil && !strings.Contains(err.Error(), "no range") {
					t.Errorf("Expand(%q, %s) is not valid: %v", got, w, err)
				}
			}
		})
	}
}

func TestWindowTemplateErrors(t *testing.T) {
	cases := []struct {
		name, in string
		want     []string
	}{
		{"empty", "  ", []string{"empty", "sum(rate(errors_total[5m]))"}},
		{"no range", "sum(errors_total)", []string{"sum(errors_total) has no range", "not a plain selector", "{{.window}}"}},
		{"scalar", "1", []string{"scalar", "not an instant vector"}},
		{"range vector", "x[5m]", []string{"range vector", "not an instant vector"}},
		{"range vector template", "x[{{.window}}]", []string{"range vector"}},
		{"syntax", "sum(rate(x[5m]", []string{"not valid PromQL", "1:15", "unclosed left parenthesis"}},
		{"template syntax", "sum(rate(x[{{.window}}])", []string{"not valid PromQL", "unclosed"}},
		{"subquery", "max_over_time(rate(x[5m])[1h:1m])", []string{"subquery", "{{.window}}"}},
		{"offset selector", "x offset 5m", []string{"offset", "sum(rate(x[{{.window}}] offset 5m))"}},
		{"bad window", "sum(rate(x[5q]))", []string{"not valid PromQL"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := WindowTemplate(c.in)
			if err == nil {
				t.Fatalf("WindowTemplate(%q) = %q, want an error", c.in, got)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), sentinel) {
				t.Errorf("error leaks the sentinel: %v", err)
			}
		})
	}
}

func TestParseSelector(t *testing.T) {
	cases := []struct {
		in   string
		want Selector
		err  string
	}{
		{in: "latency_seconds", want: Selector{Name: "latency_seconds"}},
		{in: `latency_seconds{service="a", code!~"5.."}`, want: Selector{Name: "latency_seconds",
			Matchers: []Matcher{{"service", "=", "a"}, {"code", "!~", "5.."}}}},
		{in: `{__name__="up", job!="x"}`, want: Selector{Name: "up", Matchers: []Matcher{{"job", "!=", "x"}}}},
		{in: `x{a="q\"uote"}`, want: Selector{Name: "x", Matchers: []Matcher{{"a", "=", `q"uote`}}}},
		{in: "sum(x)", err: "not a metric selector"},
		{in: "x[5m]", err: "not a metric selector"},
		{in: "x offset 1m", err: "offset"},
		{in: `{job="a"}`, err: "names no metric"},
		{in: `x{`, err: "not valid PromQL"},
	}
	for _, c := range cases {
		got, err := ParseSelector(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseSelector(%q) error = %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseSelector(%q): %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseSelector(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
}

func TestRateSelector(t *testing.T) {
	cases := []struct {
		tmpl string
		want string // selector name, "" when none
	}{
		{"sum(rate(x{a=\"b\"}[{{.window}}]))", "x"},
		{"sum(increase(y[{{.window}}]))", "y"},
		{"sum((rate(z[{{.window}}])))", "z"},
		{"sum by (a) (rate(x[{{.window}}]))", ""},
		{"sum(rate(x[5m]))", ""},
		{"sum(rate(x[{{.window}}] offset 1m))", ""},
		{"sum(irate(x[{{.window}}]))", ""},
		{"sum(rate(x[{{.window}}])) + 1", ""},
	}
	for _, c := range cases {
		sel, ok := RateSelector(c.tmpl)
		if ok != (c.want != "") || sel.Name != c.want {
			t.Errorf("RateSelector(%q) = %+v, %v; want %q", c.tmpl, sel, ok, c.want)
		}
	}
	sel, _ := RateSelector(`sum(rate(x{code=~"5..",job="a"}[{{.window}}]))`)
	if want := []Matcher{{"code", "=~", "5.."}, {"job", "=", "a"}}; !reflect.DeepEqual(sel.Matchers, want) {
		t.Errorf("matchers = %+v, want %+v", sel.Matchers, want)
	}
}

// A value that would close the label string stays inside it.
func TestFillAnalysisEscapes(t *testing.T) {
	got, err := FillAnalysis(`sum(rate(x{deployment="{{.deployment}}",version="{{.version}}"}[{{.window}}]))`,
		Analysis{Version: `8"} or vector(1) or x{a="\`, Deployment: "fraud-api", Window: "5m"})
	if err != nil {
		t.Fatal(err)
	}
	want := `sum(rate(x{deployment="fraud-api",version="8\"} or vector(1) or x{a=\"\\"}[5m]))`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if _, err := parse(got); err != nil {
		t.Errorf("the filled query does not parse: %v", err)
	}
	if _, err := FillAnalysis(`{{.model}}`, Analysis{}); err == nil {
		t.Error("an unknown field filled in")
	}
}
