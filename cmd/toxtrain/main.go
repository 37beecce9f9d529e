// Command toxtrain trains the offline toxicity classifier's linear model
// (logistic regression over hashed word and character n-grams, package
// evals/scorer) on the Davidson et al. tweets and the Surge AI set, holding
// out a fifth of each (the rows whose text hashes to 0 mod 5) that neither
// training nor cross-validation sees; `make measure` reports on them.
//
//	go run ./cmd/toxtrain -davidson ../shared/data/toxicity/davidson-labeled_data.csv \
//	    -surge ../shared/data/toxicity/surge-toxicity_en.csv -out evals/scorer/lexicon
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cairn-dev/cairn/evals/scorer"
)

const (
	epochs = 6
	lr0    = 0.8
	l2     = 1e-6
)

func main() {
	davidson := flag.String("davidson", "", "davidson-labeled_data.csv")
	surge := flag.String("surge", "", "surge-toxicity_en.csv")
	out := flag.String("out", "", "directory for toxlr.bin.gz and toxlr.json")
	flag.Parse()
	if *davidson == "" || *surge == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "toxtrain: give -davidson, -surge and -out")
		os.Exit(2)
	}
	var train []scorer.LabelledText
	prov := map[string]any{"model": "logistic regression, hashed word unigrams and bigrams and character 3-5-grams of the normalised tokens, 2^18 buckets, L2-normalised binary features",
		"epochs": epochs, "learning_rate": lr0, "l2": l2, "class_weights": "balanced", "held_out": "rows whose text hashes (FNV-1a 64) to 0 mod 5, in each set"}
	var sets []map[string]any
	for _, src := range []struct{ name, path string }{{"davidson", *davidson}, {"surge", *surge}} {
		rows, err := scorer.ReadLabelled(src.path)
		if err != nil {
			fail(err)
		}
		tr, ho := scorer.SplitHeldOut(rows)
		train = append(train, tr...)
		data, _ := os.ReadFile(src.path)
		sum := sha256.Sum256(data)
		sets = append(sets, map[string]any{"name": src.name, "file": filepath.Base(src.path), "sha256": hex.EncodeToString(sum[:]),
			"rows": len(rows), "train": len(tr), "held_out": len(ho)})
	}
	prov["data"] = sets
	cv := scorer.CrossValidate(train, 5, epochs, lr0, l2)
	prov["cross_validation_5_fold"] = cv
	fmt.Printf("5-fold CV on the training rows: %s\n", cv)
	m := scorer.TrainLRTexts(train, epochs, lr0, l2)
	var buf bytes.Buffer
	if err := scorer.WriteLRModel(&buf, m); err != nil {
		fail(err)
	}
	if err := os.WriteFile(filepath.Join(*out, "toxlr.bin.gz"), buf.Bytes(), 0o644); err != nil {
		fail(err)
	}
	j, _ := json.MarshalIndent(prov, "", "  ")
	if err := os.WriteFile(filepath.Join(*out, "toxlr.json"), append(j, '\n'), 0o644); err != nil {
		fail(err)
	}
	fmt.Printf("wrote %s (%d bytes) and toxlr.json\n", filepath.Join(*out, "toxlr.bin.gz"), buf.Len())
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "toxtrain:", err)
	os.Exit(1)
}
