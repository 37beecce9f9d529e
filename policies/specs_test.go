package policies

import (
	"bufio"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/internal/diag"
)

const specsDir = "../testdata/policies"

// specNow is the fixed time the violating specs are evaluated at.
var specNow = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

// overlay copies base and then dir over it into a temp repo.
func overlay(t *testing.T, dirs ...string) string {
	t.Helper()
	out := t.TempDir()
	for _, d := range dirs {
		err := filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() || e.Name() == "want.txt" {
				return err
			}
			rel, _ := filepath.Rel(d, p)
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			dst := filepath.Join(out, rel)
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			return os.WriteFile(dst, b, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// checkRepo compiles dir and evaluates the policies on it, with
// input.context from the repo's context.json when it has one (what the
// pipeline computes from the state, such as bound_history).
func checkRepo(t *testing.T, e *Engine, dir string) diag.List {
	t.Helper()
	b, ds := compiler.Compile(dir, compiler.Options{})
	if b == nil || ds.Count(diag.Error) > 0 {
		t.Fatalf("spec does not compile:\n%s", render(ds))
	}
	var pctx map[string]any
	if raw, err := os.ReadFile(filepath.Join(dir, "context.json")); err == nil {
		if err := json.Unmarshal(raw, &pctx); err != nil {
			t.Fatalf("context.json: %v", err)
		}
	}
	l, err := e.Evaluate(context.Background(), b, specNow, pctx)
	if err != nil {
		t.Fatalf("Evaluate: %v", err)
	}
	return l
}

func TestBaseSpecIsClean(t *testing.T) {
	l := checkRepo(t, newEngine(t, Options{}), overlay(t, filepath.Join(specsDir, "base")))
	if len(l) != 0 {
		t.Fatalf("base spec has diagnostics:\n%s", render(l))
	}
}

// TestViolatingSpecs: for every built-in policy, a spec repo that violates it
// yields the rule id, target and position listed in its want.txt.
func TestViolatingSpecs(t *testing.T) {
	e := newEngine(t, Options{})
	entries, err := os.ReadDir(specsDir)
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, ent := range entries {
		if !ent.IsDir() || ent.Name() == "base" {
			continue
		}
		name := ent.Name()
		t.Run(name, func(t *testing.T) {
			want := readWant(t, filepath.Join(specsDir, name, "want.txt"))
			l := checkRepo(t, e, overlay(t, filepath.Join(specsDir, "base"), filepath.Join(specsDir, name)))
			got := map[string]bool{}
			for _, d := range l {
				got[string(d.Severity)+" "+d.Code+" "+d.Object+" "+d.Pos.String()] = true
			}
			for _, w := range want {
				covered[strings.Fields(w)[1]] = true
				if !got[w] {
					t.Errorf("missing %q in:\n%s", w, render(l))
				}
			}
		})
	}
	for _, p := range e.Policies() {
		if !covered[p.ID] {
			t.Errorf("no violating spec for policy %s", p.ID)
		}
	}
}

func readWant(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			out = append(out, line)
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s is empty", path)
	}
	return out
}

// The EU AI Act policies cite the regulation (the SARIF rule's helpUri).
func TestPoliciesCiteTheLaw(t *testing.T) {
	for _, p := range newEngine(t, Options{}).Policies() {
		if strings.HasPrefix(p.ID, "ai_") && p.HelpURI != "https://eur-lex.europa.eu/eli/reg/2024/1689/oj" {
			t.Errorf("policy %s cites %q", p.ID, p.HelpURI)
		}
	}
}
