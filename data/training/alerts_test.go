package training

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/state"
)

const payload = `{"version": "4", "groupKey": "{}:{alertname=\"FraudModelDegraded\"}", "status": "firing", "receiver": "cairn",
 "groupLabels": {"alertname": "FraudModelDegraded"}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am", "truncatedAlerts": 0,
 "alerts": [
  {"status": "firing", "labels": {"alertname": "FraudModelDegraded", "model": "fraud-detector"}, "annotations": {}, "startsAt": "2026-12-06T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": "a1"},
  {"status": "resolved", "labels": {"alertname": "FraudModelDegraded", "model": "fraud-detector"}, "annotations": {}, "startsAt": "2026-12-06T09:00:00Z", "endsAt": "2026-12-06T09:30:00Z", "generatorURL": "", "fingerprint": "a2"},
  {"status": "firing", "labels": {"alertname": "DiskFull"}, "annotations": {}, "startsAt": "2026-12-06T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": "a3"}
 ]}`

// The receiver: no credentials or wrong ones get 401 and a malformed body
// 400, and nothing is recorded; a firing alert naming a model is recorded
// once with an audit entry, and a resend records nothing new.
func TestAlertReceiver(t *testing.T) {
	ctx := context.Background()
	st, err := state.OpenSQLite(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := httptest.NewServer(&AlertReceiver{Store: st, Token: "s3cret-token", Secret: "hmac-key", Actor: "alertmanager"})
	defer srv.Close()
	post := func(body string, header ...string) (int, AlertReceipt) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r AlertReceipt
		json.NewDecoder(resp.Body).Decode(&r)
		return resp.StatusCode, r
	}
	sign := func(body, key string) string {
		m := hmac.New(sha256.New, []byte(key))
		m.Write([]byte(body))
		return "sha256=" + hex.EncodeToString(m.Sum(nil))
	}
	for _, c := range []struct {
		name   string
		body   string
		header []string
		want   int
	}{
		{"no credentials", payload, nil, 401},
		{"wrong token", payload, []string{"Authorization", "Bearer nope"}, 401},
		{"wrong signature", payload, []string{"X-Cairn-Signature", sign(payload, "other-key")}, 401},
		{"signature of another body", payload, []string{"X-Cairn-Signature", sign(payload+" ", "hmac-key")}, 401},
		{"not JSON", "{oops", []string{"Authorization", "Bearer s3cret-token"}, 400},
		{"version 3", strings.Replace(payload, `"version": "4"`, `"version": "3"`, 1), []string{"Authorization", "Bearer s3cret-token"}, 400},
		{"firing without alertname", strings.Replace(payload, `"alertname": "FraudModelDegraded", "model"`, `"model"`, 1), []string{"Authorization", "Bearer s3cret-token"}, 400},
	} {
		if code, _ := post(c.body, c.header...); code != c.want {
			t.Errorf("%s: HTTP %d, want %d", c.name, code, c.want)
		}
	}
	if evs, _ := Alerts(ctx, st, "fraud-detector"); len(evs) != 0 {
		t.Fatalf("refused requests recorded %v", evs)
	}
	code, r := post(payload, "Authorization", "Bearer s3cret-token")
	if code != 200 || len(r.Recorded) != 1 || r.Ignored != 2 {
		t.Fatalf("first delivery: HTTP %d %+v", code, r)
	}
	// A resend (Alertmanager's repeat_interval), signed this time: nothing new.
	code, again := post(payload, "X-Cairn-Signature", sign(payload, "hmac-key"))
	if code != 200 || len(again.Recorded) != 0 || len(again.Duplicates) != 1 || again.Duplicates[0] != r.Recorded[0] {
		t.Fatalf("resend: HTTP %d %+v", code, again)
	}
	evs, err := Alerts(ctx, st, "fraud-detector")
	if err != nil || len(evs) != 1 || evs[0].Alert != "FraudModelDegraded" || evs[0].Fingerprint != "a1" {
		t.Fatalf("evidence %+v, %v", evs, err)
	}
	log, _ := st.ListAudit(ctx)
	if len(log) != 1 || log[0].Action != "alert_received" || log[0].Object != "models/fraud-detector" {
		t.Errorf("audit %+v", log)
	}
	// The same alert firing again (a new start) is new evidence.
	code, third := post(strings.Replace(payload, "2026-12-06T10:00:00Z", "2026-12-06T12:00:00Z", 1), "Authorization", "Bearer s3cret-token")
	if code != 200 || len(third.Recorded) != 1 || third.Recorded[0] == r.Recorded[0] {
		t.Errorf("refiring: HTTP %d %+v", code, third)
	}
	if resp, _ := http.Get(srv.URL); resp.StatusCode != 405 {
		t.Errorf("GET: HTTP %d", resp.StatusCode)
	}
}
