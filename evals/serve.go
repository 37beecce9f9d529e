package evals

import (
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/data"
	"github.com/cairn-dev/cairn/evals/classic"
	"github.com/cairn-dev/cairn/evals/provider"
	"github.com/cairn-dev/cairn/limits"
)

// Column names of the scores a model server fills in.
const (
	servedScore     = "cairn_score"
	servedPredicted = "cairn_predicted"
	servedProb      = "cairn_p"
)

// scoreOnServer sends the features file's rows to the eval's model server
// (version's endpoint with versioned: true) and writes a predictions file:
// the columns the metrics need and the server's scores. It returns the
// file (the caller removes it) and the spec that reads it. The features
// file is CSV or Parquet, read as a stream; the rows are held while scored.
func scoreOnServer(ctx context.Context, b *compiler.Bundle, ev *compiler.Eval, version string, spec classic.Spec) (string, classic.Spec, error) {
	srv := ev.Predictions.Server
	cfg := provider.OIPConfig{URL: srv.URL, Model: srv.Model, Versioned: srv.Versioned, InputName: srv.InputName, Tensor: srv.Tensor,
		Output: srv.Output, BatchSize: srv.BatchSize, Concurrency: srv.Concurrency, Timeout: time.Duration(srv.TimeoutSeconds * float64(time.Second))}
	if srv.MaxRetries != nil {
		cfg.MaxRetries = *srv.MaxRetries
		if cfg.MaxRetries == 0 {
			cfg.MaxRetries = -1 // NewOIP reads 0 as "the default"; the spec's 0 means none
		}
	}
	client, err := provider.NewOIP(cfg)
	if err != nil {
		return "", spec, err
	}
	keep := []string{spec.Label}
	for _, c := range append(append([]string{spec.Weight, spec.ID}, spec.Columns()...), spec.Query) {
		if c != "" && !slices.Contains(keep, c) {
			keep = append(keep, c)
		}
	}
	cols := append(slices.Clone(srv.Inputs), keep...)
	r, err := data.Open(filepath.Join(b.Root, filepath.FromSlash(ev.Dataset)), cols)
	if err != nil {
		return "", spec, err
	}
	defer r.Close()
	var feats [][]provider.Feature
	var kept [][]string
	for r.Next() {
		if int64(len(feats)) >= limits.Get().Rows {
			return "", spec, &limits.Exceeded{What: fmt.Sprintf("%s: more than %d rows", ev.Dataset, limits.Get().Rows), Flag: "max-rows", Max: strconv.FormatInt(limits.Get().Rows, 10)}
		}
		f := make([]provider.Feature, len(srv.Inputs))
		for i := range srv.Inputs {
			v := r.Value(i)
			if v.IsNull() {
				return "", spec, &classic.RowError{Path: ev.Dataset, Row: r.Row(), Msg: fmt.Sprintf("no value in feature column %q", srv.Inputs[i])}
			}
			f[i] = provider.Feature{Num: math.NaN(), Text: v.Key()}
			if n, ok := v.Number(); ok {
				f[i].Num = n
			} else if n, err := strconv.ParseFloat(v.Key(), 64); err == nil && !math.IsInf(n, 0) && !math.IsNaN(n) {
				f[i].Num = n // CSV cells are text until read as numbers
			}
		}
		k := make([]string, len(keep))
		for i := range keep {
			if v := r.Value(len(srv.Inputs) + i); !v.IsNull() {
				k[i] = v.Key()
			}
		}
		feats, kept = append(feats, f), append(kept, k)
	}
	if err := r.Err(); err != nil {
		return "", spec, err
	}
	scores, err := client.Score(ctx, version, srv.Inputs, feats)
	if err != nil {
		return "", spec, err
	}
	out, err := os.CreateTemp("", "cairn-served-*.csv")
	if err != nil {
		return "", spec, err
	}
	defer out.Close()
	w := csv.NewWriter(out)
	header := slices.Clone(keep)
	switch spec.Task {
	case classic.TaskMulticlass:
		spec.Probabilities = nil
		for i := range spec.Classes {
			spec.Probabilities = append(spec.Probabilities, fmt.Sprint(servedProb, i))
		}
		header = append(header, spec.Probabilities...)
	case classic.TaskRegression:
		spec.Predicted = servedPredicted
		header = append(header, servedPredicted)
	default:
		spec.Score = servedScore
		header = append(header, servedScore)
	}
	w.Write(header)
	for i, s := range scores {
		row := slices.Clone(kept[i])
		want := 1
		if spec.Task == classic.TaskMulticlass {
			want = len(spec.Classes)
		}
		switch {
		case len(s) == want:
		case spec.Task == "" || spec.Task == classic.TaskClassification:
			if len(s) != 2 {
				return "", spec, fmt.Errorf("%s row %d: the server gave %d values; a binary classifier gives the positive class's probability, or both classes'", ev.Dataset, i+1, len(s))
			}
			s = s[1:] // [P(negative), P(positive)]
		default:
			return "", spec, fmt.Errorf("%s row %d: the server gave %d values, the eval expects %d", ev.Dataset, i+1, len(s), want)
		}
		for _, v := range s {
			row = append(row, strconv.FormatFloat(v, 'g', -1, 64))
		}
		w.Write(row)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return "", spec, err
	}
	return out.Name(), spec, out.Close()
}
