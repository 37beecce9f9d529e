package reconciler

import (
	"context"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/compiler"

	"github.com/cairn-dev/cairn/state"
	"github.com/cairn-dev/cairn/state/statetest"
)

// A high-risk model in a sensitive domain takes production traffic only
// with an explanation attached: the prod alias and the alias a prod
// deployment's canary serves from are held, on the plan and again on apply
// (a saved plan whose move was marked ready is held all the same); other
// aliases, and models outside sensitive domains, are not gated.
func TestExplanationGate(t *testing.T) {
	ctx := context.Background()
	dir := copyExample(t, "fraud-detection")
	b := compileExample(t, dir)
	st := newStore(t)
	for _, v := range []string{"7", "8"} {
		_, err := st.RegisterModelVersion(ctx, state.ModelVersion{Model: "fraud-detector", Version: v, ArtifactURI: "s3://m/" + v,
			Metrics: map[string]float64{"auc": 0.95, "false_positive_rate": 0.03}, RegisteredAt: t0})
		must(t, err)
	}
	opts := ApplyOptions{Options: Plugins(st, PluginOptions{Approvals: 1}), Actor: "test", Now: fixedClock()}
	gateOf := func(p *Plan, alias string) (Action, GateCheck) {
		t.Helper()
		for _, a := range p.Actions {
			if a.Type == MoveModelAlias && a.Name == alias {
				for _, g := range a.Gates {
					if g.Gate == "explanation" {
						return a, g
					}
				}
				return a, GateCheck{}
			}
		}
		t.Fatalf("no move of %s in the plan", alias)
		return Action{}, GateCheck{}
	}

	p, err := BuildPlan(ctx, b, st, opts.Options)
	must(t, err)
	for _, alias := range []string{"prod", "staging"} { // staging: fraud-api's canary candidate
		a, g := gateOf(p, alias)
		if g.Status != GateFailed || a.Ready() || !strings.Contains(g.Detail, "registry attach fraud-detector") {
			t.Errorf("%s without an explanation: gate %+v, status %q", alias, g, a.Status)
		}
	}

	// A saved plan edited to say the prod move is ready: apply checks again.
	for i, a := range p.Actions {
		if a.Type == MoveModelAlias {
			p.Actions[i].Status = StatusReady
		}
	}
	res, err := Apply(ctx, p, b, st, opts)
	if err == nil && len(res.Blocked) == 0 {
		t.Fatal("apply of a plan marked ready moved an unexplained version")
	}
	if v, ok, _ := st.GetPointer(ctx, "models/fraud-detector", "prod"); ok {
		t.Fatalf("prod moved to %s without an explanation", v)
	}

	// Explained, 7 passes at prod; 8 (the canary) still waits for its own.
	must(t, statetest.Explain(ctx, st, t0, "fraud-detector", "7"))
	p, err = BuildPlan(ctx, b, st, opts.Options)
	must(t, err)
	if _, g := gateOf(p, "prod"); g.Status != GatePassed || !strings.Contains(g.Detail, "shap on 1000 rows") {
		t.Errorf("prod explained: gate %+v", g)
	}
	if _, g := gateOf(p, "staging"); g.Status != GateFailed {
		t.Errorf("staging (8 unexplained): gate %+v", g)
	}

	// Without the canary, staging serves no production traffic: no gate.
	b.Deployments["fraud-api"].Rollout = compiler.Rollout{}
	p, err = BuildPlan(ctx, b, st, opts.Options)
	must(t, err)
	if _, g := gateOf(p, "staging"); g.Gate != "" {
		t.Errorf("staging, no longer a canary candidate: gate %+v", g)
	}

	// Outside the sensitive domains: no gate at prod either.
	b.Models["fraud-detector"].Sensitive = false
	st2 := newStore(t)
	_, err = st2.RegisterModelVersion(ctx, state.ModelVersion{Model: "fraud-detector", Version: "7", ArtifactURI: "s3://m/7",
		Metrics: map[string]float64{"auc": 0.95, "false_positive_rate": 0.03}, RegisteredAt: t0})
	must(t, err)
	p, err = BuildPlan(ctx, b, st2, Plugins(st2, PluginOptions{Approvals: 1}))
	must(t, err)
	if _, g := gateOf(p, "prod"); g.Gate != "" {
		t.Errorf("not sensitive: gate %+v", g)
	}
}
