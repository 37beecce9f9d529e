package training

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/state"
)

// KindAlert is the state record of an alert received as evidence:
// "<model>/<evidence id>" → AlertEvidence.
const KindAlert = "training.alert"

// AlertmanagerPayload is Alertmanager's webhook body, version 4.
type AlertmanagerPayload struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []struct {
		Status       string            `json:"status"`
		Labels       map[string]string `json:"labels"`
		Annotations  map[string]string `json:"annotations"`
		StartsAt     time.Time         `json:"startsAt"`
		EndsAt       time.Time         `json:"endsAt"`
		GeneratorURL string            `json:"generatorURL"`
		Fingerprint  string            `json:"fingerprint"`
	} `json:"alerts"`
}

// AlertEvidence is one firing alert that names a model (label "model"):
// its id is the same however often Alertmanager resends the group, and new
// when the alert fires again (another start).
type AlertEvidence struct {
	EvidenceID  string            `json:"evidence_id"` // "alert:<sha256 of group key, fingerprint, start>"
	Model       string            `json:"model"`
	Alert       string            `json:"alert"` // alertname
	GroupKey    string            `json:"group_key"`
	Fingerprint string            `json:"fingerprint"`
	StartsAt    time.Time         `json:"starts_at"`
	Labels      map[string]string `json:"labels"`
	ReceivedAt  time.Time         `json:"received_at"`
}

// ParseAlertmanager reads a version 4 payload and the evidence it holds:
// each firing alert with a model label and an alertname.
func ParseAlertmanager(body []byte) (*AlertmanagerPayload, []AlertEvidence, error) {
	var p AlertmanagerPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, nil, fmt.Errorf("not an Alertmanager webhook payload: %v", err)
	}
	if p.Version != "4" {
		return nil, nil, fmt.Errorf("payload version %q: cairn reads Alertmanager's version 4", p.Version)
	}
	if p.GroupKey == "" {
		return nil, nil, errors.New("payload has no groupKey")
	}
	var out []AlertEvidence
	for i, a := range p.Alerts {
		if a.Status != "firing" || a.Labels["model"] == "" {
			continue
		}
		if a.Labels["alertname"] == "" || a.StartsAt.IsZero() {
			return nil, nil, fmt.Errorf("alerts[%d]: a firing alert needs labels.alertname and startsAt", i)
		}
		h := sha256.Sum256([]byte(p.GroupKey + "\x00" + a.Fingerprint + "\x00" + a.StartsAt.UTC().Format(time.RFC3339Nano)))
		out = append(out, AlertEvidence{EvidenceID: "alert:" + hex.EncodeToString(h[:12]), Model: a.Labels["model"], Alert: a.Labels["alertname"],
			GroupKey: p.GroupKey, Fingerprint: a.Fingerprint, StartsAt: a.StartsAt.UTC(), Labels: a.Labels})
	}
	return &p, out, nil
}

// AlertReceiver is the HTTP handler Alertmanager's webhook_config posts
// to. A request must carry the bearer token (Alertmanager's
// http_config.authorization) or an HMAC-SHA256 of its body in
// X-Cairn-Signature ("sha256=<hex>"); otherwise 401, and a malformed body
// 400, and nothing is recorded. Each new piece of evidence is recorded
// once, with an audit entry, however often Alertmanager resends.
type AlertReceiver struct {
	Store  state.Store
	Token  string // bearer token; "" = not accepted
	Secret string // HMAC key; "" = not accepted
	Actor  string
	Now    func() time.Time
}

// AlertReceipt is the receiver's answer.
type AlertReceipt struct {
	Recorded   []string `json:"recorded"`   // new evidence ids
	Duplicates []string `json:"duplicates"` // evidence already recorded (a resend)
	Ignored    int      `json:"ignored"`    // alerts resolved or naming no model
}

func (rc *AlertReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST an Alertmanager webhook payload", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		http.Error(w, "reading the body: "+err.Error(), http.StatusBadRequest)
		return
	}
	if !rc.authorized(r, body) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="cairn"`)
		http.Error(w, "unauthorized: send the bearer token or an X-Cairn-Signature", http.StatusUnauthorized)
		return
	}
	p, evs, err := ParseAlertmanager(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	receipt, err := rc.record(r.Context(), evs)
	if err != nil {
		http.Error(w, "recording: "+err.Error(), http.StatusInternalServerError)
		return
	}
	receipt.Ignored = len(p.Alerts) - len(evs)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(receipt)
}

func (rc *AlertReceiver) authorized(r *http.Request, body []byte) bool {
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && rc.Token != "" {
		return subtle.ConstantTimeCompare([]byte(tok), []byte(rc.Token)) == 1
	}
	if sig, ok := strings.CutPrefix(r.Header.Get("X-Cairn-Signature"), "sha256="); ok && rc.Secret != "" {
		got, err := hex.DecodeString(sig)
		if err != nil {
			return false
		}
		m := hmac.New(sha256.New, []byte(rc.Secret))
		m.Write(body)
		return hmac.Equal(got, m.Sum(nil))
	}
	return false
}

func (rc *AlertReceiver) record(ctx context.Context, evs []AlertEvidence) (AlertReceipt, error) {
	out := AlertReceipt{Recorded: []string{}, Duplicates: []string{}}
	now := time.Now
	if rc.Now != nil {
		now = rc.Now
	}
	err := rc.Store.Update(ctx, func(tx state.Ops) error {
		for _, ev := range evs {
			ev.ReceivedAt = now().UTC()
			raw, _ := json.Marshal(ev)
			inserted, err := tx.PutRecordOnce(ctx, KindAlert, ev.Model+"/"+ev.EvidenceID, raw)
			if err != nil {
				return err
			}
			if !inserted {
				out.Duplicates = append(out.Duplicates, ev.EvidenceID)
				continue
			}
			out.Recorded = append(out.Recorded, ev.EvidenceID)
			// The audit entry also tells the next reconcile that the state changed.
			if _, err := tx.AppendAudit(ctx, state.AuditEntry{Time: ev.ReceivedAt, Actor: rc.Actor, Action: "alert_received",
				Object: "models/" + ev.Model, After: ev.Alert + " " + ev.EvidenceID}); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// Alerts are the alerts recorded as evidence for a model, oldest first.
func Alerts(ctx context.Context, st state.Ops, model string) ([]AlertEvidence, error) {
	recs, err := st.ListRecords(ctx, KindAlert, model+"/")
	if err != nil {
		return nil, err
	}
	var out []AlertEvidence
	for k, raw := range recs {
		var ev AlertEvidence
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, fmt.Errorf("state record %s %s: %w", KindAlert, k, err)
		}
		out = append(out, ev)
	}
	slices.SortFunc(out, func(a, b AlertEvidence) int { return a.ReceivedAt.Compare(b.ReceivedAt) })
	return out, nil
}
