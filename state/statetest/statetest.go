// Package statetest is the conformance suite every state.Store backend must
// pass unchanged: statetest.Run(t, func(t *testing.T) state.Store { … }).
// The factory must return a new, empty, migrated store each call.
package statetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/state"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

// Run runs every conformance test as a subtest.
func Run(t *testing.T, newStore func(t *testing.T) state.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s state.Store)
	}{
		{"Migrations", testMigrations},
		{"ModelVersions", testModelVersions},
		{"Explanations", testExplanations},
		{"TrainingRuns", testTrainingRuns},
		{"FirstSeqAt", testFirstSeqAt},
		{"PromptVersions", testPromptVersions},
		{"Pointers", testPointers},
		{"EvalRuns", testEvalRuns},
		{"Rendered", testRendered},
		{"Records", testRecords},
		{"Transactions", testTransactions},
		{"Locks", testLocks},
		{"Audit", testAudit},
		{"AuditQueries", testAuditQueries},
		{"ModelTrigger", testModelTrigger},
		{"EvalProvenance", testEvalProvenance},
		{"ConcurrentWriters", testConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testMigrations(t *testing.T, s state.Store) {
	v, err := s.SchemaVersion(context.Background())
	must(t, err)
	if v < 1 {
		t.Fatalf("schema version %d after open, want >= 1", v)
	}
}

func testModelVersions(t *testing.T, s state.Store) {
	ctx := context.Background()
	mv := state.ModelVersion{Model: "fraud", Version: "7", ArtifactURI: "s3://m/7", Metrics: map[string]float64{"auc": 0.93, "f1": 0.5},
		DataSnapshot: "snap-1", Features: []string{"b", "a"}, Commit: "abc", RegisteredAt: t0, RegisteredBy: "ci"}
	created, err := s.RegisterModelVersion(ctx, mv)
	must(t, err)
	if !created {
		t.Fatal("first registration: created = false")
	}
	// Same content again (even at another time, in another order) is a no-op.
	again := mv
	again.Features = []string{"a", "b"}
	again.RegisteredAt = t0.Add(time.Hour)
	created, err = s.RegisterModelVersion(ctx, again)
	must(t, err)
	if created {
		t.Fatal("re-registering identical content: created = true")
	}
	bad := mv
	bad.Metrics = map[string]float64{"auc": 0.99}
	_, err = s.RegisterModelVersion(ctx, bad)
	if !state.IsConflict(err) {
		t.Fatalf("different content under the same version: err = %v, want conflict", err)
	}
	if err != nil && !bytes.Contains([]byte(err.Error()), []byte("0.99")) {
		t.Errorf("conflict error does not show the differing value: %v", err)
	}
	got, err := s.GetModelVersion(ctx, "fraud", "7")
	must(t, err)
	if !got.RegisteredAt.Equal(t0) || got.ArtifactURI != mv.ArtifactURI || got.Metrics["auc"] != 0.93 || got.ContentHash() != mv.ContentHash() {
		t.Fatalf("got %+v, want %+v", got, mv)
	}
	if _, err := s.GetModelVersion(ctx, "fraud", "8"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("missing version: err = %v, want ErrNotFound", err)
	}
	for _, v := range []string{"10", "2"} {
		m := mv
		m.Version = v
		_, err := s.RegisterModelVersion(ctx, m)
		must(t, err)
	}
	other := mv
	other.Model = "churn"
	_, err = s.RegisterModelVersion(ctx, other)
	must(t, err)
	list, err := s.ListModelVersions(ctx, "fraud")
	must(t, err)
	var vs []string
	for _, m := range list {
		vs = append(vs, m.Version)
	}
	if !reflect.DeepEqual(vs, []string{"2", "7", "10"}) {
		t.Fatalf("versions = %v, want numeric order [2 7 10]", vs)
	}
	all, err := s.ListModelVersions(ctx, "")
	must(t, err)
	if len(all) != 4 || all[0].Model != "churn" {
		t.Fatalf("all versions: %d, first %q", len(all), all[0].Model)
	}
	if _, err := s.RegisterModelVersion(ctx, state.ModelVersion{Model: "x"}); err == nil {
		t.Fatal("registering without a version succeeded")
	}
}

func testPromptVersions(t *testing.T, s state.Store) {
	ctx := context.Background()
	pv := state.PromptVersion{Prompt: "answer", Version: "1.2.0", ContentHash: "sha256:aa", Template: "Hi {{ name }}",
		Messages: []state.Message{{Role: "system", Content: "be nice"}},
		Model:    state.PromptModel{Provider: "openai", ID: "gpt-4o-mini", Temperature: 0.2, MaxTokens: 256},
		Inputs:   []string{"name"}, RegisteredAt: t0}
	created, err := s.RegisterPromptVersion(ctx, pv)
	must(t, err)
	if !created {
		t.Fatal("created = false")
	}
	created, err = s.RegisterPromptVersion(ctx, pv)
	must(t, err)
	if created {
		t.Fatal("identical re-registration created = true")
	}
	bad := pv
	bad.ContentHash = "sha256:bb"
	_, err = s.RegisterPromptVersion(ctx, bad)
	if !state.IsConflict(err) || !bytes.Contains([]byte(err.Error()), []byte("sha256:aa")) || !bytes.Contains([]byte(err.Error()), []byte("sha256:bb")) {
		t.Fatalf("changed content: err = %v, want a conflict naming both hashes", err)
	}
	got, err := s.GetPromptVersion(ctx, "answer", "1.2.0")
	must(t, err)
	if !reflect.DeepEqual(got.Messages, pv.Messages) || got.Model != pv.Model || got.Template != pv.Template || !reflect.DeepEqual(got.Inputs, pv.Inputs) {
		t.Fatalf("got %+v", got)
	}
	p2 := pv
	p2.Version, p2.ContentHash = "1.10.0", "sha256:cc"
	_, err = s.RegisterPromptVersion(ctx, p2)
	must(t, err)
	p3 := pv
	p3.Version, p3.ContentHash = "1.9.0", "sha256:dd"
	_, err = s.RegisterPromptVersion(ctx, p3)
	must(t, err)
	list, err := s.ListPromptVersions(ctx, "answer")
	must(t, err)
	if len(list) != 3 || list[0].Version != "1.2.0" || list[2].Version != "1.10.0" {
		t.Fatalf("list order: %+v", list)
	}
	if _, err := s.GetPromptVersion(ctx, "answer", "9.9.9"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
}

func testPointers(t *testing.T, s state.Store) {
	ctx := context.Background()
	if _, ok, err := s.GetPointer(ctx, "models/fraud", "prod"); err != nil || ok {
		t.Fatalf("empty store: ok=%v err=%v", ok, err)
	}
	must(t, s.SetPointer(ctx, "models/fraud", "prod", "", "7"))
	must(t, s.SetPointer(ctx, "prompts/answer", "prod", "", "1.2.0"))
	if err := s.SetPointer(ctx, "models/fraud", "prod", "", "8"); !state.IsConflict(err) {
		t.Fatalf("create over an existing pointer: err = %v, want conflict", err)
	}
	if err := s.SetPointer(ctx, "models/fraud", "prod", "6", "8"); !state.IsConflict(err) {
		t.Fatalf("stale compare-and-set: err = %v, want conflict", err)
	}
	must(t, s.SetPointer(ctx, "models/fraud", "prod", "7", "8"))
	v, ok, err := s.GetPointer(ctx, "models/fraud", "prod")
	must(t, err)
	if !ok || v != "8" {
		t.Fatalf("prod = %q %v, want 8", v, ok)
	}
	must(t, s.SetPointer(ctx, "models/fraud", "staging", "", "9"))
	ps, err := s.ListPointers(ctx, "models/")
	must(t, err)
	want := []state.Pointer{{Object: "models/fraud", Name: "prod", Version: "8"}, {Object: "models/fraud", Name: "staging", Version: "9"}}
	if !reflect.DeepEqual(ps, want) {
		t.Fatalf("pointers = %v, want %v", ps, want)
	}
	must(t, s.SetPointer(ctx, "models/fraud", "staging", "9", ""))
	if _, ok, _ := s.GetPointer(ctx, "models/fraud", "staging"); ok {
		t.Fatal("deleted pointer still present")
	}
	all, err := s.ListPointers(ctx, "")
	must(t, err)
	if len(all) != 2 {
		t.Fatalf("all pointers = %v", all)
	}
}

func testEvalRuns(t *testing.T, s state.Store) {
	ctx := context.Background()
	run := state.EvalRun{Eval: "factuality", EvalHash: "sha256:e1", Target: "prompts/answer", TargetVersion: "1.2.0", SubjectHash: "sha256:aa",
		Passed: false, Metrics: map[string]float64{"fact": 0.7}, Summary: "fact 0.70 < 0.80", StartedAt: t0, FinishedAt: t0.Add(time.Second),
		Cases: []state.CaseResult{{CaseID: "c1", Status: state.CasePass, Scores: map[string]float64{"fact": 1}}, {CaseID: "c2", Status: state.CaseError, Error: "timeout"}}}
	id1, err := s.RecordEvalRun(ctx, run)
	must(t, err)
	run.Passed, run.Metrics = true, map[string]float64{"fact": 0.9}
	id2, err := s.RecordEvalRun(ctx, run)
	must(t, err)
	if id2 <= id1 {
		t.Fatalf("ids not increasing: %d then %d", id1, id2)
	}
	got, err := s.GetEvalRun(ctx, id1)
	must(t, err)
	if got.Passed || len(got.Cases) != 2 || got.Cases[1].Status != state.CaseError || got.Cases[1].Error != "timeout" || got.Cases[0].Scores["fact"] != 1 || !got.FinishedAt.Equal(t0.Add(time.Second)) {
		t.Fatalf("run %d = %+v", id1, got)
	}
	latest, ok, err := s.LatestEvalRun(ctx, "factuality", "sha256:aa", "sha256:e1")
	must(t, err)
	if !ok || latest.ID != id2 || !latest.Passed {
		t.Fatalf("latest = %+v ok=%v, want run %d passed", latest, ok, id2)
	}
	if _, ok, _ := s.LatestEvalRun(ctx, "factuality", "sha256:aa", "sha256:OTHER"); ok {
		t.Fatal("a run for another suite definition counted as evidence")
	}
	if _, ok, _ := s.LatestEvalRun(ctx, "factuality", "sha256:zz", "sha256:e1"); ok {
		t.Fatal("a run for another subject counted as evidence")
	}
	runs, err := s.ListEvalRuns(ctx, "factuality")
	must(t, err)
	if len(runs) != 2 {
		t.Fatalf("runs = %d", len(runs))
	}
	if _, err := s.GetEvalRun(ctx, 999); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
}

func testRendered(t *testing.T, s state.Store) {
	ctx := context.Background()
	must(t, s.SetRenderedHash(ctx, "rendered/k8s/a.yaml", "sha256:1"))
	must(t, s.SetRenderedHash(ctx, "rendered/k8s/a.yaml", "sha256:2"))
	must(t, s.SetRenderedHash(ctx, "rendered/k8s/b.yaml", "sha256:3"))
	must(t, s.SetRenderedHash(ctx, "rendered/k8s/b.yaml", ""))
	m, err := s.RenderedHashes(ctx)
	must(t, err)
	if !reflect.DeepEqual(m, map[string]string{"rendered/k8s/a.yaml": "sha256:2"}) {
		t.Fatalf("rendered = %v", m)
	}
}

func testRecords(t *testing.T, s state.Store) {
	ctx := context.Background()
	bin := []byte{0, 1, 2, 0xff}
	must(t, s.PutRecord(ctx, "cache", "a/1", []byte("x")))
	must(t, s.PutRecord(ctx, "cache", "a/1", bin)) // upsert
	must(t, s.PutRecord(ctx, "cache", "a%_2", []byte("y")))
	must(t, s.PutRecord(ctx, "cache", "b/1", []byte{}))
	must(t, s.PutRecord(ctx, "other", "a/1", []byte("z")))
	v, ok, err := s.GetRecord(ctx, "cache", "a/1")
	must(t, err)
	if !ok || !bytes.Equal(v, bin) {
		t.Fatalf("get = %v %v", v, ok)
	}
	v, ok, err = s.GetRecord(ctx, "cache", "b/1")
	must(t, err)
	if !ok || v == nil || len(v) != 0 {
		t.Fatalf("empty value: %v %v (want present, empty, non-nil)", v, ok)
	}
	if _, ok, _ := s.GetRecord(ctx, "cache", "nope"); ok {
		t.Fatal("missing record found")
	}
	m, err := s.ListRecords(ctx, "cache", "a")
	must(t, err)
	if len(m) != 2 || !bytes.Equal(m["a/1"], bin) || string(m["a%_2"]) != "y" {
		t.Fatalf("list prefix a = %v", m)
	}
	m, err = s.ListRecords(ctx, "cache", "a%")
	must(t, err)
	if len(m) != 1 {
		t.Fatalf("prefix with %% is literal: got %v", m)
	}
	m, err = s.ListRecords(ctx, "cache", "")
	must(t, err)
	if len(m) != 3 {
		t.Fatalf("list all = %d", len(m))
	}
	must(t, s.DeleteRecord(ctx, "cache", "a/1"))
	must(t, s.DeleteRecord(ctx, "cache", "never-existed"))
	if _, ok, _ := s.GetRecord(ctx, "cache", "a/1"); ok {
		t.Fatal("deleted record still present")
	}
	// By prefix: literal (% and _ are not patterns), this kind only.
	for _, k := range []string{"run/1", "run/2", "run%x", "runé/1", "rux", "runé/2"} {
		must(t, s.PutRecord(ctx, "results", k, []byte("v")))
	}
	must(t, s.PutRecord(ctx, "other", "run/1", []byte("v")))
	must(t, s.DeleteRecords(ctx, "results", "run_"))
	must(t, s.DeleteRecords(ctx, "results", "run/"))
	must(t, s.DeleteRecords(ctx, "results", "runé/1"))
	m, err = s.ListRecords(ctx, "results", "")
	must(t, err)
	if len(m) != 3 || m["run%x"] == nil || m["rux"] == nil || m["runé/2"] == nil {
		t.Fatalf("after deleting the prefixes run_, run/ and runé/1: %v", m)
	}
	if _, ok, _ := s.GetRecord(ctx, "other", "run/1"); !ok {
		t.Fatal("a prefix delete reached another kind")
	}
	ins, err := s.PutRecordOnce(ctx, "jobs", "k", []byte("first"))
	must(t, err)
	if !ins {
		t.Fatal("PutRecordOnce on absent key: inserted = false")
	}
	ins, err = s.PutRecordOnce(ctx, "jobs", "k", []byte("second"))
	must(t, err)
	if ins {
		t.Fatal("PutRecordOnce on present key: inserted = true")
	}
	v, _, _ = s.GetRecord(ctx, "jobs", "k")
	if string(v) != "first" {
		t.Fatalf("PutRecordOnce overwrote: %q", v)
	}
}

func testTransactions(t *testing.T, s state.Store) {
	ctx := context.Background()
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx state.Ops) error {
		must(t, tx.PutRecord(ctx, "k", "a", []byte("1")))
		must(t, tx.SetPointer(ctx, "models/m", "prod", "", "1"))
		if _, err := tx.AppendAudit(ctx, state.AuditEntry{Time: t0, Actor: "x", Action: "a", Object: "o"}); err != nil {
			return err
		}
		if _, err := tx.RecordEvalRun(ctx, state.EvalRun{Eval: "e", SubjectHash: "h", Cases: []state.CaseResult{{CaseID: "1", Status: state.CasePass}}}); err != nil {
			return err
		}
		// Reads inside the transaction see its own writes.
		if v, ok, _ := tx.GetRecord(ctx, "k", "a"); !ok || string(v) != "1" {
			t.Errorf("read-your-writes inside Update failed: %q %v", v, ok)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v, want fn's error", err)
	}
	if _, ok, _ := s.GetRecord(ctx, "k", "a"); ok {
		t.Fatal("record written by a rolled-back transaction is visible")
	}
	if _, ok, _ := s.GetPointer(ctx, "models/m", "prod"); ok {
		t.Fatal("pointer written by a rolled-back transaction is visible")
	}
	if a, _ := s.ListAudit(ctx); len(a) != 0 {
		t.Fatal("audit entry of a rolled-back transaction is visible")
	}
	if r, _ := s.ListEvalRuns(ctx, ""); len(r) != 0 {
		t.Fatal("eval run of a rolled-back transaction is visible")
	}
	// A failing write (conflict) inside Update rolls back the earlier ones too.
	must(t, s.SetPointer(ctx, "models/m", "prod", "", "1"))
	err = s.Update(ctx, func(tx state.Ops) error {
		must(t, tx.PutRecord(ctx, "k", "b", []byte("1")))
		return tx.SetPointer(ctx, "models/m", "prod", "0", "2")
	})
	if !state.IsConflict(err) {
		t.Fatalf("err = %v, want conflict", err)
	}
	if _, ok, _ := s.GetRecord(ctx, "k", "b"); ok {
		t.Fatal("write before a failed compare-and-set was committed")
	}
	must(t, s.Update(ctx, func(tx state.Ops) error {
		if err := tx.PutRecord(ctx, "k", "c", []byte("1")); err != nil {
			return err
		}
		_, err := tx.AppendAudit(ctx, state.AuditEntry{Time: t0, Actor: "x", Action: "a", Object: "o"})
		return err
	}))
	if _, ok, _ := s.GetRecord(ctx, "k", "c"); !ok {
		t.Fatal("committed record missing")
	}
	if a, _ := s.ListAudit(ctx); len(a) != 1 {
		t.Fatalf("committed audit entries = %d, want 1", len(a))
	}
}

func testLocks(t *testing.T, s state.Store) {
	ctx := context.Background()
	a := state.LockHolder{ID: "a-1", Actor: "alice", Host: "h1", PID: 10, Since: t0}
	b := state.LockHolder{ID: "b-1", Actor: "bob", Host: "h2", PID: 20, Since: t0.Add(time.Minute)}
	cur, ok, err := s.AcquireLock(ctx, "apply", a)
	must(t, err)
	if !ok || cur.ID != "a-1" {
		t.Fatalf("first acquire: %+v %v", cur, ok)
	}
	cur, ok, err = s.AcquireLock(ctx, "apply", b)
	must(t, err)
	if ok {
		t.Fatal("second holder acquired a held lock")
	}
	if cur.ID != "a-1" || cur.Actor != "alice" || cur.Host != "h1" || cur.PID != 10 || !cur.Since.Equal(t0) {
		t.Fatalf("holder reported as %+v, want alice's", cur)
	}
	if _, ok, _ := s.AcquireLock(ctx, "other", b); !ok {
		t.Fatal("locks with other names are independent")
	}
	if rel, _ := s.ReleaseLock(ctx, "apply", "b-1"); rel {
		t.Fatal("a non-holder released the lock")
	}
	rel, err := s.ReleaseLock(ctx, "apply", "a-1")
	must(t, err)
	if !rel {
		t.Fatal("holder could not release")
	}
	if _, ok, _ := s.AcquireLock(ctx, "apply", b); !ok {
		t.Fatal("lock not acquirable after release")
	}
}

func testAudit(t *testing.T, s state.Store) {
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		e, err := s.AppendAudit(ctx, state.AuditEntry{Time: t0.Add(time.Duration(i) * time.Second), Actor: "alice", Commit: "c0ffee",
			Action: "move_model_alias", Object: "models/fraud", Before: `{"prod":"6"}`, After: fmt.Sprintf(`{"prod":"%d"}`, i)})
		must(t, err)
		if e.Seq != int64(i+1) || e.Hash == "" || e.PrevHash == "" {
			t.Fatalf("entry %d: %+v", i, e)
		}
	}
	log, err := s.ListAudit(ctx)
	must(t, err)
	if len(log) != 5 {
		t.Fatalf("len = %d", len(log))
	}
	if p := state.VerifyAudit(log, log[4].Hash); p != nil {
		t.Fatalf("fresh chain does not verify: %v", p)
	}
	if log[0].PrevHash != state.GenesisHash || log[1].PrevHash != log[0].Hash {
		t.Fatal("chain links wrong")
	}
	if !log[2].Time.Equal(t0.Add(2*time.Second)) || log[2].Commit != "c0ffee" || log[2].After != `{"prod":"2"}` {
		t.Fatalf("entry 3 round trip: %+v", log[2])
	}
}

// testAuditQueries: indexed, streamed reads by object, action, time and
// sequence, newest first with a limit; the head.
func testAuditQueries(t *testing.T, s state.Store) {
	ctx := context.Background()
	if _, ok, err := s.AuditHead(ctx); err != nil || ok {
		t.Fatalf("head of an empty log: ok=%v err=%v", ok, err)
	}
	objects := []string{"deployments/a", "models/m", "deployments/b"}
	for i := 0; i < 9; i++ {
		action := "serve"
		if objects[i%3] == "models/m" {
			action = "move_model_alias"
		}
		_, err := s.AppendAudit(ctx, state.AuditEntry{Time: t0.Add(time.Duration(i) * time.Minute), Actor: "ci", Action: action, Object: objects[i%3], After: fmt.Sprint(i)})
		must(t, err)
	}
	seqs := func(q state.AuditQuery) []int64 {
		t.Helper()
		var out []int64
		must(t, s.ScanAudit(ctx, q, func(e state.AuditEntry) error {
			if e.Hash != state.ChainHash(e, e.PrevHash) {
				t.Fatalf("entry %d read back does not hash to its stored hash", e.Seq)
			}
			out = append(out, e.Seq)
			return nil
		}))
		return out
	}
	for _, tc := range []struct {
		name string
		q    state.AuditQuery
		want []int64
	}{
		{"all", state.AuditQuery{}, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"object", state.AuditQuery{Object: "deployments/a"}, []int64{1, 4, 7}},
		{"action", state.AuditQuery{Action: "serve"}, []int64{1, 3, 4, 6, 7, 9}},
		{"object and action", state.AuditQuery{Object: "models/m", Action: "serve"}, nil},
		{"time range", state.AuditQuery{From: t0.Add(2 * time.Minute), To: t0.Add(5 * time.Minute)}, []int64{3, 4, 5}},
		{"the last before a time", state.AuditQuery{Object: "deployments/b", To: t0.Add(5*time.Minute + time.Second), Desc: true, Limit: 1}, []int64{6}},
		// As text, "…:02:00Z" sorts after "…:02:00.000000001Z": times are compared as times.
		{"a bound with a fraction", state.AuditQuery{From: t0.Add(2*time.Minute + time.Nanosecond), To: t0.Add(4*time.Minute + time.Nanosecond)}, []int64{4, 5}},
		{"after a sequence", state.AuditQuery{AfterSeq: 7}, []int64{8, 9}},
		{"up to a sequence", state.AuditQuery{ToSeq: 2}, []int64{1, 2}},
		{"newest first", state.AuditQuery{Desc: true, Limit: 2}, []int64{9, 8}},
	} {
		if got := seqs(tc.q); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: seqs %v, want %v", tc.name, got, tc.want)
		}
	}
	stop := fmt.Errorf("stop")
	n := 0
	if err := s.ScanAudit(ctx, state.AuditQuery{}, func(state.AuditEntry) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("a callback error stops the scan: err=%v after %d entries", err, n)
	}
	head, ok, err := s.AuditHead(ctx)
	must(t, err)
	if !ok || head.Seq != 9 {
		t.Fatalf("head = %+v", head)
	}
	// An entry older than the head is refused, and nothing is written; the
	// head's own time is allowed (several entries of one apply share it).
	_, err = s.AppendAudit(ctx, state.AuditEntry{Time: t0.Add(3 * time.Minute), Actor: "ci", Action: "serve", Object: "deployments/a"})
	var toe *state.TimeOrderError
	if !errors.As(err, &toe) || toe.HeadSeq != 9 {
		t.Fatalf("an entry older than the head: err=%v, want a TimeOrderError naming #9", err)
	}
	if head, _, _ := s.AuditHead(ctx); head.Seq != 9 {
		t.Fatalf("the refused entry was written: head #%d", head.Seq)
	}
	_, err = s.AppendAudit(ctx, state.AuditEntry{Time: head.Time, Actor: "ci", Action: "serve", Object: "deployments/a"})
	must(t, err)
}

func testConcurrent(t *testing.T, s state.Store) {
	ctx := context.Background()
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, 4*n)
	var inserted sync.Map
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if err := s.PutRecord(ctx, "c", fmt.Sprint(i), []byte("v")); err != nil {
				errs <- err
			}
			ins, err := s.PutRecordOnce(ctx, "once", "same", []byte(fmt.Sprint(i)))
			if err != nil {
				errs <- err
			}
			if ins {
				inserted.Store(i, true)
			}
			if _, err := s.RegisterModelVersion(ctx, state.ModelVersion{Model: "m", Version: "1", ArtifactURI: "s3://x"}); err != nil {
				errs <- err
			}
			err = s.Update(ctx, func(tx state.Ops) error {
				if _, err := tx.RecordEvalRun(ctx, state.EvalRun{Eval: "e", SubjectHash: "h"}); err != nil {
					return err
				}
				_, err := tx.AppendAudit(ctx, state.AuditEntry{Time: t0, Actor: fmt.Sprint(i), Action: "x", Object: "o"})
				return err
			})
			if err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	m, err := s.ListRecords(ctx, "c", "")
	must(t, err)
	if len(m) != n {
		t.Errorf("records = %d, want %d", len(m), n)
	}
	cnt := 0
	inserted.Range(func(any, any) bool { cnt++; return true })
	if cnt != 1 {
		t.Errorf("PutRecordOnce inserted %d times under contention, want 1", cnt)
	}
	vs, _ := s.ListModelVersions(ctx, "m")
	if len(vs) != 1 {
		t.Errorf("model versions = %d, want 1", len(vs))
	}
	runs, _ := s.ListEvalRuns(ctx, "e")
	if len(runs) != n {
		t.Errorf("eval runs = %d, want %d", len(runs), n)
	}
	log, err := s.ListAudit(ctx)
	must(t, err)
	if len(log) != n {
		t.Errorf("audit entries = %d, want %d", len(log), n)
	}
	if p := state.VerifyAudit(log, ""); p != nil {
		t.Errorf("chain after concurrent appends: %v", p)
	}
}

