package gitops

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/cairn-dev/cairn/compliance"
	"github.com/cairn-dev/cairn/data"
	"github.com/cairn-dev/cairn/targets"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the reconciler's Prometheus metrics, on their own registry so
// that embedding cairn never collides with a host program's metrics.
type Metrics struct {
	Registry *prometheus.Registry
	runs     *prometheus.CounterVec
	duration prometheus.Histogram
	actions  *prometheus.CounterVec
	drift    *prometheus.GaugeVec
	evalCost prometheus.Counter
	leader   prometheus.Gauge
	lastOK   prometheus.Gauge
	figures  *prometheus.GaugeVec
	items    *prometheus.GaugeVec
}

// NewMetrics registers the metrics on a fresh registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cairn_reconcile_runs_total",
			Help: "Reconcile runs by result (applied, noop, blocked, skipped, denied, invalid, error, interrupted, standby)."}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "cairn_reconcile_run_duration_seconds",
			Help: "Duration of reconcile runs.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 14)}),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cairn_reconcile_actions_total",
			Help: "Plan actions applied by reconcile, by kind."}, []string{"kind"}),
		drift: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "cairn_reconcile_drift_items",
			Help: "Drift items found by the last reconcile run, by kind."}, []string{"kind"}),
		evalCost: prometheus.NewCounter(prometheus.CounterOpts{Name: "cairn_reconcile_eval_cost_usd_total",
			Help: "USD spent on eval runs started by reconcile."}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{Name: "cairn_reconcile_leader",
			Help: "1 when this reconciler is the leader, 0 on standby."}),
		lastOK: prometheus.NewGauge(prometheus.GaugeOpts{Name: "cairn_reconcile_last_success_timestamp_seconds",
			Help: "Unix time of the last reconcile run that did not fail."}),
		figures: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "cairn_operating_metric",
			Help: "Operating metrics over the 90 days before the last reconcile run (cairn metrics): metric is the figure's name, stat value, p90 or n; units as the figure's (count, ratio, hours, usd)."},
			[]string{"metric", "stat"}),
		items: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "cairn_compliance_items",
			Help: "Rows of the compliance report of the last reconcile run, per declared AI system and framework, by status (evidenced, partial, missing, manual, not_applicable)."},
			[]string{"system", "framework", "status"}),
	}
	m.Registry.MustRegister(m.runs, m.duration, m.actions, m.drift, m.evalCost, m.leader, m.lastOK, m.figures, m.items)
	for _, k := range DriftKinds {
		m.drift.WithLabelValues(string(k)).Set(0)
	}
	return m
}

func (m *Metrics) observe(r *Run) {
	if m == nil {
		return
	}
	m.runs.WithLabelValues(r.Result).Inc()
	if r.Result == ResultStandby {
		m.leader.Set(0)
		return
	}
	m.leader.Set(1)
	m.duration.Observe(r.Finished.Sub(r.Started).Seconds())
	for _, a := range r.Applied {
		m.actions.WithLabelValues(string(a.Type)).Inc()
	}
	counts := map[DriftKind]int{}
	for _, d := range r.Drift {
		counts[d.Kind]++
	}
	if r.Result != ResultError && r.Result != ResultInvalid {
		for _, k := range DriftKinds {
			m.drift.WithLabelValues(string(k)).Set(float64(counts[k]))
		}
		m.lastOK.Set(float64(r.Finished.Unix()))
	}
	m.evalCost.Add(r.EvalCostUSD)
	if c := r.Compliance; c != nil {
		m.items.Reset()
		for _, s := range c.Systems {
			for _, fw := range s.Frameworks {
				n := map[string]int{}
				for _, row := range fw.Rows {
					n[row.Status]++
				}
				for _, st := range []string{compliance.Evidenced, compliance.Partial, compliance.Missing, compliance.Manual, compliance.NotApplicable} {
					m.items.WithLabelValues(s.Name, fw.Framework, st).Set(float64(n[st]))
				}
			}
		}
	}
	if r.Operating != nil {
		m.figures.Reset()
		for _, f := range r.Operating.Figures {
			m.figures.WithLabelValues(f.Name, "n").Set(float64(f.N))
			if f.Value != nil {
				m.figures.WithLabelValues(f.Name, "value").Set(*f.Value)
			}
			if f.P90 != nil {
				m.figures.WithLabelValues(f.Name, "p90").Set(*f.P90)
			}
		}
	}
}

// driftDesc is the gauge the rendered drift alerts read
// (targets.DriftMetric): the latest drift statistic `cairn drift` recorded
// for each model's feature, by the monitor's method.
var driftDesc = prometheus.NewDesc(targets.DriftMetric,
	"Latest drift statistic of a model's feature as `cairn drift` recorded it (PSI for method psi; KS D or total variation distance for ks).",
	[]string{"model", "feature", "method"}, nil)

