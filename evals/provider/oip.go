package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// OIPConfig is a model server speaking the Open Inference Protocol (KServe
// v2) REST API: POST {URL}/v2/models/{Model}[/versions/{version}]/infer.
type OIPConfig struct {
	URL       string
	Model     string
	Versioned bool   // call the version being evaluated (/versions/{version})
	InputName string // the matrix tensor's name (default "input-0")
	// Tensor is "matrix" (one FP64 tensor [rows, features]; every feature a
	// number) or "columns" (one tensor per feature column, FP64 or BYTES).
	Tensor      string
	Output      string // the output tensor read (default: the first)
	BatchSize   int    // rows per request (default 64)
	Concurrency int    // requests in flight (default 4)
	Timeout     time.Duration
	MaxRetries  int
	BackoffBase time.Duration
	MaxBackoff  time.Duration
}

// OIP scores feature rows on an Open Inference Protocol server, with the
// retry rules of the LLM providers: 429 (honouring Retry-After), 408, 5xx,
// timeouts and truncated bodies are retried with backoff; a refused
// connection, an unknown host, 401/403/404 or a 400 the server explains are
// not.
type OIP struct {
	cfg    OIPConfig
	client *http.Client
	sleep  func(ctx context.Context, d time.Duration) error
}

// NewOIP builds the client; defaults: batches of 64, 4 in flight, 30 s per
// request, 4 retries from a 200 ms backoff, 30 s max wait.
func NewOIP(cfg OIPConfig) (*OIP, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server url %q is not an http(s) URL", cfg.URL)
	}
	if cfg.InputName == "" {
		cfg.InputName = "input-0"
	}
	if cfg.Tensor == "" {
		cfg.Tensor = "matrix"
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 64
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 4
	}
	if cfg.BackoffBase <= 0 {
		cfg.BackoffBase = 200 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	// One transport: connections are reused across batches.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = cfg.Concurrency
	return &OIP{cfg: cfg, client: &http.Client{Transport: tr}, sleep: sleepCtx}, nil
}

// Feature is one cell sent to the model: a number, or text where Num is NaN
// (the "columns" tensor sends such a column as BYTES).
type Feature struct {
	Num  float64
	Text string
}

