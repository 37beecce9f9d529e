package training

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/data"
)

// KindTrigger is the state record of a fired trigger, key "<model>/<evidence id>".
const KindTrigger = "training.trigger"

// Payload is the JSON body posted to a training webhook.
type Payload struct {
	Model        string   `json:"model"`
	EvidenceID   string   `json:"evidence_id"`
	Reasons      []string `json:"reasons"`
	Evidence     []string `json:"evidence"`
	TrainingData string   `json:"training_data,omitempty"`
	Window       string   `json:"window,omitempty"`
	BundleHash   string   `json:"bundle_hash,omitempty"`
}

// PayloadFor builds the webhook payload of a due decision.
func PayloadFor(d Decision, t *compiler.Training, bundleHash string) Payload {
	p := Payload{Model: d.Model, EvidenceID: d.EvidenceID, Reasons: d.Reasons, Evidence: d.Evidence, BundleHash: bundleHash}
	if t != nil {
		p.TrainingData, p.Window = t.Data, t.Window
	}
	return p
}

// Firer posts training webhooks at most once per (model, evidence id),
// recording each in the state store.
type Firer struct {
	Store  data.Store
	Client *http.Client // default: a client with a 10 s timeout
	// Attempts is the number of tries on 5xx, 429 and transport errors (default 4).
	Attempts int
	// Backoff is the first retry delay, doubled each time (default 500 ms);
	// a Retry-After header in seconds takes precedence.
	Backoff time.Duration
	// Now stamps the record; nil records no time (deterministic output).
	Now func() time.Time
}

// TriggerRecord is what the state holds for one trigger.
type TriggerRecord struct {
	Model      string `json:"model"`
	EvidenceID string `json:"evidence_id"`
	Status     string `json:"status"` // claimed | fired | failed
	Attempts   int    `json:"attempts"`
	// Failures counts the deliveries that failed, across calls: later
	// applies back off by it.
	Failures   int    `json:"failures,omitempty"`
	HTTPStatus int    `json:"http_status,omitempty"`
	Error      string `json:"error,omitempty"`
	At         string `json:"at,omitempty"`
}

// FireResult reports what FireWebhook did.
type FireResult struct {
	Fired      bool   // this call delivered the webhook
	Already    string // non-empty when an earlier call owns it: "fired" or "claimed"
	Attempts   int
	HTTPStatus int
}

// FireWebhook posts the payload as JSON to url unless the trigger for
// (p.Model, p.EvidenceID) was already fired or is being fired: the claim is
// taken with PutRecordOnce before posting, so two calls (or two reconcilers
// sharing a state store) post once. A failed delivery is recorded as failed
// and a later call retries it. The request carries an Idempotency-Key header
// (the evidence id) so the receiver can also deduplicate. Error messages
// never contain the URL, which may embed a token.
func (f *Firer) FireWebhook(ctx context.Context, url string, p Payload) (FireResult, error) {
	if p.Model == "" || p.EvidenceID == "" {
		return FireResult{}, fmt.Errorf("training trigger: payload needs a model and an evidence id")
	}
	key := p.Model + "/" + p.EvidenceID
	rec := TriggerRecord{Model: p.Model, EvidenceID: p.EvidenceID, Status: "claimed", At: f.now()}
	claimed, err := f.Store.PutRecordOnce(ctx, KindTrigger, key, mustJSON(rec))
	if err != nil {
		return FireResult{}, fmt.Errorf("training trigger %s: claim: %w", key, err)
	}
	if !claimed {
		b, _, err := f.Store.GetRecord(ctx, KindTrigger, key)
		if err != nil {
			return FireResult{}, fmt.Errorf("training trigger %s: %w", key, err)
		}
		var prev TriggerRecord
		if err := json.Unmarshal(b, &prev); err != nil {
			return FireResult{}, fmt.Errorf("training trigger %s: bad state record: %w", key, err)
		}
		if prev.Status != "failed" {
			return FireResult{Already: prev.Status}, nil
		}
		rec.Failures = prev.Failures
		if err := f.Store.PutRecord(ctx, KindTrigger, key, mustJSON(rec)); err != nil {
			return FireResult{}, fmt.Errorf("training trigger %s: claim: %w", key, err)
		}
	}
	body := mustJSON(p)
	res, postErr := f.post(ctx, url, p.EvidenceID, body)
	rec.Attempts, rec.HTTPStatus, rec.At = res.Attempts, res.HTTPStatus, f.now()
	if postErr != nil {
		rec.Status, rec.Error = "failed", postErr.Error()
		rec.Failures++
	} else {
		rec.Status = "fired"
		res.Fired = true
	}
	// Recorded even when ctx's deadline ended the delivery.
	if err := f.Store.PutRecord(context.WithoutCancel(ctx), KindTrigger, key, mustJSON(rec)); err != nil {
		return res, errors.Join(postErr, fmt.Errorf("training trigger %s: record: %w", key, err))
	}
	if postErr != nil {
		return res, fmt.Errorf("training trigger %s: %w", key, postErr)
	}
	return res, nil
}

func (f *Firer) post(ctx context.Context, target, idem string, body []byte) (FireResult, error) {
	client := f.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	attempts := f.Attempts
	if attempts <= 0 {
		attempts = 4
	}
	delay := f.Backoff
	if delay <= 0 {
		delay = 500 * time.Millisecond
	}
	var res FireResult
	var last error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return res, fmt.Errorf("%w; gave up after %d attempt(s): %v", last, res.Attempts, ctx.Err())
			case <-time.After(delay):
			}
			delay *= 2
		}
		res.Attempts++
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
		if err != nil {
			return res, errors.New("invalid webhook URL") // the URL itself is not repeated
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", idem)
		req.Header.Set("User-Agent", "cairn")
		resp, err := client.Do(req)
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err // drop the URL
			}
			last = fmt.Errorf("webhook: %w", err)
			if ctx.Err() != nil {
				return res, last
			}
			continue
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		res.HTTPStatus = resp.StatusCode
		switch {
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			return res, nil
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
			last = fmt.Errorf("webhook answered %s", resp.Status)
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 && s <= 300 {
				delay = time.Duration(s) * time.Second
			}
		default:
			return res, fmt.Errorf("webhook answered %s (not retried)", resp.Status)
		}
	}
	return res, fmt.Errorf("%w (after %d attempts)", last, res.Attempts)
}

func (f *Firer) now() string {
	if f.Now == nil {
		return ""
	}
	return f.Now().UTC().Format(time.RFC3339)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // plain data structs: cannot happen
	}
	return b
}
