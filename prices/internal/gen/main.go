// Command gen rebuilds catalog.json, the embedded price catalog, from LiteLLM's
// model_prices_and_context_window.json:
//
//	go run ./prices/internal/gen -in ../shared/data/prices/litellm-model-prices.json \
//	    -date 2025-11-21 -commit caddc6dd0fc26931b3fcc4e91e81a3d90080f3ef -out prices/catalog.json
//
// Only models with both an input and an output per-token price are kept, and
// prices are converted to USD per million tokens with exact decimal arithmetic.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"log"
	"os"
	"sort"

	"github.com/shopspring/decimal"
)

type entry struct {
	In  json.Number `json:"input_cost_per_token"`
	Out json.Number `json:"output_cost_per_token"`
}

type model struct {
	In  json.Number `json:"in"`
	Out json.Number `json:"out"`
}

type catalog struct {
	Source string           `json:"source"`
	Commit string           `json:"commit"`
	Date   string           `json:"date"`
	Models map[string]model `json:"models"`
}

func main() {
	in := flag.String("in", "", "LiteLLM prices JSON")
	out := flag.String("out", "catalog.json", "output")
	date := flag.String("date", "", "date of the source snapshot (YYYY-MM-DD)")
	commit := flag.String("commit", "", "source commit")
	flag.Parse()
	raw, err := os.ReadFile(*in)
	if err != nil {
		log.Fatal(err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		log.Fatal(err)
	}
	c := catalog{Source: "BerriAI/litellm model_prices_and_context_window.json", Commit: *commit, Date: *date, Models: map[string]model{}}
	mtok := decimal.NewFromInt(1_000_000)
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var e entry
		d := json.NewDecoder(bytes.NewReader(all[k]))
		d.UseNumber()
		if k == "sample_spec" || d.Decode(&e) != nil || e.In == "" || e.Out == "" {
			continue
		}
		i, err1 := decimal.NewFromString(string(e.In))
		o, err2 := decimal.NewFromString(string(e.Out))
		if err1 != nil || err2 != nil {
			continue
		}
		c.Models[k] = model{In: json.Number(i.Mul(mtok).String()), Out: json.Number(o.Mul(mtok).String())}
	}
	b, err := json.MarshalIndent(c, "", " ")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
		log.Fatal(err)
	}
	log.Printf("%d models", len(c.Models))
}
