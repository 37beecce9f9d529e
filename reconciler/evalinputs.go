package reconciler

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/evals"
	"github.com/cairn-dev/cairn/prices"
	"github.com/cairn-dev/cairn/state"
)

// RecordEvalInputs is the record kind where apply notes what each eval
// run used besides the suite definition (which reconciler.EvalHash already
// covers): the judges with their provider settings, the resolved scorer
// settings and the price catalog. Key: "<eval> <subject> <eval hash>", the
// same triple LatestEvalRun looks a run up by.
// (The kind keeps its first name so that states written before keep their records.)
const RecordEvalInputs = "gitops.eval_inputs"

// EvalInputs is what an eval run depended on outside its suite definition.
type EvalInputs struct {
	Judges  []string `json:"judges"`  // "factuality: openai/gpt-4o (openai https://…)", sorted
	Scorers string   `json:"scorers"` // hash of the resolved per-metric scorer settings
	Catalog string   `json:"catalog"` // "2025-11-21 litellm@caddc6dd"
	Prices  []string `json:"prices"`  // "gpt-4o-mini in 0.15 out 0.6 per Mtok", sorted
}

// EvalInputsKey is the key of a run's inputs record.
func EvalInputsKey(eval, subject, evalHash string) string {
	return eval + " " + subject + " " + evalHash
}

// CurrentEvalInputs resolves what a run of suite would use now.
func CurrentEvalInputs(b *compiler.Bundle, suite string, cat *prices.Catalog) (EvalInputs, error) {
	if cat == nil {
		cat = prices.Default()
	}
	cases, err := evals.Plan(b, suite, cat)
	if err != nil {
		return EvalInputs{}, err
	}
	in := EvalInputs{Judges: []string{}, Prices: []string{}, Catalog: cat.Date() + " " + cat.Source()}
	judges, priced := map[string]bool{}, map[string]bool{}
	var settings []evals.MetricSpec
	for i, c := range cases {
		if i == 0 {
			settings = c.Metrics
		}
		for _, m := range c.Metrics {
			if m.Settings.JudgeProvider == "" {
				continue
			}
			j := fmt.Sprintf("%s: %s/%s", m.Name, m.Settings.JudgeProvider, m.Settings.JudgeModel)
			if p := b.Providers[m.Settings.JudgeProvider]; p != nil {
				j += fmt.Sprintf(" (%s %s)", p.Kind, p.BaseURL)
			}
			judges[j] = true
		}
		switch {
		case c.Price != nil:
			priced[fmt.Sprintf("%s in %g out %g per Mtok", c.Request.Model, c.Price.InputUSDPerMTok, c.Price.OutputUSDPerMTok)] = true
		case c.PriceErr != "":
			priced[c.Request.Model+": "+c.PriceErr] = true
		}
	}
	for j := range judges {
		in.Judges = append(in.Judges, j)
	}
	for p := range priced {
		in.Prices = append(in.Prices, p)
	}
	sort.Strings(in.Judges)
	sort.Strings(in.Prices)
	s, _ := json.Marshal(settings)
	in.Scorers = state.HashBytes(s)
	return in, nil
}

// StaleReasons says how then differs from now; empty when it does not.
func StaleReasons(then, now EvalInputs) []string {
	var why []string
	if strings.Join(then.Judges, "; ") != strings.Join(now.Judges, "; ") {
		why = append(why, fmt.Sprintf("judge changed from [%s] to [%s]", orNone(then.Judges), orNone(now.Judges)))
	}
	if then.Scorers != now.Scorers {
		why = append(why, "scorer settings changed")
	}
	if then.Catalog != now.Catalog {
		why = append(why, fmt.Sprintf("price catalog changed from %s to %s", then.Catalog, now.Catalog))
	}
	if strings.Join(then.Prices, "; ") != strings.Join(now.Prices, "; ") {
		why = append(why, fmt.Sprintf("prices changed from [%s] to [%s]", orNone(then.Prices), orNone(now.Prices)))
	}
	return why
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, "; ")
}
