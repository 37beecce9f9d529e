// Package training decides when a classic model is due for retraining, from
// its declared training.retrain_when and drift monitor and the evidence
// recorded in state, and fires the declared trigger once per piece of evidence.
package training

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/data"
)

// MetricEvidence is an observed metric of the served model version (from the
// registry's version metrics or an eval run), with the id of its evidence.
type MetricEvidence struct {
	Value      float64 `json:"value"`
	EvidenceID string  `json:"evidence_id"`
}

// Inputs are the latest evidence about a model.
type Inputs struct {
	Metrics map[string]MetricEvidence // by metric name
	Drift   *data.DriftResult         // the latest drift result (data.LatestDrift)
	Alerts  []AlertEvidence           // alerts received and not yet acted on (Alerts)
}

// Decision says whether retraining is due and on what evidence.
type Decision struct {
	Model   string   `json:"model"`
	Due     bool     `json:"due"`
	Reasons []string `json:"reasons"`
	// Evidence are the ids of the evidence that made it due, sorted.
	Evidence []string `json:"evidence"`
	// EvidenceID names the decision: the single evidence id, or sha256 over
	// the sorted ids joined by newlines. A trigger fires once per EvidenceID.
	EvidenceID string `json:"evidence_id,omitempty"`
}

// Decide applies the model's training.retrain_when (the metric strictly
// below its bound) and its monitoring.drift (drift evidence above the
// threshold, as data.Drift judged it). Drift evidence computed for another
// model, or with another method or threshold than declared now, is ignored:
// it does not speak for the current spec.
func Decide(m *compiler.Model, in Inputs) Decision {
	d := Decision{Model: m.Name, Reasons: []string{}, Evidence: []string{}}
	if m.Training != nil && m.Training.RetrainWhen != nil && m.Training.RetrainWhen.Alert != "" {
		for _, a := range in.Alerts {
			if a.Model == m.Name && a.Alert == m.Training.RetrainWhen.Alert {
				d.Reasons = append(d.Reasons, fmt.Sprintf("alert %s firing since %s (group %s)", a.Alert, a.StartsAt.Format(time.RFC3339), a.GroupKey))
				d.Evidence = append(d.Evidence, a.EvidenceID)
			}
		}
	}
	if m.Training != nil && m.Training.RetrainWhen != nil && m.Training.RetrainWhen.Metric != "" {
		rw := m.Training.RetrainWhen
		if ev, ok := in.Metrics[rw.Metric]; ok {
			if op, bound, due := rw.Due(ev.Value); due {
				d.Reasons = append(d.Reasons, fmt.Sprintf("metric %s = %g is %s %g", rw.Metric, ev.Value, map[string]string{"<": "below", ">": "above"}[op], bound))
				d.Evidence = append(d.Evidence, ev.EvidenceID)
			}
		}
	}
	if m.Monitoring != nil && m.Monitoring.Drift != nil && in.Drift != nil {
		mon, dr := m.Monitoring.Drift, in.Drift
		if dr.Model == m.Name && dr.Method == mon.Method && dr.Threshold == mon.Threshold && dr.Drifted {
			var parts []string
			for _, f := range dr.Features {
				if f.Drifted {
					parts = append(parts, fmt.Sprintf("%s %s %.4g > %g", f.Feature, dr.Method, f.Statistic, f.Threshold))
				}
			}
			d.Reasons = append(d.Reasons, "drift: "+strings.Join(parts, ", "))
			d.Evidence = append(d.Evidence, dr.EvidenceID)
		}
	}
	sort.Strings(d.Evidence)
	d.Due = len(d.Evidence) > 0
	switch len(d.Evidence) {
	case 0:
	case 1:
		d.EvidenceID = d.Evidence[0]
	default:
		h := sha256.Sum256([]byte(strings.Join(d.Evidence, "\n")))
		d.EvidenceID = "sha256:" + hex.EncodeToString(h[:])
	}
	return d
}
