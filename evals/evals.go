// Package evals runs eval suites: it plans the cases of a suite from the
// Bundle and its dataset, executes each case against its provider (with a
// result cache in the state store), scores it, and aggregates the suite's
// metrics into a pass/fail verdict for promotion gates.
//
// The case loop is splittable: Plan returns self-contained, serialisable
// Cases (each with its cache key) and Engine.ExecuteCase runs one, so cases
// can be distributed as jobs.
package evals

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/evals/classic"
	"github.com/cairn-dev/cairn/evals/provider"
	"github.com/cairn-dev/cairn/evals/scorer"
	"github.com/cairn-dev/cairn/limits"
	"github.com/cairn-dev/cairn/prices"
	"github.com/cairn-dev/cairn/prompts"
	"github.com/cairn-dev/cairn/rag"
	"github.com/cairn-dev/cairn/state"
	"github.com/cairn-dev/cairn/tokens"
)

// Status of a case or suite.
type Status string

const (
	Pass  Status = "PASS"
	Fail  Status = "FAIL"
	Error Status = "ERROR"
)

// Row is one dataset line.
type Row struct {
	ID        string            `json:"id"`
	Vars      map[string]string `json:"vars"`
	Reference string            `json:"reference,omitempty"`
	Context   []string          `json:"context,omitempty"`
	Output    *string           `json:"output,omitempty"`
	// Query overrides what a RAG prompt's row retrieves {{ context }} with
	// (see retrievalQuery).
	Query string `json:"query,omitempty"`
}

// MetricSpec is a metric of a suite, with its scorer settings resolved.
type MetricSpec struct {
	Name          string          `json:"name"`
	Settings      scorer.Settings `json:"settings"`
	Threshold     float64         `json:"threshold"`
	CaseThreshold *float64        `json:"case_threshold,omitempty"`
	Aggregate     string          `json:"aggregate"`
}

// caseBound is the per-case pass bound: case_threshold, else the threshold
// for mean/max/p95 (same units), else 0.5 for pass_rate on 0..1 scorers.
func (m MetricSpec) caseBound() (float64, error) {
	if m.CaseThreshold != nil {
		return *m.CaseThreshold, nil
	}
	if m.Aggregate != "pass_rate" {
		return m.Threshold, nil
	}
	if scorer.Unit(m.Settings.Scorer) {
		return 0.5, nil
	}
	return 0, fmt.Errorf("metric %s: aggregate pass_rate on %s needs case_threshold", m.Name, m.Settings.Scorer)
}

func passes(scorerName string, score, bound float64) bool {
	if scorer.LowerIsBetter(scorerName) {
		return score <= bound
	}
	return score >= bound
}

// Case is one execution of one dataset row (one repeat). It is
// self-contained and JSON-serialisable.
type Case struct {
	Suite    string `json:"suite"`
	ID       string `json:"id"`
	Repeat   int    `json:"repeat"`
	Target   string `json:"target"` // "prompts/x" or "models/y"
	Provider string `json:"provider"`
	Kind     string `json:"kind"` // provider kind
	// Classic: the target is a classic model; its output is a logged
	// prediction, so tokens and cost (LLM metering) are not counted.
	Classic bool             `json:"classic,omitempty"`
	Request provider.Request `json:"request"`
	Row     Row              `json:"row"`
	// Retrieved are the chunks retrieved into {{ context }} (RAG prompts
	// whose row brings no context). The faithfulness and context_recall
	// scorers judge against them; factuality judges against the reference
	// (and the row's own context) only, as the OpenAI fact rubric does.
	Retrieved []string `json:"retrieved,omitempty"`
	// RAGSnapshot is the snapshot the retrieved context came from, when the
	// retriever says (rag.Retriever does).
	RAGSnapshot string        `json:"rag_snapshot,omitempty"`
	Metrics     []MetricSpec  `json:"metrics"`
	Price       *prices.Price `json:"price,omitempty"`
	PriceErr    string        `json:"price_error,omitempty"`
	GenKey      string        `json:"gen_key"` // cache key of the generation
	Key         string        `json:"key"`     // cache key over everything that can change the result
}

// MetricResult is one metric on one case.
type MetricResult struct {
	Score  *float64 `json:"score,omitempty"`
	Pass   bool     `json:"pass"`
	Status Status   `json:"status"`
	Reason string   `json:"reason,omitempty"`
	Error  string   `json:"error,omitempty"`
	Cached bool     `json:"cached"`
}