// driftCollector reads the drift evidence from the state at each scrape,
// so the gauge is what the state holds now, whichever process recorded it
// (a CI job running `cairn drift`, another reconciler).
type driftCollector struct{ st data.Store }

func (driftCollector) Describe(ch chan<- *prometheus.Desc) { ch <- driftDesc }

func (c driftCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	recs, err := c.st.ListRecords(ctx, data.KindDriftLatest, "")
	if err != nil {
		ch <- prometheus.NewInvalidMetric(driftDesc, err)
		return
	}
	for _, model := range slices.Sorted(maps.Keys(recs)) {
		var r data.DriftResult
		if err := json.Unmarshal(recs[model], &r); err != nil {
			ch <- prometheus.NewInvalidMetric(driftDesc, fmt.Errorf("drift evidence of %s: %w", model, err))
			continue
		}
		for _, f := range r.Features {
			ch <- prometheus.MustNewConstMetric(driftDesc, prometheus.GaugeValue, f.Statistic, r.Model, f.Feature, r.Method)
		}
	}
}

// Health is the /healthz document.
type Health struct {
	OK   bool   `json:"ok"`
	Role string `json:"role"` // "leader" | "standby" | "starting"
	// With leader election: this reconciler's ID and who leads now ("" when
	// nobody does; LeaderError when that could not be read).
	ID          string    `json:"id,omitempty"`
	Leader      string    `json:"leader,omitempty"`
	LeaderError string    `json:"leader_error,omitempty"`
	Commit      string    `json:"commit,omitempty"`
	LastRun     *RunBrief `json:"last_run,omitempty"`
}

// RunBrief is a run in /healthz.
type RunBrief struct {
	Result     string    `json:"result"`
	Commit     string    `json:"commit,omitempty"`
	Started    time.Time `json:"started"`
	DurationMS int64     `json:"duration_ms"`
	Applied    int       `json:"applied"`
	Blocked    int       `json:"blocked"`
	Drift      int       `json:"drift"`
	Error      string    `json:"error,omitempty"`
}

type healthState struct {
	mu     sync.Mutex
	last   *Run
	commit string // the last commit reconciled successfully
}

func (h *healthState) set(r *Run) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last = r
	if r.Commit.SHA != "" && r.Result != ResultError && r.Result != ResultInvalid && r.Result != ResultStandby {
		h.commit = r.Commit.SHA
	}
}

func (h *healthState) get() Health {
	h.mu.Lock()
	defer h.mu.Unlock()
	hs := Health{OK: true, Role: "starting", Commit: h.commit}
	if r := h.last; r != nil {
		hs.Role = "leader"
		if r.Result == ResultStandby {
			hs.Role = "standby"
		}
		hs.OK = r.Result != ResultError && r.Result != ResultInvalid
		hs.LastRun = &RunBrief{Result: r.Result, Commit: r.Commit.SHA, Started: r.Started.UTC(), DurationMS: r.Finished.Sub(r.Started).Milliseconds(),
			Applied: len(r.Applied), Blocked: len(r.Blocked), Drift: len(r.Drift), Error: r.Error}
	}
	return hs
}

// Handler serves /metrics and /healthz (503 while the last run failed, so a
// Kubernetes probe or an alert notices).
func (r *Reconciler) Handler() http.Handler {
	mux := http.NewServeMux()
	if r.cfg.Metrics != nil {
		mux.Handle("/metrics", promhttp.HandlerFor(r.cfg.Metrics.Registry, promhttp.HandlerOpts{}))
	}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, req *http.Request) {
		h := r.health.get()
		if li, ok := r.cfg.Leader.(LeaderInfo); ok {
			// The live role, not the last run's: a standby that just took
			// over says so before its first run as leader ends.
			h.ID = li.ID()
			if li.IsLeader() {
				h.Role, h.Leader = "leader", li.ID()
			} else {
				h.Role = "standby"
				ctx, cancel := context.WithTimeout(req.Context(), 2*time.Second)
				who, err := li.Leader(ctx)
				cancel()
				h.Leader = who
				if err != nil {
					h.LeaderError = err.Error()
				}
			}
		}
		w.Header().Set("Content-Type", "application/json")
		if !h.OK {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(h)
	})
	if r.cfg.Alerts != nil {
		mux.Handle(AlertsPath, r.cfg.Alerts)
	}
	return mux
}

// AlertsPath is where Alertmanager's webhook_config posts (with --listen
// and a webhook token or secret).
const AlertsPath = "/v1/alertmanager"
