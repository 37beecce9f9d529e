package policies

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/tester"

	"github.com/cairn-dev/cairn/internal/diag"
)

// TestResult is the outcome of one Rego test rule (test_*).
type TestResult struct {
	Name     string        `json:"name"`    // data.cairn.policy.owners_test.test_x
	Package  string        `json:"package"` // data.cairn.policy.owners_test
	Pos      diag.Position `json:"pos"`
	Builtin  bool          `json:"builtin"`
	Pass     bool          `json:"pass"`
	Skip     bool          `json:"skip,omitempty"`
	Error    string        `json:"error,omitempty"`
	Output   string        `json:"output,omitempty"` // print() output
	Duration time.Duration `json:"duration_ns"`
}

// Test runs the Rego unit tests (test_* rules) of the built-in library and of
// the team's policies/*_test.rego against the same policies, capabilities and
// data as Evaluate. filter, when not empty, is a regular expression on test
// names. Parse and compile errors come back as a diag.List.
func Test(ctx context.Context, opts Options, filter string) ([]TestResult, error) {
	srcs, err := opts.sources(true)
	if err != nil {
		return nil, err
	}
	mods, errs := parse(srcs)
	if len(errs) > 0 {
		errs.Sort()
		return nil, errs
	}
	store, err := newStore()
	if err != nil {
		return nil, err
	}
	runner := tester.NewRunner().
		SetCompiler(newCompiler().WithEnablePrintStatements(true)).
		SetStore(store).
		SetModules(mods).
		AddCustomBuiltins(customBuiltins()).
		CapturePrintOutput(true).
		RaiseBuiltinErrors(false).
		SetTimeout(30 * time.Second)
	if filter != "" {
		runner = runner.Filter(filter)
	}
	ch, err := runner.RunTests(ctx, nil)
	if err != nil {
		l := regoDiags(err, "")
		if len(l) > 0 && l[0].Code != "rego_error" {
			l.Sort()
			return nil, l
		}
		return nil, fmt.Errorf("running policy tests: %w", err)
	}
	var out []TestResult
	for r := range ch {
		tr := TestResult{Name: r.Package + "." + r.Name, Package: r.Package, Pass: r.Pass(), Skip: r.Skip,
			Output: string(r.Output), Duration: r.Duration}
		if r.Location != nil {
			tr.Pos = locPos(r.Location, "")
			tr.Builtin = strings.HasPrefix(r.Location.File, builtinPrefix)
		}
		if r.Error != nil {
			tr.Error = r.Error.Error()
		}
		out = append(out, tr)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Pos.File != out[j].Pos.File {
			return out[i].Pos.File < out[j].Pos.File
		}
		return out[i].Pos.Line < out[j].Pos.Line
	})
	return out, nil
}
