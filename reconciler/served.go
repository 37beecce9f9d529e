package reconciler

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/rollout"
	"github.com/cairn-dev/cairn/state"
	"github.com/cairn-dev/cairn/targets"
)

// Record kinds apply keeps so that removing what served an environment can
// be gated like a promotion into it.
const (
	// RecordPointerGate: key "<object> <name>", value pointerGate — the
	// approvals the alias or label required when it last moved.
	RecordPointerGate = "reconciler.pointer_gate"
	// RecordDeployment: key the deployment name, value deploymentRecord —
	// the deployments whose files apply rendered.
	RecordDeployment = "reconciler.deployment"
)

type pointerGate struct {
	Approvals int `json:"approvals"`
}

type deploymentRecord struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Serves    string `json:"serves"` // "models/x" or "prompts/y"
	Alias     string `json:"alias"`
	Approvals int    `json:"approvals"` // what a promotion into its alias needed
}

// ServedView reads what the state serves: the registered versions and the
// version at every alias and label. Renderers resolve against it, so a
// version the specs name is rendered only once apply moved it there, after
// its gates passed.
func ServedView(ctx context.Context, st state.Ops) (targets.View, error) {
	v, err := ViewFromState(ctx, st)
	if err != nil {
		return v, err
	}
	ptrs, err := st.ListPointers(ctx, "")
	if err != nil {
		return v, err
	}
	v.Aliases = map[string]map[string]string{}
	v.Labels = map[string]map[string]string{}
	for _, p := range ptrs {
		kind, name, _ := strings.Cut(p.Object, "/")
		m := v.Aliases
		if kind == "prompts" {
			m = v.Labels
		} else if kind != "models" {
			continue
		}
		if m[name] == nil {
			m[name] = map[string]string{}
		}
		m[name][p.Name] = p.Version
	}
	recs, err := st.ListRecords(ctx, RecordDeployment, "")
	if err != nil {
		return v, err
	}
	if len(recs) > 0 {
		v.Rendered = map[string]bool{}
		for name := range recs {
			v.Rendered[name] = true
		}
	}
	// Canaries with steps: the share their last recorded analysis set.
	progress, err := rollout.Recorded(ctx, st)
	if err != nil {
		return v, err
	}
	for name, p := range progress {
		if v.Canaries == nil {
			v.Canaries = map[string]targets.CanaryStep{}
		}
		v.Canaries[name] = targets.CanaryStep{Version: p.Canary, Percent: p.Weight}
	}
	return v, nil
}

// Project applies a plan's actions to a view of what the state serves: the
// prompt versions it registers, the moves that are ready or pending and the
// deletes that are ready. Blocked actions change nothing.
func Project(v *targets.View, b *compiler.Bundle, actions []Action) {
	for _, a := range actions {
		if !a.Ready() {
			continue
		}
		kind, name, _ := strings.Cut(a.Object, "/")
		switch a.Type {
		case RegisterPromptVersion:
			p := b.Prompts[name]
			if p == nil {
				continue
			}
			if v.Prompts == nil {
				v.Prompts = map[string]map[string]targets.PromptVersion{}
			}
			if v.Prompts[name] == nil {
				v.Prompts[name] = map[string]targets.PromptVersion{}
			}
			v.Prompts[name][p.Version] = targets.PromptVersion{Version: p.Version, ContentHash: p.ContentHash, Template: p.Template,
				Messages: p.Messages, Inputs: p.Inputs, Model: p.Model}
		case MovePromptLabel, MoveModelAlias, DeletePromptLabel, DeleteModelAlias:
			m := &v.Aliases
			if kind == "prompts" {
				m = &v.Labels
			}
			if *m == nil {
				*m = map[string]map[string]string{}
			}
			if (*m)[name] == nil {
				(*m)[name] = map[string]string{}
			}
			if a.Type == DeletePromptLabel || a.Type == DeleteModelAlias {
				delete((*m)[name], a.Name)
			} else {
				(*m)[name][a.Name] = a.After
			}
		}
	}
}

// requiredApprovals is what removing `name` of obj needs: the most of the
// gate recorded when it last moved and every gate of that name in the specs
// (the approvals of a promotion into that environment).
func (pl *planner) requiredApprovals(obj, name string) (int, error) {
	n := 0
	for _, m := range pl.b.Models {
		if g, ok := m.Gates[name]; ok && g.Approvals > n {
			n = g.Approvals
		}
	}
	for _, p := range pl.b.Prompts {
		if g, ok := p.Gates[name]; ok && g.Approvals > n {
			n = g.Approvals
		}
	}
	raw, ok, err := pl.st.GetRecord(pl.ctx, RecordPointerGate, obj+" "+name)
	if err != nil {
		return 0, err
	}
	if ok {
		var g pointerGate
		if json.Unmarshal(raw, &g) == nil && g.Approvals > n {
			n = g.Approvals
		}
	}
	return n, nil
}

// approvalGate checks the approvals a destroy needs.
func (pl *planner) approvalGate(required int) GateCheck {
	g := GateCheck{Gate: "approvals", Status: GatePassed, Detail: fmt.Sprintf("%d of %d required approvals", pl.opts.Approvals, required)}
	if pl.opts.Approvals < required {
		g.Status = GateFailed
	}
	return g
}