// CaseResult is a case's outcome.
type CaseResult struct {
	Suite  string `json:"suite"`
	ID     string `json:"id"`
	Repeat int    `json:"repeat"`
	Key    string `json:"key"`
	Status Status `json:"status"`
	Output string `json:"output"`
	Error  string `json:"error,omitempty"`
	// Metrics is shared, read-only, between the cases of a run whose metric
	// results are equal (see RunSuite).
	Metrics      map[string]MetricResult `json:"metrics"`
	InputTokens  int                     `json:"input_tokens"`
	OutputTokens int                     `json:"output_tokens"`
	CostUSD      *float64                `json:"cost_usd,omitempty"`
	LatencyMS    float64                 `json:"latency_ms"`
	CacheHit     bool                    `json:"cache_hit"` // the generation came from the cache
	Attempts     int                     `json:"attempts"`
	// What answered: the model id the provider reported, its
	// system_fingerprint, and the RAG snapshot the context came from.
	ModelReported     string `json:"model_reported,omitempty"`
	SystemFingerprint string `json:"system_fingerprint,omitempty"`
	RAGSnapshot       string `json:"rag_snapshot,omitempty"`
}

// Aggregate is a suite metric.
type Aggregate struct {
	Name      string   `json:"name"`
	Scorer    string   `json:"scorer"`
	Aggregate string   `json:"aggregate"`
	Value     *float64 `json:"value"` // nil when no case scored
	Threshold float64  `json:"threshold"`
	Op        string   `json:"op"` // ">=" or "<="
	Pass      bool     `json:"pass"`
	Cases     int      `json:"cases"`
	Errors    int      `json:"errors"`
	// Approximation says, for an offline scorer standing in for a judge, that
	// it is one and how well it was measured to agree with labelled data.
	Approximation string `json:"approximation,omitempty"`
	// Low and High are a metric computed from predictions' bootstrap 95 %
	// interval; Note says why it has no value or does not pass.
	Low  *float64 `json:"ci_low,omitempty"`
	High *float64 `json:"ci_high,omitempty"`
	Note string   `json:"note,omitempty"`
}

// RowResult is a dataset row over its repeats.
type RowResult struct {
	ID     string `json:"id"`
	Status Status `json:"status"`
	Passes int    `json:"passes"`
	Errors int    `json:"errors"`
	Runs   int    `json:"runs"`
}

// Run is a suite's result.
type Run struct {
	Suite       string       `json:"suite"`
	Target      string       `json:"target"`
	BundleHash  string       `json:"bundle_hash,omitempty"`
	DatasetHash string       `json:"dataset_hash,omitempty"`
	Status      Status       `json:"status"`
	Passed      bool         `json:"passed"` // only true with zero errors and every metric passing
	Metrics     []Aggregate  `json:"metrics"`
	Rows        []RowResult  `json:"rows"`
	Cases       []CaseResult `json:"cases"`
	Errors      int          `json:"errors"`
	CostUSD     float64      `json:"cost_usd"`
	InputTokens int          `json:"input_tokens"`
	OutTokens   int          `json:"output_tokens"`
	CacheHits   int          `json:"cache_hits"`
	DurationMS  float64      `json:"duration_ms"`
	// Classic is the result of an eval computed from a classic model's
	// predictions: rows, slices, fairness groups, the confusion matrix.
	Classic *classic.Result `json:"classic,omitempty"`
	// Version is the model version whose predictions were evaluated, for an
	// eval whose file holds several (predictions.version).
	Version string `json:"version,omitempty"`
	// Answered is what actually answered the run's cases (lineage): each
	// reported model id and system fingerprint with its case count, and the
	// RAG snapshots the contexts came from.
	Answered     []state.Answered `json:"answered,omitempty"`
	RAGSnapshots []string         `json:"rag_snapshots,omitempty"`
}

// Options control a run.
type Options struct {
	Parallel int  // cases in flight per provider (default 4)
	NoCache  bool // ignore cached results (still writes fresh ones)
	// Store keeps the result cache, per-case results and runs. Nil: nothing
	// is recorded and the cache lasts the run, for network results only.
	Store Store
	// Getenv reads API keys (default os.Getenv); keys are never logged or stored.
	Getenv  func(string) string
	Catalog *prices.Catalog
	// Providers replaces the providers built from the bundle (tests, workers).
	Providers map[string]provider.Provider
	// Retriever fills {{ context }} of RAG prompts (nil: rows bring their own).
	Retriever ContextRetriever
	// InProcess runs the cases in this process even with a state store that
	// can queue them for workers (the CLI sets it from CAIRN_EVAL_INPROCESS=1).
	InProcess bool
	// Progress is called after each case.
	Progress func(done, total int)
	// Retry settings for network providers.
	MaxRetries  int
	BackoffBase time.Duration
	// Version is the model version a classic eval evaluates, where its
	// predictions file holds several (predictions.version).
	Version string
}

