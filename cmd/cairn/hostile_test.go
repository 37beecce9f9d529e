package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/reconciler"
	"github.com/cairn-dev/cairn/state"
)

// hostile is one hostile input: a change to an applied copy of the support
// example (or a file beside it), the command run on it, and what must come
// back: the exit code, a fragment of the message, and nothing else changed.
type hostile struct {
	name  string
	setup func(t *testing.T, dir string) // dir holds repo/ (applied) and room for other files
	args  []string
	code  int
	want  string // in stdout or stderr
}

// maxOutput bounds what a command may print for a hostile input.
const maxOutput = 64 << 10

func write(rel, content string) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func appendTo(rel, content string) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		f, err := os.OpenFile(filepath.Join(dir, filepath.FromSlash(rel)), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(content); err != nil {
			t.Fatal(err)
		}
	}
}

func replace(rel, old, new string) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(rel))
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte(old)) {
			t.Fatalf("%s has no %q", rel, old)
		}
		if err := os.WriteFile(p, bytes.Replace(b, []byte(old), []byte(new), 1), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func sparse(rel string, size int64) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		f, err := os.Create(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
	}
}

func hostileCorpus() []hostile {
	var cs []hostile
	add := func(h hostile) { cs = append(cs, h) }
	none := func(*testing.T, string) {}

	// Usage errors, on every command that takes a repo: exit 3, never 1 or 2.
	for _, c := range [][]string{{"vet"}, {"check"}, {"plan"}, {"apply"}, {"render"}, {"eval"}, {"compile"}, {"audit", "report"},
		{"rag", "build"}, {"policy", "list"}, {"data", "validate", "--feature-set", "x", "--data", "x.csv"}} {
		name := strings.Join(c[:min(len(c), 2)], "-")
		add(hostile{name + "/missing-repo", none, append(append([]string{}, c...), "no/such/dir"), 3, `spec repo "no/such/dir"`})
		want := `spec repo "afile" is not a directory`
		if c[0] == "apply" {
			want = "afile: not a cairn plan" // apply FILE: a file is a saved plan
		}
		add(hostile{name + "/file-as-repo", write("afile", "x"), append(append([]string{}, c...), "afile"), 3, want})
		add(hostile{name + "/unknown-flag", none, append(append([]string{}, c...), "repo", "--bogus"), 3, "unknown flag: --bogus"})
	}
	for _, c := range [][]string{{"vet"}, {"check"}, {"plan"}, {"eval"}, {"audit", "report"}, {"registry", "list"}, {"prompts", "list"},
		{"prompts", "history", "support-answer"}, {"render", "--only", "helm"}} {
		args := append(append([]string{}, c...), "repo")
		want := `unknown --format "yaml"`
		if c[0] == "render" {
			want = `unknown target "helm"`
		} else {
			args = append(args, "--format", "yaml")
		}
		add(hostile{strings.Join(c, "-") + "/bad-format", none, args, 3, want})
	}
	// Bad flag values.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"plan", "repo", "--approvals", "-1"}, "--approvals -1: must be 0 or more"},
		{[]string{"apply", "repo", "--approvals", "-1"}, "--approvals -1: must be 0 or more"},
		{[]string{"plan", "repo", "--approvals", "many"}, `invalid argument "many"`},
		{[]string{"eval", "repo", "--parallel", "0"}, "--parallel 0: must be 1..256"},
		{[]string{"eval", "repo", "--parallel", "100000"}, "--parallel 100000: must be 1..256"},
		{[]string{"eval", "repo", "nope"}, `no eval suite "nope"`},
		{[]string{"check", "repo", "--now", "yesterday"}, `--now "yesterday" is neither RFC 3339`},
		{[]string{"plan", "repo", "--now", "2026-13-45"}, `--now "2026-13-45"`},
		{[]string{"apply", "repo", "--now", "soon"}, `--now "soon"`},
		{[]string{"render", "repo", "--now", "0"}, `--now "0"`},
		{[]string{"audit", "report", "repo", "--now", "x"}, `--now "x"`},
		{[]string{"check", "repo", "--context", "novalue"}, `--context "novalue" is not key=value`},
		{[]string{"apply", "repo", "--lock-timeout", "forever"}, `invalid argument "forever"`},
		{[]string{"rag", "query", "nope", "q", "repo"}, `unknown rag source "nope"`},
		{[]string{"init", "--example", "nope", "newrepo"}, "nope"},
	} {
		add(hostile{strings.Join(c.args[:2], "-") + "/" + c.args[len(c.args)-1], none, c.args, 3, c.want})
	}
	// Hostile spec files: vet says where (2); plan, apply and render change nothing (1).
	big := strings.Repeat("x", 5<<20)
	specs := []struct {
		name  string
		setup func(*testing.T, string)
		want  string
	}{
		{"binary-cue", write("repo/specs/bin.cue", "package support\n\x00\x01\x02"), "bin.cue"},
		{"bad-utf8-cue", write("repo/specs/bad.cue", "package support\nproject: description: \"\xff\xfe\"\n"), "bad.cue"},
		{"huge-value", write("repo/specs/huge.cue", "package support\nproject: description: \""+big+"\"\n"), "huge.cue"},
		{"deep-nesting", write("repo/specs/deep.cue", "package support\nx: "+strings.Repeat("{a: ", 2000)+"1"+strings.Repeat("}", 2000)+"\n"), "deep.cue"},
		{"unknown-field", appendTo("repo/specs/prompts.cue", "\nprompts: \"support-answer\": colour: \"red\"\n"), `unknown field "colour"`},
		{"bad-name", appendTo("repo/specs/prompts.cue", "\nprompts: \"Bad Name\": {}\n"), `name "Bad Name" is not allowed`},
		{"nul-in-template", appendTo("repo/prompts/support-answer.tmpl", "\x00"), "support-answer.tmpl"},
		{"bad-utf8-template", appendTo("repo/prompts/support-answer.tmpl", "\xc3\x28"), "not valid UTF-8"},
		{"nul-in-dataset", appendTo("repo/evals/support-safety.jsonl", "{\"id\": \"x\x00\"}\n"), "a NUL byte on line"},
		{"dataset-not-json", appendTo("repo/evals/support-safety.jsonl", "{not json\n"), "dataset row is not a JSON object"},
		{"dataset-dup-id", appendTo("repo/evals/support-safety.jsonl", "{\"id\": \"s-angry\", \"vars\": {\"question\": \"q\", \"product\": \"p\"}}\n"), "repeats the id"},
		{"dataset-huge-line", appendTo("repo/evals/support-safety.jsonl", "{\"id\": \""+big+"\"}\n"), "support-safety.jsonl"},
		{"rag-doc-nul", appendTo("repo/kb/refunds.md", "\x00"), `"kb/refunds.md" is binary`},
		{"rag-doc-bad-utf8", appendTo("repo/kb/refunds.md", "\xff"), `"kb/refunds.md" is not valid UTF-8`},
		{"escaping-path", replace("repo/specs/prompts.cue", `"prompts/support-answer.tmpl"`, `"../outside.tmpl"`), "../outside.tmpl"},
		{"absolute-path", replace("repo/specs/evals.cue", `"evals/support-safety.jsonl"`, `"/etc/passwd"`), "/etc/passwd"},
		{"huge-number", appendTo("repo/specs/serving.cue", "\ndeployments: \"support-bot\": traffic: requests_per_day: 1e400\n"), "requests_per_day"},
		{"wrong-type", appendTo("repo/specs/serving.cue", "\ndeployments: \"support-bot\": namespace: 42\n"), "wrong type"},
	}
	for _, s := range specs {
		add(hostile{"vet/" + s.name, s.setup, []string{"vet", "repo"}, 2, s.want})
		add(hostile{"apply/" + s.name, s.setup, []string{"apply", "--approvals", "1", "repo"}, 1, s.want})
		add(hostile{"render/" + s.name, s.setup, []string{"render", "repo"}, 1, s.want})
	}
	// A key planted in a spec is denied and never printed.
	key := "sk-" + strings.Repeat("Q", 32)
	planted := replace("repo/specs/prompts.cue", `"Answers a customer question`, `"Use `+key+` to answer a customer question`)
	add(hostile{"check/key-in-description", planted, []string{"check", "repo"}, 1, "looks like an OpenAI API key"})
	add(hostile{"apply/key-in-description", planted, []string{"apply", "--approvals", "1", "repo"}, 1, "nothing changed"})
	add(hostile{"render/key-in-description", planted, []string{"render", "repo"}, 1, "nothing changed"})
	// Hostile data files: rejected with the file named, in little memory (3).
	data := []struct {
		name  string
		setup func(*testing.T, string)
		file  string
		want  string
	}{
		{"nul-csv", sparse("nul.csv", 200<<20), "nul.csv", "a NUL byte"},
		{"long-line-csv", write("long.csv", "transaction-id,txn-amount,merchant-category,account-age-days,txn-count-24h,cardholder-country\nt1,"+big+"\n"), "long.csv", "a line longer than"},
		{"ragged-csv", write("ragged.csv", "transaction-id,txn-amount,merchant-category,account-age-days,txn-count-24h,cardholder-country\nt1,2,other,3,4,US,extra\n"), "ragged.csv", "ragged row"},
		{"empty-csv", write("empty.csv", ""), "empty.csv", "empty file"},
		{"dup-header-csv", write("dup.csv", "a,a\n1,2\n"), "dup.csv", `column "a" appears twice`},
		{"numeric-header-csv", write("num.csv", "1,2\n3,4\n"), "num.csv", "looks like data"},
		{"text-as-parquet", write("fake.parquet", "this is not parquet"), "fake.parquet", "not a readable Parquet file"},
		{"truncated-parquet", write("trunc.parquet", "PAR1\x00\x00"), "trunc.parquet", "Parquet"},
		{"missing-file", none, "absent.csv", "absent.csv"},
	}
	for _, d := range data {
		add(hostile{"drift/" + d.name, d.setup, []string{"drift", "fraud", "--model", "fraud-detector", "--reference", "fraud/data/reference.parquet", "--current", d.file, "--no-record"}, 3, d.want})
		add(hostile{"validate/" + d.name, d.setup, []string{"data", "validate", "fraud", "--feature-set", "fraud-detector", "--data", d.file, "--no-record"}, 3, d.want})
	}
	// Hostile predictions files for the fraud example's classic eval: an
	// invalid spec when the file itself is unreadable (2), a row error when a
	// row is wrong (1); nothing is recorded either way.
	preds := "fraud/evals/holdout-predictions.csv"
	header := "transaction_id,model_version,label,score,region,age_band\n"
	for _, p := range []struct {
		name  string
		setup func(*testing.T, string)
		code  int
		want  string
	}{
		{"nul-200mb", sparse(preds, 200<<20), 2, "limit 64 MiB; raise it with --max-file-size"},
		{"binary", write(preds, "\x00\x01\x02PAR1"), 2, "is binary"},
		{"not-utf8", write(preds, header+"t1,7,1,0.9,\xff,18-25\n"), 2, "not valid UTF-8"},
		{"ragged", write(preds, header+"t1,7,1,0.9,north\n"), 1, "ragged row"},
		{"label-outside", write(preds, header+"t1,7,2,0.9,north,18-25\n"), 1, `row 1: label "2": not one of the classes`},
		{"probability-outside", write(preds, header+"t1,7,1,-0.1,north,18-25\n"), 1, "row 1: score -0.1 is a probability outside [0, 1]"},
		{"no-rows", write(preds, header), 1, "no predictions"},
		{"missing-column", write(preds, "transaction_id,model_version,label,region,age_band\nt1,7,1,north,18-25\n"), 1, `"score" not found`},
	} {
		add(hostile{"classic-eval/" + p.name, p.setup, []string{"eval", "fraud", "fraud-fairness", "--no-state"}, p.code, p.want})
	}
	// Bad limit values, by flag and environment, on any command: usage errors.
	for _, c := range [][]string{{"vet", "repo", "--max-rows", "0"}, {"check", "repo", "--max-file-size", "lots"}, {"eval", "repo", "--max-line-length", "-1"}} {
		add(hostile{"limits/" + c[0] + c[2], none, c, 3, c[2] + ": "})
	}

	// Files that are not plans.
	for _, p := range []struct{ name, content, want string }{
		{"garbage", "{oops", "not a cairn plan: invalid JSON at line 1, column 2"},
		{"array", "[]", "not a cairn plan"},
		{"wrong-version", `{"format_version": "99.0", "bundle_hash": "sha256:a", "state": {"fingerprint": "f"}, "actions": []}`, `format_version "99.0"`},
		{"unknown-action", `{"format_version": "2.0", "bundle_hash": "sha256:a", "state": {"fingerprint": "f"}, "actions": [{"type": "rm_rf", "status": "ready"}]}`, `unknown type "rm_rf"`},
		{"no-state", `{"format_version": "2.0", "bundle_hash": "sha256:a", "actions": []}`, "no state reference"},
		{"odd-status", `{"format_version": "2.0", "bundle_hash": "sha256:a", "state": {"fingerprint": "f"}, "actions": [{"type": "run_eval", "status": "yes please"}]}`, "neither ready nor blocked"},
	} {
		add(hostile{"apply-plan/" + p.name, write("p.plan", p.content), []string{"apply", "p.plan", "repo"}, 3, p.want})
	}
	add(hostile{"apply-plan/huge", sparse("huge.plan", 70<<20), []string{"apply", "huge.plan", "repo"}, 3, "larger than"})
	add(hostile{"apply-plan/stale", write("stale.plan", `{"format_version": "2.0", "bundle_hash": "sha256:0000", "state": {"fingerprint": "sha256:1"}, "actions": []}`),
		[]string{"apply", "stale.plan", "repo"}, 5, "the saved plan is stale: the specs changed"})
	return cs
}

