// Package prices is cairn's dated LLM price catalog and cost arithmetic.
//
// catalog.json is generated (see internal/gen) from LiteLLM's
// model_prices_and_context_window.json at commit caddc6dd (2025-11-21, MIT,
// BerriAI/litellm); only models with both an input and an output price are kept.
// A model without a price is an error, never $0: a silent zero would let a
// budget policy pass on a model nobody priced.
package prices

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/shopspring/decimal"
)

// Price is what a model costs, in USD per million tokens.
type Price struct {
	InputUSDPerMTok  float64 `json:"input_usd_per_mtok"`
	OutputUSDPerMTok float64 `json:"output_usd_per_mtok"`
}

// Catalog is a dated table of model prices.
type Catalog struct {
	date   string
	source string
	commit string
	models map[string]Price
}

//go:embed catalog.json
var catalogJSON []byte

var (
	defaultOnce sync.Once
	defaultCat  *Catalog
)

// Default returns the embedded catalog.
func Default() *Catalog {
	defaultOnce.Do(func() {
		c, err := Parse(catalogJSON)
		if err != nil {
			panic("prices: embedded catalog is corrupt: " + err.Error()) // a build defect, caught by tests
		}
		defaultCat = c
	})
	return defaultCat
}

// Parse reads a catalog in the embedded format:
// {"date": "YYYY-MM-DD", "source": …, "commit": …, "models": {id: {"in": usd/Mtok, "out": usd/Mtok}}}.
func Parse(data []byte) (*Catalog, error) {
	var raw struct {
		Source string `json:"source"`
		Commit string `json:"commit"`
		Date   string `json:"date"`
		Models map[string]struct {
			In  *float64 `json:"in"`
			Out *float64 `json:"out"`
		} `json:"models"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("price catalog: %w", err)
	}
	if raw.Date == "" {
		return nil, fmt.Errorf("price catalog: no date")
	}
	c := &Catalog{date: raw.Date, source: raw.Source, commit: raw.Commit, models: make(map[string]Price, len(raw.Models))}
	for id, m := range raw.Models {
		if m.In == nil || m.Out == nil || *m.In < 0 || *m.Out < 0 {
			return nil, fmt.Errorf("price catalog: model %q: input and output prices must both be given and non-negative", id)
		}
		c.models[id] = Price{InputUSDPerMTok: *m.In, OutputUSDPerMTok: *m.Out}
	}
	return c, nil
}

// Date is the date of the catalog's source snapshot (YYYY-MM-DD).
func (c *Catalog) Date() string { return c.date }

// Source names where the catalog's prices come from.
func (c *Catalog) Source() string { return c.source + "@" + c.commit }

// Len is the number of priced models.
func (c *Catalog) Len() int { return len(c.models) }

// Lookup returns a model's price. Overrides (a provider's declared prices,
// keyed by model id) win, with source "provider"; otherwise the catalog is
// searched for the id as given, then without a routing prefix such as
// "openai/" or "azure/", and the source is "catalog:<date>".
func (c *Catalog) Lookup(modelID string, overrides map[string]Price) (p Price, source string, err error) {
	if modelID == "" {
		return Price{}, "", fmt.Errorf("no model id to price")
	}
	if p, ok := overrides[modelID]; ok {
		return p, "provider", nil
	}
	for _, id := range candidates(modelID) {
		if p, ok := c.models[id]; ok {
			return p, "catalog:" + c.date, nil
		}
	}
	msg := fmt.Sprintf("no price for model %q in the catalog of %s; declare prices.%q: {input_usd_per_mtok, output_usd_per_mtok} on its provider", modelID, c.date, modelID)
	if s := c.suggest(modelID); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return Price{}, "", fmt.Errorf("%s", msg)
}

func candidates(id string) []string {
	out := []string{id}
	lower := strings.ToLower(id)
	if lower != id {
		out = append(out, lower)
	}
	if i := strings.Index(lower, "/"); i >= 0 {
		out = append(out, lower[i+1:])
	}
	return out
}

// suggest returns the catalog id that shares the longest prefix with id, to
// turn a typo into a one-line fix.
func (c *Catalog) suggest(id string) string {
	id = strings.ToLower(id)
	best, bestN := "", 3
	ids := make([]string, 0, len(c.models))
	for k := range c.models {
		ids = append(ids, k)
	}
	sort.Strings(ids)
	for _, k := range ids {
		n := 0
		for n < len(k) && n < len(id) && k[n] == id[n] {
			n++
		}
		if n > bestN {
			best, bestN = k, n
		}
	}
	return best
}

var mtok = decimal.NewFromInt(1_000_000)

// CostDecimal is the exact USD cost of a request.
func CostDecimal(p Price, inputTokens, outputTokens int) decimal.Decimal {
	in := decimal.NewFromFloat(p.InputUSDPerMTok).Mul(decimal.NewFromInt(int64(inputTokens)))
	out := decimal.NewFromFloat(p.OutputUSDPerMTok).Mul(decimal.NewFromInt(int64(outputTokens)))
	return in.Add(out).Div(mtok)
}

// Cost is the USD cost of a request with the given token counts. It is
// computed in decimal so that sums of many small costs are exact.
func Cost(p Price, inputTokens, outputTokens int) float64 {
	f, _ := CostDecimal(p, inputTokens, outputTokens).Float64()
	return f
}

// Sum adds USD amounts exactly (avoiding float drift over thousands of cases).
func Sum(amounts ...float64) float64 {
	s := decimal.Zero
	for _, a := range amounts {
		s = s.Add(decimal.NewFromFloat(a))
	}
	f, _ := s.Float64()
	return f
}