// Score sends rows (each a feature per input column, in order) in batches
// and returns, per row, the output tensor's values for that row (one value,
// or one per class). version is the model version asked for when the
// config is Versioned; a response naming another model_version is an error.
func (o *OIP) Score(ctx context.Context, version string, inputs []string, rows [][]Feature) ([][]float64, error) {
	// Text in a matrix tensor is the dataset's fault, not the server's: it is
	// found before any request, at its first row, whatever the concurrency.
	if o.cfg.Tensor != "columns" {
		for i, r := range rows {
			for j, f := range r {
				if math.IsNaN(f.Num) {
					return nil, fmt.Errorf("row %d: feature %q is %q, not a number: a matrix tensor takes numbers only (tensor: \"columns\" sends text as BYTES)", i+1, inputs[j], f.Text)
				}
			}
		}
	}
	out := make([][]float64, len(rows))
	type batch struct{ from, to int }
	var batches []batch
	for i := 0; i < len(rows); i += o.cfg.BatchSize {
		batches = append(batches, batch{i, min(i+o.cfg.BatchSize, len(rows))})
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan batch)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range min(o.cfg.Concurrency, max(len(batches), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range next {
				res, err := o.infer(ctx, version, inputs, rows[b.from:b.to], b.from)
				if err != nil {
					once.Do(func() { first = err; cancel() })
					continue
				}
				copy(out[b.from:b.to], res)
			}
		}()
	}
feed:
	for _, b := range batches {
		select {
		case next <- b:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if first != nil {
		return nil, first
	}
	return out, ctx.Err()
}

type oipTensor struct {
	Name     string `json:"name"`
	Shape    []int  `json:"shape"`
	Datatype string `json:"datatype"`
	Data     any    `json:"data"`
}

type oipResponse struct {
	ModelName    string `json:"model_name"`
	ModelVersion string `json:"model_version"`
	ID           string `json:"id"`
	Outputs      []struct {
		Name     string          `json:"name"`
		Shape    []int           `json:"shape"`
		Datatype string          `json:"datatype"`
		Data     json.RawMessage `json:"data"`
	} `json:"outputs"`
	Error string `json:"error"`
}

// httpStatusError is a non-200 answer: its status and the server's "error".
type httpStatusError struct {
	Status int
	Msg    string
	After  time.Duration
}

func (e *httpStatusError) Error() string {
	if e.Msg == "" {
		return fmt.Sprintf("HTTP %d", e.Status)
	}
	return fmt.Sprintf("HTTP %d: %s", e.Status, e.Msg)
}

func (o *OIP) endpoint(version string) string {
	p := "/v2/models/" + url.PathEscape(o.cfg.Model)
	if o.cfg.Versioned && version != "" {
		p += "/versions/" + url.PathEscape(version)
	}
	return strings.TrimRight(o.cfg.URL, "/") + p + "/infer"
}

func (o *OIP) body(inputs []string, rows [][]Feature, from int) ([]byte, error) {
	req := struct {
		ID      string      `json:"id"`
		Inputs  []oipTensor `json:"inputs"`
		Outputs []struct {
			Name string `json:"name"`
		} `json:"outputs,omitempty"`
	}{ID: "cairn-" + strconv.Itoa(from)}
	if o.cfg.Output != "" {
		req.Outputs = append(req.Outputs, struct {
			Name string `json:"name"`
		}{o.cfg.Output})
	}
	if o.cfg.Tensor == "columns" {
		for j, name := range inputs {
			nums, texts := make([]float64, len(rows)), []string(nil)
			for i, r := range rows {
				if math.IsNaN(r[j].Num) {
					texts = make([]string, len(rows))
					break
				}
				nums[i] = r[j].Num
			}
			if texts != nil {
				for i, r := range rows {
					texts[i] = r[j].Text
					if !math.IsNaN(r[j].Num) {
						texts[i] = strconv.FormatFloat(r[j].Num, 'g', -1, 64)
					}
				}
				req.Inputs = append(req.Inputs, oipTensor{Name: name, Shape: []int{len(rows)}, Datatype: "BYTES", Data: texts})
				continue
			}
			req.Inputs = append(req.Inputs, oipTensor{Name: name, Shape: []int{len(rows)}, Datatype: "FP64", Data: nums})
		}
		return json.Marshal(req)
	}
	flat := make([]float64, 0, len(rows)*len(inputs))
	for _, r := range rows {
		for _, f := range r {
			flat = append(flat, f.Num) // Score has refused text here
		}
	}
	req.Inputs = []oipTensor{{Name: o.cfg.InputName, Shape: []int{len(rows), len(inputs)}, Datatype: "FP64", Data: flat}}
	return json.Marshal(req)
}

func (o *OIP) infer(ctx context.Context, version string, inputs []string, rows [][]Feature, from int) ([][]float64, error) {
	body, err := o.body(inputs, rows, from)
	if err != nil {
		return nil, err
	}
	where := fmt.Sprintf("model server %s, rows %d–%d", o.endpoint(version), from+1, from+len(rows))
	for attempt := 0; ; attempt++ {
		res, err := o.post(ctx, version, body, len(rows))
		if err == nil {
			return res, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if attempt >= o.cfg.MaxRetries || !oipRetryable(err) {
			return nil, explainOIP(o.cfg, where, attempt+1, err)
		}
		var hs *httpStatusError
		wait := time.Duration(0)
		if errors.As(err, &hs) {
			wait = hs.After
		}
		if wait <= 0 {
			back := o.cfg.BackoffBase << attempt
			wait = back/2 + time.Duration(rand.Int64N(int64(back/2)+1))
		}
		if err := o.sleep(ctx, min(wait, o.cfg.MaxBackoff)); err != nil {
			return nil, err
		}
	}
}

// errShape is a response that does not hold one prediction per row.
var errShape = errors.New("bad response")

func (o *OIP) post(ctx context.Context, version string, body []byte, n int) ([][]float64, error) {
	actx, cancel := context.WithTimeout(ctx, o.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, o.endpoint(version), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := o.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, err
	}
	var r oipResponse
	jerr := json.Unmarshal(raw, &r)
	if resp.StatusCode != http.StatusOK {
		e := &httpStatusError{Status: resp.StatusCode, Msg: r.Error, After: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
		if jerr != nil || e.Msg == "" {
			e.Msg = strings.TrimSpace(string(raw[:min(len(raw), 200)]))
		}
		return nil, e
	}
	if jerr != nil {
		return nil, jerr
	}
	if o.cfg.Versioned && version != "" && r.ModelVersion != "" && r.ModelVersion != version {
		return nil, fmt.Errorf("%w: asked for version %s, the server answered with model_version %s", errShape, version, r.ModelVersion)
	}
	if len(r.Outputs) == 0 {
		return nil, fmt.Errorf("%w: no outputs", errShape)
	}
	out := r.Outputs[0]
	if o.cfg.Output != "" {
		found := false
		for _, x := range r.Outputs {
			if x.Name == o.cfg.Output {
				out, found = x, true
			}
		}
		if !found {
			return nil, fmt.Errorf("%w: no output %q", errShape, o.cfg.Output)
		}
	}
	var flat []float64
	if err := json.Unmarshal(out.Data, &flat); err != nil {
		// Tensor data may come in its natural, nested form.
		var nested [][]float64
		if err2 := json.Unmarshal(out.Data, &nested); err2 != nil {
			return nil, fmt.Errorf("%w: output %q data is not numbers (%s)", errShape, out.Name, out.Datatype)
		}
		for _, row := range nested {
			flat = append(flat, row...)
		}
	}
	if len(flat) == 0 || len(flat)%n != 0 {
		return nil, fmt.Errorf("%w: output %q has %d values for %d rows (shape %v)", errShape, out.Name, len(flat), n, out.Shape)
	}
	per := len(flat) / n
	res := make([][]float64, n)
	for i := range res {
		res[i] = flat[i*per : (i+1)*per]
	}
	return res, nil
}

func oipRetryable(err error) bool {
	var hs *httpStatusError
	if errors.As(err, &hs) {
		return hs.Status == 429 || hs.Status == 408 || hs.Status >= 500
	}
	if errors.Is(err, errShape) {
		return false
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && !dnsErr.IsTimeout && !dnsErr.IsTemporary || errors.Is(err, syscall.ECONNREFUSED) {
		return false
	}
	var netErr net.Error
	var syn *json.SyntaxError
	return errors.As(err, &netErr) || errors.As(err, &syn) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded)
}

// explainOIP names the server and the rows; a fault a person must fix is a
// ConfigError with a code, like the LLM providers'.
func explainOIP(cfg OIPConfig, where string, attempts int, err error) error {
	var dnsErr *net.DNSError
	var hs *httpStatusError
	ce := &ConfigError{Provider: "model server " + cfg.Model, Err: fmt.Errorf("%s: %w", where, err)}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		ce.Code, ce.Hint = "provider_unreachable", fmt.Sprintf("nothing listens at %s: is the model server running?", cfg.URL)
	case errors.As(err, &dnsErr) && !dnsErr.IsTimeout && !dnsErr.IsTemporary:
		ce.Code, ce.Hint = "provider_unknown_host", fmt.Sprintf("host %q not found: check predictions.server.url", dnsErr.Name)
	case errors.As(err, &hs) && (hs.Status == 401 || hs.Status == 403):
		ce.Code, ce.Hint = "provider_auth", "the server refused the request: cairn sends no credentials to model servers"
	case errors.As(err, &hs) && hs.Status == 404:
		ce.Code, ce.Hint = "provider_not_found", "not found: check predictions.server.model (and the version, with versioned: true)"
	default:
		if oipRetryable(err) {
			return fmt.Errorf("%s: gave up after %d attempts: %w", where, attempts, err)
		}
		return fmt.Errorf("%s: %w", where, err)
	}
	return ce
}
