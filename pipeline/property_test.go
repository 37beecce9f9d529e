package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/reconciler"
	"github.com/cairn-dev/cairn/state"
	"github.com/cairn-dev/cairn/targets"
)

// copyTree copies an example spec repo into a temporary directory.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

var (
	aliasLine = regexp.MustCompile(`(?m)^(\t\t(prod|staging):\s+)"[0-9]+"`)
	uriRe     = regexp.MustCompile(`s3://m/([0-9]+)`)
)

// TestNothingServedThatDidNotPass is the property the pipeline exists for:
// over random sequences of spec edits (aliases pointed at versions whose
// metrics pass or fail their gates), registrations, applies with and
// without approvals, saved plans and renders, no rendered file ever names
// a model version at an alias unless the audit log shows that version
// moved there with every gate passed, and the state serves it there now.
func TestNothingServedThatDidNotPass(t *testing.T) {
	ctx := context.Background()
	seeds := []uint64{1, 2, 3, 4, 5, 6}
	if testing.Short() {
		seeds = seeds[:2]
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed_", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 42))
			dir := copyTree(t, filepath.Join("..", "examples", "fraud-detection"))
			st, err := state.OpenSQLite(ctx, filepath.Join(t.TempDir(), "state.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			clock := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
			now := func() time.Time { clock = clock.Add(time.Second); return clock }
			versions := 0
			register := func() {
				versions++
				auc := 0.85 + rng.Float64()*0.12 // gates: prod >= 0.92, staging >= 0.90
				_, err := st.RegisterModelVersion(ctx, state.ModelVersion{Model: "fraud-detector", Version: fmt.Sprint(versions),
					ArtifactURI: fmt.Sprintf("s3://m/%d", versions), Metrics: map[string]float64{"auc": auc, "false_positive_rate": 0.03}, RegisteredAt: clock})
				if err != nil {
					t.Fatal(err)
				}
			}
			register()
			register()
			models := filepath.Join(dir, "specs", "models.cue")
			point := func() {
				data, err := os.ReadFile(models)
				if err != nil {
					t.Fatal(err)
				}
				out := aliasLine.ReplaceAllStringFunc(string(data), func(m string) string {
					sub := aliasLine.FindStringSubmatch(m)
					return fmt.Sprintf(`%s"%d"`, sub[1], 1+rng.IntN(versions))
				})
				if err := os.WriteFile(models, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			opts := func(approvals int) reconciler.ApplyOptions {
				return reconciler.ApplyOptions{Options: reconciler.Plugins(st, reconciler.PluginOptions{Approvals: approvals}),
					Actor: "property", Now: now}
			}
			for step := 0; step < 25; step++ {
				op := rng.IntN(5)
				switch op {
				case 0:
					register()
				case 1:
					point()
				case 2, 3:
					c, err := Check(ctx, dir, CheckOptions{Now: clock})
					if err != nil || !c.Compiled() {
						t.Fatalf("step %d: check: %v %v", step, err, c.Diagnostics)
					}
					o := opts(rng.IntN(2))
					if op == 3 { // through a saved plan, read back from its file
						p, err := Plan(ctx, c, st, o.Options)
						if err != nil {
							t.Fatal(err)
						}
						f := filepath.Join(t.TempDir(), "plan.json")
						if err := reconciler.WritePlanFile(f, p); err != nil {
							t.Fatal(err)
						}
						if p, err = reconciler.ReadPlanFile(f); err != nil {
							t.Fatal(err)
						}
						_, err = ApplySaved(ctx, c, p, st, o)
						if err != nil {
							t.Fatalf("step %d: apply saved plan: %v", step, err)
						}
					} else if _, err := Apply(ctx, c, st, o); err != nil {
						t.Fatalf("step %d: apply: %v", step, err)
					}
				case 4:
					c, err := Check(ctx, dir, CheckOptions{Now: clock})
					if err != nil {
						t.Fatal(err)
					}
					view, err := reconciler.ServedView(ctx, st)
					if err != nil {
						t.Fatal(err)
					}
					out := filepath.Join(dir, "rendered")
					res, err := Render(ctx, c, view, RenderOptions{Out: out})
					if err != nil {
						t.Fatalf("step %d: render: %v", step, err)
					}
					if err := targets.Write(out, res.Files, res.Changes); err != nil {
						t.Fatal(err)
					}
				}
				checkServed(t, ctx, st, dir, step)
			}
		})
	}
}

// checkServed asserts the property on the rendered tree as it is now.
func checkServed(t *testing.T, ctx context.Context, st state.Store, dir string, step int) {
	t.Helper()
	log, err := st.ListAudit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	passed := map[string]bool{} // "alias@version" moved there with every gate passed
	for _, e := range log {
		if e.Action != string(reconciler.MoveModelAlias) {
			continue
		}
		var after struct {
			Name    string                 `json:"name"`
			Version string                 `json:"version"`
			Gates   []reconciler.GateCheck `json:"gates"`
		}
		if err := json.Unmarshal([]byte(e.After), &after); err != nil {
			t.Fatal(err)
		}
		ok := true
		for _, g := range after.Gates {
			ok = ok && g.Status == reconciler.GatePassed
		}
		if ok {
			passed[after.Name+"@"+after.Version] = true
		}
	}
	serving := map[string]bool{}
	for _, alias := range []string{"prod", "staging"} {
		if v, ok, err := st.GetPointer(ctx, "models/fraud-detector", alias); err != nil {
			t.Fatal(err)
		} else if ok {
			if !passed[alias+"@"+v] {
				t.Fatalf("step %d: state serves %s at %s without an audited pass", step, v, alias)
			}
			serving[v] = true
		}
	}
	filepath.WalkDir(filepath.Join(dir, "rendered"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		data, _ := os.ReadFile(p)
		for _, m := range uriRe.FindAllStringSubmatch(string(data), -1) {
			if !serving[m[1]] {
				t.Fatalf("step %d: %s names version %s, which the state does not serve after passing its gates (audited passes: %v)",
					step, strings.TrimPrefix(p, dir), m[1], passed)
			}
		}
		return nil
	})
}