// deletes plans the removal of aliases and labels the state serves but the
// specs no longer declare, and of deployments apply rendered that the specs
// no longer declare. Each needs the approvals a promotion into the same
// environment (alias or label name) needs, and says so.
func (pl *planner) deletes() error {
	ptrs, err := pl.st.ListPointers(pl.ctx, "")
	if err != nil {
		return err
	}
	for _, p := range ptrs {
		kind, name, _ := strings.Cut(p.Object, "/")
		var t ActionType
		var declared bool
		switch kind {
		case "models":
			t = DeleteModelAlias
			if m := pl.b.Models[name]; m != nil {
				_, declared = m.Aliases[p.Name]
			}
		case "prompts":
			t = DeletePromptLabel
			if pr := pl.b.Prompts[name]; pr != nil {
				_, declared = pr.Labels[p.Name]
			}
		default:
			continue
		}
		if declared {
			continue
		}
		req, err := pl.requiredApprovals(p.Object, p.Name)
		if err != nil {
			return err
		}
		field := "alias"
		if t == DeletePromptLabel {
			field = "label"
		}
		a := Action{Type: t, Object: p.Object, Name: p.Name, Before: p.Version,
			Reason: fmt.Sprintf("the specs no longer declare %s %s (state serves %s there); removing it needs the approvals a promotion into %s needs (%d)",
				field, p.Name, p.Version, p.Name, req)}
		if obj := pl.objectPos(p.Object); obj != "" {
			a.Pos = pl.b.Position(obj)
		}
		if req > 0 {
			a.Gates = []GateCheck{pl.approvalGate(req)}
		}
		a.Status = gateStatus(a.Gates)
		pl.add(a)
	}
	recs, err := pl.st.ListRecords(pl.ctx, RecordDeployment, "")
	if err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(recs)) {
		if pl.b.Deployments[name] != nil {
			continue
		}
		var d deploymentRecord
		if err := json.Unmarshal(recs[name], &d); err != nil {
			return fmt.Errorf("state record %s/%s: %w", RecordDeployment, name, err)
		}
		req := d.Approvals
		if r, err := pl.requiredApprovals(d.Serves, d.Alias); err != nil {
			return err
		} else if r > req {
			req = r
		}
		a := Action{Type: DeleteDeployment, Object: "deployments/" + name, Name: d.Alias, Before: d.Serves + "@" + d.Alias,
			Reason: fmt.Sprintf("the specs no longer declare deployment %s (namespace %s, serving %s %s); removing it and its rendered files needs the approvals a promotion into %s needs (%d)",
				name, d.Namespace, d.Serves, d.Alias, d.Alias, req)}
		if req > 0 {
			a.Gates = []GateCheck{pl.approvalGate(req)}
		}
		a.Status = gateStatus(a.Gates)
		pl.add(a)
	}
	return nil
}

// objectPos is the bundle path of an object that still exists ("" if gone).
func (pl *planner) objectPos(obj string) string {
	kind, name, _ := strings.Cut(obj, "/")
	switch kind {
	case "models":
		if pl.b.Models[name] != nil {
			return obj
		}
	case "prompts":
		if pl.b.Prompts[name] != nil {
			return obj
		}
	}
	return ""
}

// heldDeploymentFiles maps the rendered files (relative to rendered/) of
// each deployment whose delete_deployment is blocked to why: they stay
// until the removal is approved.
func (pl *planner) heldDeploymentFiles() map[string]string {
	out := map[string]string{}
	for _, a := range pl.plan.Actions {
		if a.Type != DeleteDeployment || a.Ready() {
			continue
		}
		raw, ok, err := pl.st.GetRecord(pl.ctx, RecordDeployment, strings.TrimPrefix(a.Object, "deployments/"))
		if err != nil || !ok {
			continue
		}
		var d deploymentRecord
		if json.Unmarshal(raw, &d) != nil {
			continue
		}
		prompt := ""
		if kind, name, _ := strings.Cut(d.Serves, "/"); kind == "prompts" {
			prompt = name
		}
		for _, f := range targets.DeploymentFiles(d.Name, d.Namespace, prompt) {
			out[f] = fmt.Sprintf("held with %s: %s", a.Object, strings.TrimPrefix(a.Status, "blocked: "))
		}
	}
	return out
}

// deploymentRecords are the records of the bundle's deployments as apply
// rendered them, keyed by name.
func deploymentRecords(pl *planner) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, name := range slices.Sorted(maps.Keys(pl.b.Deployments)) {
		d := pl.b.Deployments[name]
		serves := "models/" + d.Model
		if d.Prompt != "" {
			serves = "prompts/" + d.Prompt
		}
		req, err := pl.requiredApprovals(serves, d.Alias)
		if err != nil {
			return nil, err
		}
		out[name] = jsonBytes(deploymentRecord{Name: name, Namespace: d.Namespace, Serves: serves, Alias: d.Alias, Approvals: req})
	}
	return out, nil
}
