package gitops

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/data/training"
	"github.com/cairn-dev/cairn/state"
)

// The reconciler's handler serves Alertmanager's webhook only when a
// receiver is configured, and the receiver's authentication holds there.
func TestHandlerServesAlerts(t *testing.T) {
	st, err := state.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	post := func(r *Reconciler, auth string) int {
		srv := httptest.NewServer(r.Handler())
		defer srv.Close()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+AlertsPath, strings.NewReader(`{"version": "4", "groupKey": "g", "alerts": []}`))
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	off, err := New(Config{Source: t.TempDir(), CacheDir: t.TempDir(), Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if code := post(off, "tok"); code != http.StatusNotFound {
		t.Errorf("without a receiver: HTTP %d, want 404", code)
	}
	on, err := New(Config{Source: t.TempDir(), CacheDir: t.TempDir(), Store: st, Alerts: &training.AlertReceiver{Store: st, Token: "tok"}})
	if err != nil {
		t.Fatal(err)
	}
	if code := post(on, ""); code != http.StatusUnauthorized {
		t.Errorf("no token: HTTP %d, want 401", code)
	}
	if code := post(on, "tok"); code != http.StatusOK {
		t.Errorf("with the token: HTTP %d, want 200", code)
	}
}
