package policies

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"runtime/trace"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/internal/diag"
)

// PolicyPrefix is the package prefix of every policy: package cairn.policy.<id>.
const PolicyPrefix = "cairn.policy."

// WaiversID is the id of the built-in policy that validates waivers; its
// violations are never waived.
const WaiversID = "waivers"

// Policy describes one loaded policy package.
type Policy struct {
	ID          string `json:"id"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	// Severity is the METADATA custom.severity: "deny" (default) or "warn",
	// which reports the package's deny results as warnings (a soft launch).
	Severity string `json:"severity"`
	// HelpURI is the first of the METADATA related_resources: the law or
	// standard the policy enforces (SARIF's rule helpUri).
	HelpURI string        `json:"help_uri,omitempty"`
	Builtin bool          `json:"builtin"`
	Pos     diag.Position `json:"pos"` // the package clause
	rules   []string      // "deny" and/or "warn", the rules the package defines
}

// Engine holds the compiled policies and their prepared queries; build it
// once per run with New and call Evaluate for each bundle.
type Engine struct {
	policies []Policy
	queries  []rego.PreparedEvalQuery // one per policy, same order
	waivers  *rego.PreparedEvalQuery  // data.cairn.policy.waivers.active, if loaded
	secrets  diag.List                // credentials written into team policies (secretFindings)

	// The result cache (cache.go), when Options.CacheDir is set.
	cacheDir  string
	digests   map[string]string                 // by policy id: its Rego's identity
	reads     map[string]reads                  // by policy id
	shards    map[string][]string               // by policy id: the collections it is split over (shard.go)
	ran       []string                          // the policies the last Evaluate ran (not from the cache)
	clocks    map[string]*clock                 // by policy id (clock.go)
	clockQ    map[string]rego.PreparedEvalQuery // their rules' values
	clocked   map[string]rego.PreparedEvalQuery // split policies' queries given those values
	shardRuns map[string]int                    // of a split policy, how many shards the last Evaluate ran
	writes    sync.WaitGroup                    // the cache file being written
}

// Ran lists the policies the last Evaluate ran rather than took from the
// cache, by id.
func (e *Engine) Ran() []string { return append([]string(nil), e.ran...) }

// New parses and compiles the built-in library and the team's policies and
// prepares their queries. Rego syntax, type and compile errors (including a
// call to a removed built-in such as http.send) are returned as a diag.List
// of severity error located at file:line:col.
func New(opts Options) (*Engine, error) {
	srcs, err := opts.sources(false)
	if err != nil {
		return nil, err
	}
	mods, errs := parse(srcs)
	if len(errs) > 0 {
		errs.Sort()
		return nil, errs
	}
	c := newCompiler()
	if c.Compile(mods); c.Failed() {
		l := regoDiags(c.Errors, "")
		l.Sort()
		return nil, l
	}
	pols, errs := discover(mods)
	if len(errs) > 0 {
		errs.Sort()
		return nil, errs
	}
	store, err := newStore()
	if err != nil {
		return nil, err
	}
	e := &Engine{policies: pols, secrets: secretFindings(srcs)}
	if opts.CacheDir != "" {
		e.cacheDir = opts.CacheDir
		e.reads = analyseReads(mods, c.Modules, pols)
		e.digests = policyDigests(opts.CacheSalt, srcs, mods, pols, e.reads)
		e.clocks, e.clockQ = clocks(mods, c.Modules, pols, e.reads), map[string]rego.PreparedEvalQuery{}
		for id, ck := range e.clocks {
			var terms []string
			for i, r := range ck.rules {
				terms = append(terms, fmt.Sprintf("c%d = %s", i, r))
			}
			q, err := rego.New(rego.Compiler(c), rego.Store(store), rego.Query(strings.Join(terms, "; ")), matchStringsFunc).PrepareForEval(context.Background())
			if err != nil {
				delete(e.clocks, id) // keyed by the time, as without a clock
				continue
			}
			e.clockQ[id] = q
		}
		e.shards = shardable(mods, c.Modules, pols, e.reads, e.clocks)
	}
	ctx := context.Background()
	e.clocked = map[string]rego.PreparedEvalQuery{}
	for _, p := range pols {
		var terms []string
		for _, r := range p.rules {
			terms = append(terms, fmt.Sprintf("%s = data.%s%s.%s", r, PolicyPrefix, p.ID, r))
		}
		pq, err := rego.New(
			rego.Compiler(c),
			rego.Store(store),
			rego.Query(strings.Join(terms, "; ")),
			matchStringsFunc,
		).PrepareForEval(ctx)
		if err != nil {
			return nil, fmt.Errorf("preparing policy %s: %w", p.ID, err)
		}
		e.queries = append(e.queries, pq)
		// A split policy with a clock runs on a shard with its clock's
		// values given (input.__clock), as the whole input gives them.
		if ck := e.clocks[p.ID]; ck != nil && len(e.shards[p.ID]) > 0 {
			var with []string
			for i, r := range ck.rules {
				with = append(with, fmt.Sprintf("with %s as input.%s.c%d", r, clockField, i))
			}
			for i := range terms {
				terms[i] += " " + strings.Join(with, " ")
			}
			cq, err := rego.New(rego.Compiler(c), rego.Store(store), rego.Query(strings.Join(terms, "; ")), matchStringsFunc).PrepareForEval(ctx)
			if err != nil {
				delete(e.shards, p.ID) // run whole, where its clock's rules compute their values
			} else {
				e.clocked[p.ID] = cq
			}
		}
		if p.ID == WaiversID && p.Builtin {
			wq, err := rego.New(
				rego.Compiler(c),
				rego.Store(store),
				rego.Query("active = data."+PolicyPrefix+WaiversID+".active"),
				matchStringsFunc,
			).PrepareForEval(ctx)
			if err != nil {
				return nil, fmt.Errorf("preparing waivers: %w", err)
			}
			e.waivers = &wq
		}
	}
	return e, nil
}

func newStore() (storage.Store, error) {
	data, err := builtinData()
	if err != nil {
		return nil, err
	}
	return inmem.NewFromObjectWithOpts(data, inmem.OptRoundTripOnWrite(false)), nil
}

// Policies lists the loaded policies, sorted by id.
func (e *Engine) Policies() []Policy { return append([]Policy(nil), e.policies...) }

// discover finds the policy packages (cairn.policy.<id>) among the modules,
// with their METADATA, and checks that custom.id agrees with the package.
func discover(mods map[string]*ast.Module) ([]Policy, diag.List) {
	names := make([]string, 0, len(mods))
	for n := range mods {
		names = append(names, n)
	}
	sort.Strings(names)
	byID := map[string]*Policy{}
	var errs diag.List
	for _, n := range names {
		m := mods[n]
		id, ok := policyID(m.Package.Path)
		if !ok {
			continue
		}
		p := byID[id]
		if p == nil {
			p = &Policy{ID: id, Severity: "deny", Builtin: strings.HasPrefix(n, builtinPrefix), Pos: locPos(m.Package.Location, n)}
			byID[id] = p
		}
		for _, r := range m.Rules {
			name := r.Head.Ref()[0].Value.String()
			if (name == "deny" || name == "warn") && !contains(p.rules, name) {
				p.rules = append(p.rules, name)
			}
		}
		for _, a := range m.Annotations {
			if a.Scope != "package" && a.Scope != "subpackages" {
				continue
			}
			if a.Title != "" {
				p.Title = a.Title
			}
			if a.Description != "" {
				p.Description = strings.TrimSpace(a.Description)
			}
			if len(a.RelatedResources) > 0 && a.RelatedResources[0].Ref.String() != "" {
				p.HelpURI = a.RelatedResources[0].Ref.String()
			}
			if v, ok := a.Custom["id"]; ok && fmt.Sprint(v) != id {
				errs = append(errs, diag.Diagnostic{Severity: diag.Error, Code: "policy_metadata",
					Message: fmt.Sprintf("METADATA custom.id %q differs from the package's policy id %q", fmt.Sprint(v), id),
					Pos:     locPos(a.Location, n)})
			}
			if v, ok := a.Custom["severity"]; ok {
				switch s := fmt.Sprint(v); s {
				case "deny", "warn":
					p.Severity = s
				default:
					errs = append(errs, diag.Diagnostic{Severity: diag.Error, Code: "policy_metadata",
						Message: fmt.Sprintf("METADATA custom.severity is %q; it must be \"deny\" or \"warn\"", s),
						Pos:     locPos(a.Location, n)})
				}
			}
		}
	}
	out := make([]Policy, 0, len(byID))
	for _, p := range byID {
		if len(p.rules) == 0 {
			continue // a package of helpers, not a policy
		}
		sort.Strings(p.rules)
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, errs
}

// policyID returns <id> for package data.cairn.policy.<id> (nested ids are dotted).
func policyID(path ast.Ref) (string, bool) {
	// path is [data, cairn, policy, id...]
	if len(path) < 4 {
		return "", false
	}
	var parts []string
	for _, t := range path[1:] {
		s, ok := t.Value.(ast.String)
		if !ok {
			return "", false
		}
		parts = append(parts, string(s))
	}
	if parts[0] != "cairn" || parts[1] != "policy" {
		return "", false
	}
	return strings.Join(parts[2:], "."), true
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// Input builds the policy input document {bundle, now, context} as an OPA
// value, once per evaluation.
func Input(b *compiler.Bundle, now time.Time, ctxData map[string]any) (ast.Value, error) {
	enc, err := encodeInput(b, ctxData)
	if err != nil {
		return nil, err
	}
	return inputValue(enc, now.UTC().Format(time.RFC3339Nano))
}

// encoded is the policy input's parts as JSON: the bundle's top-level
// fields and the context.
type encoded struct {
	names  []string
	fields [][]byte
	ctx    []byte
}

func encodeInput(b *compiler.Bundle, ctxData map[string]any) (*encoded, error) {
	names, fields, err := b.Fields()
	if err != nil {
		return nil, fmt.Errorf("encoding bundle: %w", err)
	}
	if ctxData == nil {
		ctxData = map[string]any{}
	}
	// Round-trip the context through JSON so any JSON-able value is accepted.
	rawCtx, err := json.Marshal(ctxData)
	if err != nil {
		return nil, fmt.Errorf("encoding policy context: %w", err)
	}
	return &encoded{names, fields, rawCtx}, nil
}

// inputValue converts the input to OPA's value. On a large bundle this was
// a tenth of a check, standing alone between the compiler and the policies:
// the bundle's top-level fields are parsed side by side (jsonValue).
func inputValue(enc *encoded, now string) (ast.Value, error) {
	names, vals, rawCtx := enc.names, enc.fields, enc.ctx
	// Largest first, so the last to finish is a small one.
	order := make([]int, len(names))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(len(vals[b]), len(vals[a])) })
	terms := make([][2]*ast.Term, len(names))
	errs := make([]error, len(names))
	onCores(order, func(i int) {
		v, err := jsonValue(vals[i])
		terms[i], errs[i] = [2]*ast.Term{ast.StringTerm(names[i]), ast.NewTerm(v)}, err
	})
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("decoding bundle: %w", err)
	}
	ctxV, err := jsonValue(rawCtx)
	if err != nil {
		return nil, fmt.Errorf("decoding policy context: %w", err)
	}
	return ast.NewObject(
		[2]*ast.Term{ast.StringTerm("bundle"), ast.NewTerm(ast.NewObject(terms...))},
		[2]*ast.Term{ast.StringTerm("now"), ast.StringTerm(now)},
		[2]*ast.Term{ast.StringTerm("context"), ast.NewTerm(ctxV)},
	), nil
}

// Evaluate runs every policy on the bundle at time now, applies the bundle's
// waivers and returns the violations, sorted, each located at its field (or
// object) in the user's files. A policy that fails at run time is reported as
// a diagnostic of severity error at its location; the others still run. The
// error result is for failures of cairn itself. With a cache directory, a
// policy whose Rego and whose part of the input are unchanged since its last
// run is not run again (cache.go).
func (e *Engine) Evaluate(ctx context.Context, b *compiler.Bundle, now time.Time, ctxData map[string]any) (diag.List, error) {
	defer e.writes.Wait()
	reg := trace.StartRegion(ctx, "policies.encode")
	enc, err := encodeInput(b, ctxData)
	reg.End()
	if err != nil {
		return nil, err
	}
	nowS := now.UTC().Format(time.RFC3339Nano)
	var bindings []map[string]any
	var errs []error
	var input func() (ast.Value, error) // the waivers' input
	if e.cacheDir != "" {
		reg := trace.StartRegion(ctx, "policies.split")
		parts, err := splitInput(enc, nowS)
		reg.End()
		if err != nil {
			return nil, fmt.Errorf("splitting the policy input: %w", err)
		}
		bindings, errs = e.evaluateCached(ctx, parts)
		input = func() (ast.Value, error) { return parts.input(e.reads[WaiversID], nil, 0) }
	} else {
		reg := trace.StartRegion(ctx, "policies.input")
		in, err := inputValue(enc, nowS)
		reg.End()
		if err != nil {
			return nil, err
		}
		bindings, errs = make([]map[string]any, len(e.policies)), make([]error, len(e.policies))
		e.ran = e.ran[:0]
		all := make([]int, len(e.policies))
		for i := range all {
			all[i], e.ran = i, append(e.ran, e.policies[i].ID)
		}
		// Policies are independent: they run side by side on the cores,
		// each prepared query shared (OPA's prepared queries are safe for
		// concurrent evaluation; the input is only read).
		onCores(all, func(i int) { bindings[i], errs[i] = e.eval(ctx, i, in) })
		input = func() (ast.Value, error) { return in, nil }
	}
	var out diag.List
	for i, p := range e.policies {
		if err := errs[i]; err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			out = append(out, runtimeDiag(p, err)...)
			bindings[i] = nil
		}
	}
	for i, p := range e.policies {
		if bindings[i] == nil {
			continue // failed at run time: reported above
		}
		for _, rule := range p.rules {
			sev := diag.Warn
			if rule == "deny" && p.Severity == "deny" {
				sev = diag.Deny
			}
			out = append(out, e.results(b, p, sev, bindings[i][rule])...)
		}
	}
	out = append(out, e.secrets...)
	if e.waivers != nil {
		reg := trace.StartRegion(ctx, "policies.waivers")
		in, err := input()
		if err != nil {
			reg.End()
			return nil, err
		}
		active, err := e.activeWaivers(ctx, in)
		reg.End()
		if err != nil {
			return nil, err
		}
		out = append(out, applyWaivers(b, out, active, e.policies)...)
	}
	for i := range out { // a team policy may quote the value it found
		out[i].Message = diag.Shorten(diag.Redact(out[i].Message))
		out[i].Waiver = diag.Redact(out[i].Waiver)
	}
	out.Sort()
	return out, nil
}

// clockField is where a split run's input carries its clock's values.
const clockField = "__clock"

// eval runs policy i on input.
func (e *Engine) eval(ctx context.Context, i int, input ast.Value) (map[string]any, error) {
	return e.evalQuery(ctx, e.policies[i].ID, e.queries[i], input)
}

func (e *Engine) evalQuery(ctx context.Context, id string, q rego.PreparedEvalQuery, input ast.Value) (map[string]any, error) {
	reg := trace.StartRegion(ctx, "policy "+id)
	defer reg.End()
	rs, err := q.Eval(ctx, rego.EvalParsedInput(input))
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return map[string]any{}, nil
	}
	return rs[0].Bindings, nil
}

// results turns a rule's set of {msg, target, path} into diagnostics.
func (e *Engine) results(b *compiler.Bundle, p Policy, sev diag.Severity, v any) diag.List {
	set, _ := v.([]any)
	var out diag.List
	for _, r := range set {
		d := diag.Diagnostic{Severity: sev, Code: p.ID, Title: p.Title}
		switch r := r.(type) {
		case string: // a bare message, as conftest-style policies write them
			d.Message = r
		case map[string]any:
			d.Message, _ = r["msg"].(string)
			d.Object, _ = r["target"].(string)
			d.Path, _ = r["path"].(string)
		}
		if d.Message == "" {
			out = append(out, diag.Diagnostic{Severity: diag.Error, Code: "policy_result", Pos: p.Pos,
				Message: fmt.Sprintf("policy %s returned a violation without a message; want {\"msg\": string, \"target\": \"kind/name\", \"path\": string}, got %v", p.ID, r)})
			continue
		}
		d.Pos = Locate(b, d.Object, d.Path)
		if !d.Pos.IsValid() && d.Object == "" {
			d.Pos = p.Pos // nothing better than the policy itself
		}
		out = append(out, d)
	}
	return out
}

func runtimeDiag(p Policy, err error) diag.List {
	var te *topdown.Error
	if errors.As(err, &te) {
		d := diag.Diagnostic{Severity: diag.Error, Code: te.Code, Pos: p.Pos,
			Message: fmt.Sprintf("policy %s failed: %s", p.ID, te.Message)}
		if te.Location != nil {
			d.Pos = locPos(te.Location, p.Pos.File)
		}
		return diag.List{d}
	}
	l := regoDiags(err, p.Pos.File)
	for i := range l {
		l[i].Message = fmt.Sprintf("policy %s failed: %s", p.ID, l[i].Message)
	}
	return l
}

func (e *Engine) activeWaivers(ctx context.Context, input ast.Value) (map[int]bool, error) {
	rs, err := e.waivers.Eval(ctx, rego.EvalParsedInput(input))
	if err != nil {
		return nil, fmt.Errorf("evaluating waivers: %w", err)
	}
	active := map[int]bool{}
	if len(rs) == 0 {
		return active, nil
	}
	set, _ := rs[0].Bindings["active"].([]any)
	for _, x := range set {
		if n, ok := x.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				active[int(i)] = true
			}
		}
	}
	return active, nil
}

// onCores calls f for each of items, in their order, on as many goroutines
// as there are cores, and returns when all are done.
func onCores(items []int, f func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(runtime.GOMAXPROCS(0), len(items)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for _, i := range items {
		next <- i
	}
	close(next)
	wg.Wait()
}