// TestHostileInputs runs the corpus: each case gets the exit code and
// message it names, prints at most maxOutput, and leaves the state and the
// audit chain exactly as they were.
func TestHostileInputs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary over a hundred times")
	}
	corpus := hostileCorpus()
	if len(corpus) < 100 {
		t.Fatalf("the corpus has %d cases, want at least 100", len(corpus))
	}
	bin := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", filepath.Join(bin, "cairn"), ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cairn := filepath.Join(bin, "cairn")
	// One applied support example and one fraud example, copied per case.
	golden := t.TempDir()
	for _, args := range [][]string{{"init", "--example", "support", "repo"}, {"apply", "--approvals", "1", "repo"}, {"init", "--example", "fraud", "fraud"}} {
		cmd := exec.Command(cairn, args...)
		cmd.Dir, cmd.Env = golden, append(os.Environ(), "CAIRN_STATE=", "CAIRN_ACTOR=hostile")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	statePath := filepath.Join("repo", ".cairn", "state.db")
	before := stateRef(t, filepath.Join(golden, statePath))
	for _, c := range corpus {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.CopyFS(dir, os.DirFS(golden)); err != nil {
				t.Fatal(err)
			}
			c.setup(t, dir)
			cmd := exec.Command(cairn, c.args...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "CAIRN_STATE=", "CAIRN_ACTOR=hostile", "OPENAI_API_KEY=", "GITHUB_TOKEN=")
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			got := out.String()
			if code != c.code || !strings.Contains(got, c.want) {
				t.Errorf("%v: exit %d, want %d with %q; output:\n%.2000s", c.args, code, c.code, c.want, got)
			}
			if out.Len() > maxOutput {
				t.Errorf("%v printed %d bytes, more than %d", c.args, out.Len(), maxOutput)
			}
			if strings.Contains(got, "panic:") || strings.Contains(got, "goroutine ") {
				t.Errorf("%v: a Go stack trace:\n%.2000s", c.args, got)
			}
			if strings.Contains(got, "sk-"+strings.Repeat("Q", 32)) {
				t.Errorf("%v printed a planted key", c.args)
			}
			// A refused apply is recorded (apply_denied: policy, target and
			// position, never the input); nothing else may change.
			if after := stateRef(t, filepath.Join(dir, statePath)); after != before {
				for _, e := range auditAfter(t, filepath.Join(dir, statePath), int64(before.Serial)) {
					if e.Action != reconciler.AuditApplyDenied || strings.Contains(e.After, "sk-") {
						t.Errorf("%v changed the state: %+v → %+v (entry %+v)", c.args, before, after, e)
					}
				}
			}
		})
	}
}

// auditAfter returns the audit entries after the first n.
func auditAfter(t *testing.T, path string, n int64) []state.AuditEntry {
	t.Helper()
	st, err := state.OpenExisting(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log, err := st.ListAudit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(log)) < n {
		t.Fatalf("the audit log shrank from %d to %d entries", n, len(log))
	}
	return log[n:]
}

func stateRef(t *testing.T, path string) reconciler.StateRef {
	t.Helper()
	ctx := context.Background()
	st, err := state.OpenExisting(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ref, err := reconciler.ReadStateRef(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	log, err := st.ListAudit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p := state.VerifyAudit(log, ""); p != nil {
		t.Fatalf("audit chain: %v", p)
	}
	return ref
}
