// Package promtest starts the real Prometheus server (Debian's prometheus,
// installed by `make tools`) on loopback for a test, scraping targets the
// test serves, with a temporary data directory and a short scrape interval.
package promtest

import (
	"encoding/json"
	"net/http/httptest"
	"sync"

	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cairn-dev/cairn/internal/tooltest"
)

// Start runs Prometheus scraping each target URL's /metrics every 500 ms
// and returns its base URL once it is ready. It stops with the test.
func Start(t testing.TB, targets ...string) string {
	t.Helper()
	bin := tooltest.Find(t, "apt-get install prometheus (make tools)", "prometheus")
	dir := t.TempDir()
	var hosts []string
	for _, tg := range targets {
		u, err := url.Parse(tg)
		if err != nil {
			t.Fatal(err)
		}
		hosts = append(hosts, fmt.Sprintf("%q", u.Host))
	}
	cfg := fmt.Sprintf("global:\n  scrape_interval: 500ms\n  evaluation_interval: 500ms\nscrape_configs:\n  - job_name: test\n    static_configs:\n      - targets: [%s]\n", strings.Join(hosts, ", "))
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	return serve(t, "prometheus", dir, addr, bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
}

// serve runs a server binary until the test ends, logging to dir, and
// returns its base URL once /-/ready answers 200 (Prometheus and
// Alertmanager both serve it); its log is shown when the test failed.
func serve(t testing.TB, name, dir, addr, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	logPath := filepath.Join(dir, name+".log")
	log, _ := os.Create(logPath)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("%s log:\n%s", name, b)
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if r, err := http.Get(base + "/-/ready"); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return base
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s at %s not ready in 30 s", name, base)
	return ""
}

func freePort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// ModelServer is a small model server's /metrics:
// model_requests_total{deployment, version, code} counting predictions at
// the rates the test sets per version (every 50 ms).
type ModelServer struct {
	URL   string
	reqs  *prometheus.CounterVec
	mu    sync.Mutex
	rates map[[2]string][2]int // deployment, version → (ok, errors) per tick
}

// NewModelServer serves /metrics on loopback until the test ends.
func NewModelServer(t testing.TB) *ModelServer {
	m := &ModelServer{rates: map[[2]string][2]int{}}
	reg := prometheus.NewRegistry()
	m.reqs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "model_requests_total", Help: "Predictions served."}, []string{"deployment", "version", "code"})
	reg.MustRegister(m.reqs)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	m.URL = srv.URL
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			m.mu.Lock()
			for k, r := range m.rates {
				m.reqs.WithLabelValues(k[0], k[1], "200").Add(float64(r[0]))
				m.reqs.WithLabelValues(k[0], k[1], "500").Add(float64(r[1]))
			}
			m.mu.Unlock()
		}
	}()
	return m
}

// Serve sets a version's successful and failed requests per 50 ms.
func (m *ModelServer) Serve(deployment, version string, ok, errs int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rates[[2]string{deployment, version}] = [2]int{ok, errs}
	// Every series exists from the start, as a real server's would.
	m.reqs.WithLabelValues(deployment, version, "200")
	m.reqs.WithLabelValues(deployment, version, "500")
}

// WaitForRates waits until Prometheus at base has a non-zero rate over
// window for at least n series of model_requests_total.
func WaitForRates(t testing.TB, base, window string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	q := url.Values{"query": {fmt.Sprintf("count(rate(model_requests_total[%s]) > 0) >= %d", window, n)}}
	for time.Now().Before(deadline) {
		if r, err := http.Get(base + "/api/v1/query?" + q.Encode()); err == nil {
			var body struct {
				Data struct {
					Result []any `json:"result"`
				} `json:"data"`
			}
			json.NewDecoder(r.Body).Decode(&body)
			r.Body.Close()
			if len(body.Data.Result) > 0 {
				return
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("prometheus at %s has fewer than %d rates after 30 s", base, n)
}

// StartAlertmanager runs the real Alertmanager (Debian's
// prometheus-alertmanager) on loopback, routing every alert at once to a
// webhook at hook with the bearer token, and resending every second. It
// returns its base URL and the configuration file (for amtool).
func StartAlertmanager(t testing.TB, hook, token string) (base, config string) {
	t.Helper()
	bin := tooltest.Find(t, "apt-get install prometheus-alertmanager (make tools)", "prometheus-alertmanager", "alertmanager")
	dir := t.TempDir()
	config = filepath.Join(dir, "alertmanager.yml")
	cfg := fmt.Sprintf(`route:
  receiver: cairn
  group_by: [alertname, model]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1s
receivers:
  - name: cairn
    webhook_configs:
      - url: %q
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: %q
`, hook, token)
	if err := os.WriteFile(config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr, cluster := freePort(t), freePort(t)
	base = serve(t, "alertmanager", dir, addr, bin, "--config.file="+config, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address="+cluster, "--log.level=warn")
	return base, config
}

// FireAlert posts one firing alert to Alertmanager's v2 API.
func FireAlert(t testing.TB, base string, labels map[string]string) {
	t.Helper()
	body, _ := json.Marshal([]map[string]any{{"labels": labels, "annotations": map[string]string{"summary": "raised by a test"},
		"startsAt": time.Now().UTC().Format(time.RFC3339)}})
	r, err := http.Post(base+"/api/v2/alerts", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 200 {
		t.Fatalf("alertmanager refused the alert: HTTP %d", r.StatusCode)
	}
}