// testModelTrigger: the trigger id round-trips and is part of the version's
// identity (registering it again with another trigger is a conflict).
func testModelTrigger(t *testing.T, s state.Store) {
	ctx := context.Background()
	mv := state.ModelVersion{Model: "m", Version: "1", ArtifactURI: "s3://m/1", TriggerID: "drift:sha256:01", RegisteredAt: t0}
	_, err := s.RegisterModelVersion(ctx, mv)
	must(t, err)
	got, err := s.GetModelVersion(ctx, "m", "1")
	must(t, err)
	if got.TriggerID != mv.TriggerID || got.ContentHash() != mv.ContentHash() {
		t.Fatalf("round trip: %+v", got)
	}
	mv.TriggerID = "drift:sha256:02"
	var ce *state.ConflictError
	if _, err := s.RegisterModelVersion(ctx, mv); !errors.As(err, &ce) || !strings.Contains(err.Error(), "trigger") {
		t.Fatalf("another trigger for the same version: %v", err)
	}
}

// testEvalProvenance: what answered a run round-trips; a run without it
// reads back without it.
func testEvalProvenance(t *testing.T, s state.Store) {
	ctx := context.Background()
	run := state.EvalRun{Eval: "qa", SubjectHash: "sha256:aa", Answered: []state.Answered{{Model: "gpt-4o-mini-2024-07-18", SystemFingerprint: "fp_1", Cases: 3}},
		RAGSnapshots: []string{"sha256:5a"}}
	id, err := s.RecordEvalRun(ctx, run)
	must(t, err)
	got, err := s.GetEvalRun(ctx, id)
	must(t, err)
	if fmt.Sprint(got.Answered) != fmt.Sprint(run.Answered) || fmt.Sprint(got.RAGSnapshots) != fmt.Sprint(run.RAGSnapshots) {
		t.Fatalf("provenance round trip: %+v %v", got.Answered, got.RAGSnapshots)
	}
	id, err = s.RecordEvalRun(ctx, state.EvalRun{Eval: "qa", SubjectHash: "sha256:bb"})
	must(t, err)
	if got, _ := s.GetEvalRun(ctx, id); got.Answered != nil || got.RAGSnapshots != nil {
		t.Fatalf("a run without provenance: %+v", got)
	}
	// What a run cost is kept with it, also without any provenance.
	id, err = s.RecordEvalRun(ctx, state.EvalRun{Eval: "qa", SubjectHash: "sha256:cc", Tokens: 1234, CostUSD: 0.0417})
	must(t, err)
	if got, _ := s.GetEvalRun(ctx, id); got.Tokens != 1234 || got.CostUSD != 0.0417 {
		t.Fatalf("a run's cost: %d tokens, $%v", got.Tokens, got.CostUSD)
	}
}
