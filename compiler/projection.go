package compiler

import (
	"maps"
	"slices"

	"github.com/shopspring/decimal"

	"github.com/cairn-dev/cairn/prices"
)

// CodePrice: an LLM deployment whose model has no price. A missing price is
// an error, never $0, or a budget policy would pass on a model nobody priced.
const CodePrice = "E096"

// projections derives each LLM deployment's projected cost from its declared
// traffic and its model's price (the eval runner's cost code, the same catalog).
func (r *resolver) projections() {
	cat := prices.Default()
	for _, n := range slices.Sorted(maps.Keys(r.b.Deployments)) {
		d := r.b.Deployments[n]
		if d.Kind != "llm" || d.Traffic == nil {
			continue
		}
		var providerName, modelID string
		in, out := d.Traffic.AvgInputTokens, d.Traffic.AvgOutputTokens
		if p := r.b.Prompts[d.Prompt]; p != nil {
			providerName, modelID = p.Model.Provider, p.Model.ID
			if in == 0 {
				in = p.TemplateTokens // the template is the least a request sends
			}
			if out == 0 {
				out = p.Model.MaxTokens // the most a reply may cost
			}
		} else if m := r.b.Models[d.Model]; m != nil {
			providerName, modelID = m.Provider, m.ModelID
		}
		var overrides map[string]prices.Price
		if prov := r.b.Providers[providerName]; prov != nil {
			overrides = map[string]prices.Price{}
			for id, p := range prov.Prices {
				overrides[id] = prices.Price{InputUSDPerMTok: p.InputUSDPerMTok, OutputUSDPerMTok: p.OutputUSDPerMTok}
			}
		}
		price, source, err := cat.Lookup(modelID, overrides)
		if err != nil {
			r.errf(CodePrice, "deployments/"+n, "traffic", "cannot project the cost of deployment %s: %v", n, err)
			continue
		}
		perReq := prices.CostDecimal(price, in, out)
		perDay := perReq.Mul(decimal.NewFromInt(int64(d.Traffic.RequestsPerDay)))
		d.Projection = &Projection{
			ModelID:          modelID,
			InputTokens:      in,
			OutputTokens:     out,
			USDPerRequest:    round(perReq, 8),
			USDPer1kRequests: round(perReq.Mul(decimal.NewFromInt(1000)), 6),
			USDPerMonth:      round(perDay.Mul(decimal.NewFromInt(30)), 2),
			PriceSource:      source,
		}
	}
}

func round(d decimal.Decimal, places int32) float64 {
	f, _ := d.Round(places).Float64()
	return f
}