func hashJSON(v any) string {
	b, _ := json.Marshal(v)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// LoadDataset reads a JSONL dataset; errors name the file and line.
func LoadDataset(path, display string) ([]Row, error) {
	var rows []Row
	err := forEachRow(path, display, func(r Row) error {
		rows = append(rows, r)
		return nil
	})
	return rows, err
}

// forEachRow streams a JSONL dataset row by row, so that a large dataset is
// never held in memory whole; errors name the file, line and column.
func forEachRow(path, display string, fn func(Row) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("dataset %s: %w", display, err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 256<<10)
	seen := map[string]int{}
	var long []byte
	// One line may hold a long document, but a file with no newlines at all
	// is not a dataset: lines and rows are bounded by the user's limits.
	lim := limits.Get()
	rows := int64(0)
	for line := 1; ; line++ {
		text, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull { // a line longer than the buffer
			long = append(long[:0], text...)
			for err == bufio.ErrBufferFull {
				text, err = br.ReadSlice('\n')
				long = append(long, text...)
				if int64(len(long)) > lim.LineBytes {
					return fmt.Errorf("%s:%d:1: %w", display, line, &limits.Exceeded{What: "line too long", Flag: "max-line-length", Max: limits.Bytes(lim.LineBytes)})
				}
			}
			text = long
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("dataset %s: %w", display, err)
		}
		if t := bytes.TrimSpace(text); len(t) > 0 {
			if rows++; rows > lim.Rows {
				return fmt.Errorf("%s:%d:1: %w", display, line, &limits.Exceeded{What: fmt.Sprintf("more than %d rows", lim.Rows), Flag: "max-rows", Max: strconv.FormatInt(lim.Rows, 10)})
			}
			r, rerr := parseRow(t, display, line)
			if rerr != nil {
				return rerr
			}
			if prev, ok := seen[r.ID]; ok {
				return fmt.Errorf("%s:%d:1: duplicate id %q (first on line %d)", display, line, r.ID, prev)
			}
			seen[r.ID] = line
			if err := fn(r); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}

// parseRow decodes one dataset line (already trimmed).
func parseRow(text []byte, display string, line int) (Row, error) {
	var raw struct {
		ID        any             `json:"id"`
		Vars      map[string]any  `json:"vars"`
		Reference *string         `json:"reference"`
		Context   json.RawMessage `json:"context"`
		Output    *string         `json:"output"`
		Query     *string         `json:"query"`
	}
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return Row{}, fmt.Errorf("%s:%d:1: %v", display, line, err)
	}
	// One object per line: text after it would otherwise be dropped silently.
	if off := dec.InputOffset(); off < int64(len(text)) {
		rest := bytes.TrimLeft(text[off:], " \t\r")
		col := len(text) - len(rest) + 1
		return Row{}, fmt.Errorf("%s:%d:%d: unexpected text after the row's JSON object (one object per line)", display, line, col)
	}
	r := Row{Vars: make(map[string]string, len(raw.Vars)), Output: raw.Output}
	switch id := raw.ID.(type) {
	case string:
		r.ID = id
	case float64:
		r.ID = fmt.Sprint(id)
	case nil:
		return Row{}, fmt.Errorf("%s:%d:1: row has no id", display, line)
	default:
		return Row{}, fmt.Errorf("%s:%d:1: id must be a string or number, got %v", display, line, id)
	}
	for k, v := range raw.Vars {
		switch v := v.(type) {
		case string:
			r.Vars[k] = v
		default:
			b, _ := json.Marshal(v)
			r.Vars[k] = string(b)
		}
	}
	if raw.Reference != nil {
		r.Reference = *raw.Reference
	}
	if raw.Query != nil {
		r.Query = *raw.Query
	}
	if len(raw.Context) > 0 && string(raw.Context) != "null" {
		var one string
		if json.Unmarshal(raw.Context, &one) == nil {
			r.Context = []string{one}
		} else if err := json.Unmarshal(raw.Context, &r.Context); err != nil {
			return Row{}, fmt.Errorf("%s:%d:1: context must be a string or a list of strings", display, line)
		}
	}
	return r, nil
}

// safeJoin resolves a repo-relative path, refusing escapes.
func safeJoin(root, rel string) (string, error) {
	if filepath.IsAbs(rel) || strings.HasPrefix(filepath.Clean(rel), "..") {
		return "", fmt.Errorf("path %q must stay inside the spec repo", rel)
	}
	return filepath.Join(root, filepath.FromSlash(rel)), nil
}

// ContextRetriever fills a RAG prompt's {{ context }}: *rag.Retriever
// implements it over the current snapshots in the state store.
type ContextRetriever interface {
	Retrieve(ctx context.Context, source, query string, k int) ([]rag.Chunk, error)
}

// Plan expands a suite into cases: one per dataset row and repeat. A RAG
// prompt's rows that bring no context of their own render {{ context }} empty;
// PlanWithContext retrieves it instead.
func Plan(b *compiler.Bundle, suite string, cat *prices.Catalog) ([]Case, error) {
	return PlanWithContext(context.Background(), b, suite, cat, nil)
}

// PlanWithContext is Plan with retrieval: when the target prompt has `rag`
// and a row provides no context (neither a "context" field nor a var), the
// source's top_k chunks for the row's question fill {{ context }} (numbered,
// as rag.FormatContext renders them) and are what the faithfulness and
// context_recall scorers judge against (Case.Retrieved). Retrieval happens
// here, not in ExecuteCase, so a case stays self-contained for workers.
func PlanWithContext(ctx context.Context, b *compiler.Bundle, suite string, cat *prices.Catalog, retr ContextRetriever) ([]Case, error) {
	p, err := newSuitePlanner(b, suite, cat, retr)
	if err != nil {
		return nil, err
	}
	// The whole dataset is read (and rejected on a bad line) before the first
	// retrieval.
	rows, err := LoadDataset(p.dsPath, p.ev.Dataset)
	if err != nil {
		return nil, err
	}
	var cases []Case
	for _, r := range rows {
		cs, err := p.rowCases(ctx, r, false)
		if err != nil {
			return nil, err
		}
		cases = append(cases, cs...)
	}
	return cases, nil
}

// suitePlanner is a suite with its target, provider, prices and metrics
// resolved once; rowCases expands one dataset row. RunSuite streams rows
// through it, Plan collects every case.
type suitePlanner struct {
	b        *compiler.Bundle
	ev       *compiler.Eval
	suite    string
	retr     ContextRetriever
	dsPath   string
	repeats  int
	target   string
	provName string
	pv       *compiler.Provider
	kind     string
	modelID  string
	// classic: the target is a classic model, whose "output" is a logged
	// prediction, not an LLM generation: it is never token-metered.
	classic   bool
	ragSource string
	msgs      []compiler.Message
	temp      float64
	maxTok    int
	price     *prices.Price
	priceErr  string
	metrics   []MetricSpec
}

func (p *suitePlanner) where() string {
	if p.ev.Pos.IsValid() {
		return p.ev.Pos.String() + ": "
	}
	return ""
}

func newSuitePlanner(b *compiler.Bundle, suite string, cat *prices.Catalog, retr ContextRetriever) (*suitePlanner, error) {
	ev, ok := b.Evals[suite]
	if !ok {
		names := make([]string, 0, len(b.Evals))
		for n := range b.Evals {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("no eval suite %q (have: %s)", suite, strings.Join(names, ", "))
	}
	if cat == nil {
		cat = prices.Default()
	}
	p := &suitePlanner{b: b, ev: ev, suite: suite, retr: retr, repeats: max(ev.Repeats, 1)}
	where := p.where
	// Resolve the target into a provider, model and message templates.
	switch {
	case ev.Target.Prompt != "":
		pr, ok := b.Prompts[ev.Target.Prompt]
		if !ok {
			return nil, fmt.Errorf("%seval %s: target prompt %q does not exist", where(), suite, ev.Target.Prompt)
		}
		p.target = "prompts/" + pr.Name
		p.ragSource = pr.RAG
		p.provName, p.modelID, p.temp, p.maxTok = pr.Model.Provider, pr.Model.ID, pr.Model.Temperature, pr.Model.MaxTokens
		switch {
		case len(pr.Messages) > 0:
			p.msgs = pr.Messages
		case pr.Template != "":
			p.msgs = []compiler.Message{{Role: "user", Content: pr.Template}}
		case pr.TemplateFile != "":
			fp, err := safeJoin(b.Root, pr.TemplateFile)
			if err != nil {
				return nil, err
			}
			t, err := os.ReadFile(fp)
			if err != nil {
				return nil, fmt.Errorf("prompt %s: template_file: %w", pr.Name, err)
			}
			p.msgs = []compiler.Message{{Role: "user", Content: string(t)}}
		}
	case ev.Target.Model != "":
		m, ok := b.Models[ev.Target.Model]
		if !ok {
			return nil, fmt.Errorf("%seval %s: target model %q does not exist", where(), suite, ev.Target.Model)
		}
		p.target = "models/" + m.Name
		p.provName, p.modelID, p.maxTok = m.Provider, m.ModelID, 512
		p.msgs = []compiler.Message{{Role: "user", Content: "{{ input }}"}}
		if m.Kind != "llm" {
			p.provName = "" // classic models: scored on logged outputs
			p.classic = true
		}
	default:
		return nil, fmt.Errorf("%seval %s: no target", where(), suite)
	}
	p.kind = "replay"
	var overrides map[string]prices.Price
	if p.provName != "" {
		pv, ok := b.Providers[p.provName]
		if !ok {
			return nil, fmt.Errorf("%seval %s: provider %q does not exist", where(), suite, p.provName)
		}
		p.pv, p.kind = pv, pv.Kind
		overrides = map[string]prices.Price{}
		for k, v := range pv.Prices {
			overrides[k] = prices.Price{InputUSDPerMTok: v.InputUSDPerMTok, OutputUSDPerMTok: v.OutputUSDPerMTok}
		}
	}
	if pr, _, err := cat.Lookup(p.modelID, overrides); err == nil {
		p.price = &pr
	} else {
		p.priceErr = err.Error()
	}
	// Metrics, sorted by name for determinism.
	for name, m := range ev.Metrics {
		s := scorer.Settings{Scorer: m.Scorer, Pattern: m.Pattern, Value: m.Value, Scores: m.Scores}
		if m.Judge != nil {
			s.JudgeProvider, s.JudgeModel = m.Judge.Provider, m.Judge.Model
			if _, ok := b.Providers[m.Judge.Provider]; !ok {
				return nil, fmt.Errorf("%seval %s: metric %s: judge provider %q does not exist", where(), suite, name, m.Judge.Provider)
			}
		}
		if m.SchemaFile != "" {
			fp, err := safeJoin(b.Root, m.SchemaFile)
			if err != nil {
				return nil, err
			}
			doc, err := os.ReadFile(fp)
			if err != nil {
				return nil, fmt.Errorf("%seval %s: metric %s: schema_file: %w", where(), suite, name, err)
			}
			s.Schema = string(doc)
		}
		if err := scorer.Validate(s); err != nil {
			return nil, fmt.Errorf("%seval %s: metric %s: %w", where(), suite, name, err)
		}
		agg := m.Aggregate
		if agg == "" {
			agg = "mean"
		}
		ms := MetricSpec{Name: name, Settings: s, Threshold: m.Threshold, CaseThreshold: m.CaseThreshold, Aggregate: agg}
		if _, err := ms.caseBound(); err != nil {
			return nil, fmt.Errorf("%seval %s: %w", where(), suite, err)
		}
		p.metrics = append(p.metrics, ms)
	}
	sort.Slice(p.metrics, func(i, j int) bool { return p.metrics[i].Name < p.metrics[j].Name })

	dsPath, err := safeJoin(b.Root, ev.Dataset)
	if err != nil {
		return nil, fmt.Errorf("%seval %s: dataset: %w", where(), suite, err)
	}
	p.dsPath = dsPath
	return p, nil
}

// rowCases expands one row into its cases (one per repeat). With dryRun it
// only renders the prompt (no retrieval, no cache keys): RunSuite's first
// pass, which rejects a bad row before any provider call.
func (p *suitePlanner) rowCases(ctx context.Context, r Row, dryRun bool) ([]Case, error) {
	var retrieved []string
	var snapshot string
	if _, given := r.Vars["context"]; !dryRun && p.ragSource != "" && p.retr != nil && len(r.Context) == 0 && !given {
		query := retrievalQuery(r)
		chunks, err := p.retr.Retrieve(ctx, p.ragSource, query, p.b.RAG[p.ragSource].Retrieval.TopK)
		if err != nil {
			return nil, fmt.Errorf("%seval %s: row %q: retrieving {{ context }} from rag/%s: %w", p.where(), p.suite, r.ID, p.ragSource, err)
		}
		retrieved = make([]string, len(chunks))
		for i, c := range chunks {
			retrieved[i] = strings.TrimSpace(c.Text)
		}
		if s, ok := p.retr.(interface{ SnapshotID(string) (string, bool) }); ok {
			snapshot, _ = s.SnapshotID(p.ragSource)
		}
		r.Vars = cloneWith(r.Vars, "context", rag.FormatContext(chunks))
	}
	rendered := make([]provider.Message, 0, len(p.msgs))
	for _, m := range p.msgs {
		vars := r.Vars
		// A model is sent its row's input; a row of named features (a
		// classic model's logged decision) is sent as one JSON object.
		if p.ev.Target.Model != "" {
			if _, ok := vars["input"]; !ok {
				vars = cloneWith(vars, "input", varsJSON(r.Vars))
			}
		}
		// {{ context }} is the row's own context when it brings one (or it
		// renders empty when nothing was retrieved).
		if _, ok := vars["context"]; !ok {
			vars = cloneWith(vars, "context", strings.Join(r.Context, "\n\n"))
		}
		text, err := prompts.Render(m.Content, vars)
		if err != nil {
			return nil, fmt.Errorf("%s: row %q: %v", p.ev.Dataset, r.ID, err)
		}
		rendered = append(rendered, provider.Message{Role: m.Role, Content: text})
	}
	if dryRun {
		return nil, nil
	}
	cases := make([]Case, 0, p.repeats)
	for rep := 0; rep < p.repeats; rep++ {
		c := Case{Suite: p.suite, ID: r.ID, Repeat: rep, Target: p.target, Provider: p.provName, Kind: p.kind, Classic: p.classic,
			Request: provider.Request{Model: p.modelID, Messages: rendered, Temperature: p.temp, MaxTokens: p.maxTok},
			Row:     r, Retrieved: retrieved, RAGSnapshot: snapshot, Metrics: p.metrics, Price: p.price, PriceErr: p.priceErr}
		genID := struct {
			Kind, BaseURL, APIVersion string
			Req                       provider.Request
			Repeat                    int
			Logged                    *string
		}{Kind: p.kind, Req: c.Request, Repeat: rep}
		if p.pv != nil {
			genID.BaseURL, genID.APIVersion = p.pv.BaseURL, p.pv.APIVersion
		}
		if p.kind == "replay" {
			genID.Logged = r.Output
		}
		c.GenKey = hashJSON(genID)
		c.Key = hashJSON(struct {
			Gen     string
			Row     Row
			Metrics []MetricSpec
			V       string
		}{c.GenKey, Row{Reference: r.Reference, Context: r.Context}, p.metrics, scorer.Version})
		cases = append(cases, c)
	}
	return cases, nil
}

// queryVars are the var names taken as a row's question, in this order.
var queryVars = []string{"question", "query", "q", "input", "prompt", "text"}

// retrievalQuery is what a row asks the knowledge base (documented in
// evals/README.md): the row's "query" field when it has one; else its first
// non-empty var named question, query, q, input, prompt or text; else its
// longest var value (ties: the first var name in sorted order). "context"
// is never the query. The first declared input is not used: it is often a
// setting such as max_sentences, not the question.
func retrievalQuery(r Row) string {
	if q := strings.TrimSpace(r.Query); q != "" {
		return q
	}
	for _, k := range queryVars {
		if q := strings.TrimSpace(r.Vars[k]); q != "" {
			return q
		}
	}
	keys := make([]string, 0, len(r.Vars))
	for k := range r.Vars {
		if k != "context" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	best := ""
	for _, k := range keys {
		if q := strings.TrimSpace(r.Vars[k]); len(q) > len(best) {
			best = q
		}
	}
	return best
}

// varsJSON is the vars as canonical JSON (encoding/json sorts map keys).
func varsJSON(vars map[string]string) string {
	b, _ := json.Marshal(vars)
	return string(b)
}

func cloneWith(m map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for a, b := range m {
		out[a] = b
	}
	out[k] = v
	return out
}

// Engine executes cases. It is safe for concurrent use.
type Engine struct {
	Providers map[string]provider.Provider
	Store     Store
	NoCache   bool
	// ephemeral: no store was given, so the cache lasts this run only and
	// holds only what costs a network call (provider generations, judged
	// scores); replayed outputs and local scores are recomputed, which is
	// cheaper than keeping 100k entries in memory.
	ephemeral bool
	// unavailable are the providers that could not be built (a missing key,
	// a bad base_url), with why.
	unavailable map[string]error
}

// Unavailable returns why the first of the named providers could not be
// built, or nil: a run checks the providers it uses before any case, so a
// missing key is one clear error, not a retried failure per case.
func (e *Engine) Unavailable(names ...string) error {
	for _, n := range names {
		if err := e.unavailable[n]; err != nil {
			return err
		}
	}
	return nil
}

// NewEngine builds the providers of a bundle. API keys are read through
// getenv from each provider's api_key_env.
func NewEngine(b *compiler.Bundle, opts Options) (*Engine, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	e := &Engine{Providers: map[string]provider.Provider{}, Store: opts.Store, NoCache: opts.NoCache}
	if e.Store == nil {
		e.Store, e.ephemeral = NewMemStore(), true
	}
	names := make([]string, 0, len(b.Providers))
	for n := range b.Providers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if p, ok := opts.Providers[n]; ok {
			e.Providers[n] = p
			continue
		}
		pv := b.Providers[n]
		if pv.Kind == "replay" {
			e.Providers[n] = provider.Replay{}
			continue
		}
		cfg := provider.Config{Name: n, Kind: pv.Kind, BaseURL: pv.BaseURL, APIKey: getenv(pv.APIKeyEnv), APIKeyEnv: pv.APIKeyEnv, APIVersion: pv.APIVersion,
			Timeout: time.Duration(pv.TimeoutSeconds * float64(time.Second)), MaxRetries: opts.MaxRetries, BackoffBase: opts.BackoffBase,
			Concurrency: max(opts.Parallel, 1)}
		if pv.MaxConcurrency > 0 && pv.MaxConcurrency < cfg.Concurrency {
			cfg.Concurrency = pv.MaxConcurrency
		}
		if pv.RateLimit != nil {
			cfg.RequestsPerMinute, cfg.TokensPerMinute = pv.RateLimit.RequestsPerMinute, pv.RateLimit.TokensPerMinute
		}
		p, err := provider.NewOpenAI(cfg)
		if err != nil {
			if pv.Pos.IsValid() {
				err = fmt.Errorf("%s: %w", pv.Pos, err)
			}
			// A provider no suite of this run uses may lack its key: the
			// error is kept, and Unavailable reports it before any case runs.
			if e.unavailable == nil {
				e.unavailable = map[string]error{}
			}
			e.unavailable[n] = err
			continue
		}
		e.Providers[n] = p
	}
	return e, nil
}

type genRecord struct {
	Content      string  `json:"content"`
	InputTokens  int     `json:"input_tokens"`
	OutputTokens int     `json:"output_tokens"`
	LatencyMS    float64 `json:"latency_ms"`
	// What answered, kept with the cached generation: a cache hit still
	// says which model produced the output it reuses.
	Model             string `json:"model,omitempty"`
	SystemFingerprint string `json:"system_fingerprint,omitempty"`
}

// ExecuteCase runs one case: the generation (from the cache when possible),
// then each metric (each score cached separately, so adding a metric does not
// call the model again). Failures become ERROR results; the error return is
// only for the store failing.
func (e *Engine) ExecuteCase(ctx context.Context, c Case) (CaseResult, error) {
	res := CaseResult{Suite: c.Suite, ID: c.ID, Repeat: c.Repeat, Key: c.Key, Metrics: map[string]MetricResult{}}
	var gen genRecord
	hit := false
	cacheGen := !(e.ephemeral && c.Kind == "replay")
	if !e.NoCache && cacheGen {
		if b, ok, err := e.Store.GetRecord(ctx, KindGen, c.GenKey); err != nil {
			return res, fmt.Errorf("eval cache: %w", err)
		} else if ok && json.Unmarshal(b, &gen) == nil {
			hit = true
		}
	}
	if !hit {
		var p provider.Provider = provider.Replay{}
		if c.Provider != "" {
			var ok bool
			if p, ok = e.Providers[c.Provider]; !ok {
				res.Status, res.Error = Error, fmt.Sprintf("provider %q is not configured", c.Provider)
				return res, nil
			}
		}
		req := c.Request
		req.Logged = c.Row.Output
		resp, err := p.Complete(ctx, req)
		res.Attempts = resp.Attempts
		if err != nil {
			res.Status, res.Error, res.LatencyMS = Error, err.Error(), resp.LatencyMS
			if ce := (*provider.ConfigError)(nil); errors.As(err, &ce) {
				return res, err // the same for every case: the run stops here
			}
			return res, nil
		}
		gen = genRecord{Content: resp.Content, InputTokens: resp.PromptTokens, OutputTokens: resp.CompletionTokens, LatencyMS: resp.LatencyMS,
			Model: resp.Model, SystemFingerprint: resp.SystemFingerprint}
		if !resp.UsageReported && !c.Classic {
			tm := make([]tokens.Message, len(req.Messages))
			for i, m := range req.Messages {
				tm[i] = tokens.Message{Role: m.Role, Content: m.Content}
			}
			if n, err := tokens.CountChat(req.Model, tm); err == nil {
				gen.InputTokens = n
			}
			if n, err := tokens.Count(tokens.EncodingFor(req.Model), resp.Content); err == nil {
				gen.OutputTokens = n
			}
		}
		if cacheGen {
			b, _ := json.Marshal(gen)
			if err := e.Store.PutRecord(ctx, KindGen, c.GenKey, b); err != nil {
				return res, fmt.Errorf("eval cache: %w", err)
			}
		}
	}
	res.CacheHit = hit
	if c.Classic { // a prediction, not a generation (older cache entries did count it)
		gen.InputTokens, gen.OutputTokens = 0, 0
	}
	res.Output, res.InputTokens, res.OutputTokens, res.LatencyMS = gen.Content, gen.InputTokens, gen.OutputTokens, gen.LatencyMS
	res.ModelReported, res.SystemFingerprint, res.RAGSnapshot = gen.Model, gen.SystemFingerprint, c.RAGSnapshot
	in := scorer.Input{Output: gen.Content, Reference: c.Row.Reference, Context: c.Row.Context, LatencyMS: gen.LatencyMS,
		Tokens: gen.InputTokens + gen.OutputTokens, CostError: c.PriceErr}
	if q := c.Row.Vars["question"]; q != "" {
		in.Question = q
	} else if n := len(c.Request.Messages); n > 0 {
		in.Question = c.Request.Messages[n-1].Content
	}
	if c.Price != nil {
		cost := prices.Cost(*c.Price, gen.InputTokens, gen.OutputTokens)
		in.CostUSD, res.CostUSD = &cost, &cost
	}
	res.Status = Pass
	for _, m := range c.Metrics {
		mr, err := e.scoreMetric(ctx, c, m, in)
		if err != nil { // a judge that cannot be reached or used: the run stops
			return res, err
		}
		res.Metrics[m.Name] = mr
		switch {
		case mr.Status == Error:
			res.Status = Error
		case mr.Status == Fail && res.Status == Pass:
			res.Status = Fail
		}
	}
	return res, nil
}

// scoreMetric scores one metric; a scorer failure is an ERROR result, and
// only a judge's configuration error (provider.ConfigError) is returned.
func (e *Engine) scoreMetric(ctx context.Context, c Case, m MetricSpec, in scorer.Input) (MetricResult, error) {
	bound, _ := m.caseBound()
	if (m.Settings.Scorer == "faithfulness" || m.Settings.Scorer == "context_recall") && len(in.Context) == 0 {
		in.Context = c.Retrieved
	}
	// Latency, tokens and cost depend on this run's measurement, not on inputs alone: never cached.
	cacheable := m.Settings.Scorer != "latency_ms" && m.Settings.Scorer != "cost_usd" && m.Settings.Scorer != "tokens" &&
		!(e.ephemeral && m.Settings.JudgeProvider == "")
	key := hashJSON([]string{c.GenKey, hashJSON(c.Row.Reference), hashJSON(in.Context), hashJSON(c.Row.Vars["question"]), m.Settings.Key()})
	var r scorer.Result
	cached := false
	if cacheable && !e.NoCache {
		if b, ok, _ := e.Store.GetRecord(ctx, KindScore, key); ok && json.Unmarshal(b, &r) == nil {
			cached = true
		}
	}
	if !cached {
		d := scorer.Deps{}
		if jp := m.Settings.JudgeProvider; jp != "" {
			if p, ok := e.Providers[jp]; ok {
				d.Judge = p
				d.Moderator, _ = p.(provider.Moderator)
				d.Embedder, _ = p.(provider.Embedder)
			}
		}
		var err error
		r, err = scorer.Score(ctx, m.Settings, in, d)
		if err != nil {
			if ce := (*provider.ConfigError)(nil); errors.As(err, &ce) {
				return MetricResult{Status: Error, Error: err.Error()}, err
			}
			return MetricResult{Status: Error, Error: err.Error()}, nil
		}
		if cacheable {
			b, _ := json.Marshal(r)
			_ = e.Store.PutRecord(ctx, KindScore, key, b)
		}
	}
	s := r.Score
	mr := MetricResult{Score: &s, Reason: r.Reason, Cached: cached, Pass: passes(m.Settings.Scorer, s, bound)}
	mr.Status = Fail
	if mr.Pass {
		mr.Status = Pass
	}
	return mr, nil
}
