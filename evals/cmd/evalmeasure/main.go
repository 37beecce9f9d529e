// Command evalmeasure measures cairn's offline scorers on labelled data:
//
//	go run ./evals/cmd/evalmeasure -toxicity ../shared/data/toxicity/surge-toxicity_en.csv \
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

func main() {
	tox := flag.String("toxicity", "", "CSV with columns text,is_toxic (Toxic | Not Toxic)")
	fact := flag.String("factuality", "", "TruthfulQA CSV")
	verbose := flag.Bool("v", false, "print misclassified rows")
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
		fmt.Println(m)
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
	}
}
