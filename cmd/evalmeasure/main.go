// Command evalmeasure measures cairn's offline scorers on labelled data:
//
//	go run ./cmd/evalmeasure -toxicity ../shared/data/toxicity/surge-toxicity_en.csv \
//	    -factuality ../shared/data/factuality/truthfulqa-first600.csv
//
// It prints precision, recall and F1 of the offline toxicity classifier, and
// the accuracy of the offline factuality heuristic on TruthfulQA answer pairs
// (Best Answer as the reference; each Correct Answer should score factual,
// each Incorrect Answer not).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/cairn-dev/cairn/evals/scorer"
)

var heldOut []string

func main() {
	tox := flag.String("toxicity", "", "CSV with columns text,is_toxic (Toxic | Not Toxic)")
	fact := flag.String("factuality", "", "TruthfulQA CSV")
	verbose := flag.Bool("v", false, "print misclassified rows")
	flag.Func("toxicity-heldout", "another labelled toxicity set to report on its held-out fifth (repeatable)", func(s string) error {
		heldOut = append(heldOut, s)
		return nil
	})
	flag.Parse()
	if *tox == "" && *fact == "" {
		fmt.Fprintln(os.Stderr, "evalmeasure: give -toxicity and/or -factuality")
		os.Exit(2)
	}
	if *tox != "" {
		m, err := scorer.MeasureToxicity(*tox)
		if err != nil {
			fmt.Fprintln(os.Stderr, "evalmeasure:", err)
			os.Exit(1)
		}
		if *verbose {
			for _, line := range m.Misses {
				fmt.Println(line)
			}
		}
		fmt.Println("all rows (the lexicon was tuned on these):", m)
		for _, set := range append([]string{*tox}, heldOut...) {
			h, err := scorer.MeasureToxicityHeldOut(set)
			if err != nil {
				fmt.Fprintln(os.Stderr, "evalmeasure:", err)
				os.Exit(1)
			}
			fmt.Println(h)
		}
	}
	if *fact != "" {
		m, err := scorer.MeasureFactuality(*fact)
		if err != nil {
			fmt.Fprintln(os.Stderr, "evalmeasure:", err)
			os.Exit(1)
		}
		if *verbose {
			for _, line := range m.Misses {
				fmt.Println(line)
			}
		}
		fmt.Println(m)
		h, err := scorer.MeasureFactualityHeldOut(*fact)
		if err != nil {
			fmt.Fprintln(os.Stderr, "evalmeasure:", err)
			os.Exit(1)
		}
		fmt.Println(h)
	}
}
