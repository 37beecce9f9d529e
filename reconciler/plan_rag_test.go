package reconciler

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/rag"
)

func ragActions(t *testing.T, p *Plan) []Action {
	t.Helper()
	var out []Action
	for _, a := range p.Actions {
		if a.Type == SnapshotRAG {
			out = append(out, a)
		}
	}
	return out
}

// `cairn rag build` (rag.Snapshotter into the state store) makes the source
// current: the next plan has no snapshot_rag. A changed, an added and a
// removed document make one, naming them, from the built snapshot id.
func TestPlanRecognisesRAGBuild(t *testing.T) {
	ctx := context.Background()
	dir := copyExample(t, "support-assistant")
	b := compileExample(t, dir)
	st := newStore(t)
	opts := Plugins(st, PluginOptions{Approvals: 1})

	p, err := BuildPlan(ctx, b, st, opts)
	must(t, err)
	first := ragActions(t, p)
	if len(first) != 1 || first[0].Before != "" || !strings.HasPrefix(first[0].Reason, "never snapshotted (") {
		t.Fatalf("before any build: %+v", first)
	}

	snap, _, err := (rag.Snapshotter{Store: st}).BuildSource(ctx, b, "help-center")
	must(t, err)
	if first[0].After != snap.ID {
		t.Errorf("plan's after %s is not the id rag build stored %s", first[0].After, snap.ID)
	}
	p, err = BuildPlan(ctx, b, st, opts)
	must(t, err)
	if got := ragActions(t, p); len(got) != 0 {
		t.Fatalf("after rag build: %+v", got)
	}

	// Edit the knowledge base: one document changed, one added, one removed.
	kb := filepath.Join(dir, "kb")
	entries, err := os.ReadDir(kb)
	must(t, err)
	if len(entries) < 2 {
		t.Fatalf("example kb has %d documents", len(entries))
	}
	changed, removed := entries[0].Name(), entries[1].Name()
	f, err := os.OpenFile(filepath.Join(kb, changed), os.O_APPEND|os.O_WRONLY, 0)
	must(t, err)
	_, err = f.WriteString("\nA new paragraph about gift cards, which never expire.\n")
	must(t, err)
	f.Close()
	must(t, os.Remove(filepath.Join(kb, removed)))
	must(t, os.WriteFile(filepath.Join(kb, "zz-new.md"), []byte("# Shipping\n\nWe ship worldwide.\n"), 0o644))
	b = compileExample(t, dir)
	p, err = BuildPlan(ctx, b, st, opts)
	must(t, err)
	got := ragActions(t, p)
	if len(got) != 1 {
		t.Fatalf("after editing the kb: %+v", got)
	}
	a := got[0]
	for _, want := range []string{"added kb/zz-new.md", "changed kb/" + changed, "removed kb/" + removed} {
		if !strings.Contains(a.Reason, want) {
			t.Errorf("reason %q does not say %q", a.Reason, want)
		}
	}
	if a.Before != snap.ID || a.After == snap.ID || !strings.HasPrefix(a.After, "sha256:") {
		t.Errorf("before %s after %s (built %s)", a.Before, a.After, snap.ID)
	}

	// Apply snapshots it; the plan after that is clean again.
	_, err = PlanAndApply(ctx, b, st, ApplyOptions{Options: opts, Actor: "test", Now: fixedClock()})
	must(t, err)
	p, err = BuildPlan(ctx, b, st, opts)
	must(t, err)
	if got := ragActions(t, p); len(got) != 0 {
		t.Fatalf("after apply: %+v", got)
	}
}

func TestRAGReason(t *testing.T) {
	for _, tc := range []struct {
		d    rag.Diff
		want string
	}{
		{rag.Diff{To: "b", Added: []string{"a", "b"}}, "never snapshotted (2 documents)"},
		{rag.Diff{From: "a", To: "b", Added: []string{"1", "2", "3", "4", "5", "6", "7"}, Removed: []string{"x"}},
			"added 1, 2, 3, 4, 5 and 2 more; removed x"},
		{rag.Diff{From: "a", To: "b", Reembed: true, Reason: "chunking 800/100 → 400/50"}, "re-embed all: chunking 800/100 → 400/50"},
		{rag.Diff{From: "a", To: "b", Relabeled: []string{"kb/a.md"}}, "relabeled kb/a.md"},
	} {
		if got := ragReason(tc.d); got != tc.want {
			t.Errorf("ragReason(%+v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
