package lineage

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/reconciler"
	"github.com/cairn-dev/cairn/state"
)

var t0 = time.Date(2026, 3, 3, 14, 0, 0, 0, time.UTC)

// history builds the fraud example's serving history with a test clock:
// prod → 7 at t0+1h, a canary of 8 at 10 % at t0+2h, 8 promoted at t0+3h,
// a rollback to 7 at t0+4h.
func history(t *testing.T) (state.Store, string) {
	t.Helper()
	ctx := context.Background()
	b, ds := compiler.Compile(filepath.Join("..", "examples", "fraud-detection"), compiler.Options{})
	if len(ds) > 0 {
		t.Fatal(ds)
	}
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := state.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, v := range []string{"7", "8"} {
		if _, err := st.RegisterModelVersion(ctx, state.ModelVersion{Model: "fraud-detector", Version: v, ArtifactURI: "s3://m/" + v,
			Metrics: map[string]float64{"auc": 0.9}, Features: []string{}, RegisteredAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	step := func(at time.Duration, moves ...[3]string) {
		t.Helper()
		for _, m := range moves {
			if err := st.SetPointer(ctx, "models/fraud-detector", m[0], m[1], m[2]); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := reconciler.RecordServing(ctx, st, b, t0.Add(at), "ci", "c0ffee", map[string]bool{"fraud-api": true}); err != nil {
			t.Fatal(err)
		}
	}
	step(time.Hour, [3]string{"prod", "", "7"})
	step(2*time.Hour, [3]string{"staging", "", "8"}) // the canary's candidate: 10 %, the first step
	step(2*time.Hour + 30*time.Minute)               // nothing changed: no entry
	step(3*time.Hour, [3]string{"prod", "7", "8"}, [3]string{"staging", "8", ""})
	step(4*time.Hour, [3]string{"prod", "8", "7"}) // the rollback: a spec revert
	return st, path
}

func TestAt(t *testing.T) {
	st, _ := history(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		at       time.Duration
		stable   string
		canary   string
		percent  int
		until    time.Duration // 0: still in force
		nothing  bool
		served   []string
		notServe []string
	}{
		{name: "before the first", at: 30 * time.Minute, nothing: true, notServe: []string{"7", "8"}},
		{name: "exactly at the first entry", at: time.Hour, stable: "7", until: 2 * time.Hour, served: []string{"7"}, notServe: []string{"8"}},
		{name: "between", at: time.Hour + 59*time.Minute, stable: "7", until: 2 * time.Hour},
		{name: "a canary", at: 2*time.Hour + 45*time.Minute, stable: "7", canary: "8", percent: 10, until: 3 * time.Hour, served: []string{"7", "8"}},
		{name: "promoted", at: 3 * time.Hour, stable: "8", until: 4 * time.Hour, served: []string{"8"}, notServe: []string{"7"}},
		{name: "after the rollback", at: 48 * time.Hour, stable: "7", served: []string{"7"}, notServe: []string{"8"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := At(ctx, st, "fraud-api", t0.Add(tc.at))
			if err != nil {
				t.Fatal(err)
			}
			if tc.nothing {
				if f.Entry != nil || f.First == nil || !f.First.Time.Equal(t0.Add(time.Hour)) {
					t.Fatalf("before the first entry: %+v", f)
				}
			} else {
				if f.Served == nil || f.Served.Stable == nil || f.Served.Stable.Version != tc.stable {
					t.Fatalf("stable: %+v", f.Served)
				}
				if tc.canary == "" && f.Served.Canary != nil || tc.canary != "" && (f.Served.Canary == nil || f.Served.Canary.Version != tc.canary || f.Served.Canary.Percent != tc.percent) {
					t.Fatalf("canary: %+v, want %s at %d %%", f.Served.Canary, tc.canary, tc.percent)
				}
				if tc.until == 0 && f.Until != nil || tc.until != 0 && (f.Until == nil || !f.Until.Equal(t0.Add(tc.until))) {
					t.Fatalf("until %v, want t0+%v", f.Until, tc.until)
				}
				if f.Served.Stable.Digest == "" {
					t.Fatal("no digest")
				}
			}
			for _, v := range tc.served {
				if !f.Serves(v, "") {
					t.Errorf("Serves(%s) = false", v)
				}
			}
			for _, v := range tc.notServe {
				if f.Serves(v, "") {
					t.Errorf("Serves(%s) = true", v)
				}
			}
		})
	}
	f, _ := At(ctx, st, "fraud-api", t0.Add(time.Hour))
	if !f.Serves("7", f.Served.Stable.Digest) || f.Serves("7", "sha256:0000") {
		t.Error("a digest must match to serve")
	}
	var unknown *ErrUnknown
	if _, err := At(ctx, st, "fraud-ap", t0); !errors.As(err, &unknown) {
		t.Fatalf("unknown deployment: %v", err)
	}
}

// TestTampered: an edited serve entry, or an edited entry before it, is
// named; the answer is never given from a tampered log.
func TestTampered(t *testing.T) {
	for _, tc := range []struct {
		name, sql string
		seq       int64
	}{
		{"the entry in force", `UPDATE audit_log SET after_doc = replace(after_doc, '"version":"8"', '"version":"9"') WHERE seq = 3`, 3},
		{"the entry before it", `UPDATE audit_log SET actor = 'mallory' WHERE seq = 2`, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, path := history(t)
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(tc.sql); err != nil {
				t.Fatal(err)
			}
			db.Close()
			_, err = At(context.Background(), st, "fraud-api", t0.Add(3*time.Hour))
			var te *TamperedError
			if !errors.As(err, &te) || te.Problem.Seq != tc.seq {
				t.Fatalf("err = %v, want a TamperedError naming #%d", err, tc.seq)
			}
		})
	}
}

// TestOfVersion: the intervals during which each version served, from the
// serve entries, with the canary's share; a version never served; an
// unregistered one names the registered versions.
func TestOfVersion(t *testing.T) {
	st, _ := history(t)
	ctx := context.Background()
	type iv struct {
		role     string
		pct      int
		from, to time.Duration // to 0: still serving
	}
	for _, tc := range []struct {
		version string
		want    []iv
	}{
		{"7", []iv{{"stable", 100, time.Hour, 2 * time.Hour}, {"stable", 90, 2 * time.Hour, 3 * time.Hour}, {"stable", 100, 4 * time.Hour, 0}}},
		{"8", []iv{{"canary", 10, 2 * time.Hour, 3 * time.Hour}, {"stable", 100, 3 * time.Hour, 4 * time.Hour}}},
	} {
		v, err := OfVersion(ctx, st, "models", "fraud-detector", tc.version)
		if err != nil {
			t.Fatal(err)
		}
		if v.Digest == "" || v.Artifact != "s3://m/"+tc.version {
			t.Fatalf("%s: upstream %+v", tc.version, v)
		}
		if len(v.Served) != len(tc.want) {
			t.Fatalf("%s: served %+v, want %d intervals", tc.version, v.Served, len(tc.want))
		}
		for i, w := range tc.want {
			g := v.Served[i]
			if g.Deployment != "fraud-api" || g.Role != w.role || g.Percent != w.pct || !g.From.Equal(t0.Add(w.from)) ||
				(w.to == 0) != (g.To == nil) || g.To != nil && !g.To.Equal(t0.Add(w.to)) {
				t.Errorf("%s interval %d = %+v, want %+v", tc.version, i, g, w)
			}
		}
		if m := v.Mermaid(); !strings.HasPrefix(m, "flowchart LR\n") || !strings.Contains(m, "deployments/fraud-api") {
			t.Errorf("mermaid:\n%s", m)
		}
	}
	// A waiver an apply used on the model is part of its lineage.
	if _, err := st.AppendAudit(ctx, state.AuditEntry{Time: t0.Add(5 * time.Hour), Actor: "ci", Action: reconciler.AuditPolicy, Object: "bundles/sha256:b",
		After: `{"denials":0,"warnings":0,"waived":[{"policy":"fairness_gated","target":"models/fraud-detector","waiver":"@acme/risk until 2026-04-01"},{"policy":"owners","target":"models/other","waiver":"x"}]}`}); err != nil {
		t.Fatal(err)
	}
	v, err := OfVersion(ctx, st, "models", "fraud-detector", "7")
	if err != nil || len(v.Waivers) != 1 || v.Waivers[0].Policy != "fairness_gated" || v.Waivers[0].Seq == 0 {
		t.Fatalf("waivers %+v (%v)", v.Waivers, err)
	}
	_, err = OfVersion(ctx, st, "models", "fraud-detector", "9")
	var nf *NotFoundError
	if !errors.As(err, &nf) || strings.Join(nf.Known, ",") != "7,8" {
		t.Fatalf("unregistered version: %v", err)
	}
}
