package gitops

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/audit"
	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/reconciler"
	"github.com/cairn-dev/cairn/state"
)

// LocalDrift after a reconcile: an audited move to something the spec does
// not say is "moved since the last reconcile", an unaudited change is
// "changed outside cairn", a move back to the spec's value is no drift, and
// a hand edit of a rendered file in the directory is found.
func TestLocalDrift(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	r := f.reconciler(t)
	if run := mustRun(t, r); run.Result != ResultApplied {
		t.Fatalf("first run: %s", run.Result)
	}
	co, err := Fetch(ctx, f.repo.dir, "", f.cache) // the clone reconcile rendered into
	if err != nil {
		t.Fatal(err)
	}
	b, ds := compiler.Compile(co.Dir, compiler.Options{})
	if b == nil || len(ds) > 0 {
		t.Fatalf("compile: %v", ds)
	}
	local := func() []DriftItem {
		t.Helper()
		rep, err := audit.BuildReport(ctx, b, f.st, fixedNow)
		if err != nil {
			t.Fatal(err)
		}
		items, err := LocalDrift(ctx, b, f.st, co.Dir, rep, nil, fixedNow)
		if err != nil {
			t.Fatal(err)
		}
		return items
	}
	if items := local(); len(items) != 0 {
		t.Fatalf("drift right after reconcile: %v", items)
	}

	move := func(name, from, to string, audited bool) {
		t.Helper()
		err := f.st.Update(ctx, func(tx state.Ops) error {
			if err := tx.SetPointer(ctx, "prompts/support-answer", name, from, to); err != nil {
				return err
			}
			if !audited {
				return nil
			}
			_, err := tx.AppendAudit(ctx, state.AuditEntry{Time: fixedNow, Actor: "eve", Action: string(reconciler.MovePromptLabel),
				Object: "prompts/support-answer", After: `{"name":"` + name + `","version":"` + to + `","gates":[]}`})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	move("staging", "1.4.0", "1.3.0", true) // e.g. an apply of another branch
	move("prod", "1.4.0", "1.2.0", false)   // a database edit
	var got []string
	for _, d := range local() {
		got = append(got, d.String())
	}
	want := []string{
		"specs/prompts.cue:", // prod: unaudited, positioned at the spec's label
		"pointer_moved prompts/support-answer: prod is 1.2.0 in state but its last audited move (audit #",
		"pointer_moved prompts/support-answer: staging moved outside git: reconciled at 1.4.0, state now has 1.3.0 (audit #",
	}
	if len(got) != 2 || !strings.HasPrefix(got[0], want[0]) || !strings.Contains(got[0], want[1]) || !strings.HasPrefix(got[1], want[2]) {
		t.Fatalf("drift:\n%s\nwant items like:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Back to what the spec says (audited): no pointer drift; a hand edit of
	// a rendered file is found.
	move("staging", "1.3.0", "1.4.0", true)
	move("prod", "1.2.0", "1.4.0", true)
	if items := local(); len(items) != 0 {
		t.Fatalf("drift after moving back to the spec: %v", items)
	}
	p := filepath.Join(co.Dir, "rendered", "kubernetes", "support", "support-bot.yaml")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, append(data, "# edited\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	if items := local(); len(items) != 1 || items[0].Kind != DriftRenderedEdited {
		t.Fatalf("drift after a hand edit: %v", items)
	}
}
