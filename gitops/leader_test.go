package gitops

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/gitops/leader"
	"github.com/cairn-dev/cairn/reconciler"
	"github.com/cairn-dev/cairn/state/postgres"
	"github.com/cairn-dev/cairn/state/postgres/pgtest"
)

// Two reconcile loops (as on two machines: own connections, own clones) on
// one PostgreSQL state: exactly one leads and applies, the other stands by
// and says who leads; when the leader stops, the standby takes over within
// the leader lock timeout without waiting for its interval.
func TestTwoLoopsOneLeaderAndTakeover(t *testing.T) {
	u, _ := pgtest.Schema(t)
	// Evals in process: this test is about the loops.
	repo := newSpecRepo(t, "support-assistant")
	const lockTimeout = 3 * time.Second

	type node struct {
		id     string
		r      *Reconciler
		runs   chan *Run
		cancel context.CancelFunc
		done   chan struct{}
	}
	start := func(id string) *node {
		st, err := postgres.Open(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		el := leader.ForStore(st, "reconcile", leader.Options{ID: id, CheckInterval: 100 * time.Millisecond, LockTimeout: lockTimeout})
		r, err := New(Config{Source: repo.dir, CacheDir: filepath.Join(t.TempDir(), id), Store: st, Approvals: Static(1),
			Now: func() time.Time { return fixedNow }, Leader: el, LockTimeout: time.Minute,
			Plugins: func(co *Checkout, approvals int) (reconciler.Options, error) {
				return reconciler.Plugins(st, reconciler.PluginOptions{Commit: co.Commit.SHA, Approvals: approvals, InProcess: true}), nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		n := &node{id: id, r: r, runs: make(chan *Run, 16), cancel: cancel, done: make(chan struct{})}
		go func() {
			defer close(n.done)
			_ = r.Loop(ctx, time.Hour, func(run *Run) { n.runs <- run }) // only the first run and wake-ups
		}()
		t.Cleanup(func() { cancel(); <-n.done })
		return n
	}
	next := func(n *node, within time.Duration) *Run {
		t.Helper()
		select {
		case run := <-n.runs:
			if run.Failed() {
				t.Fatalf("%s: run %s: %s", n.id, run.Result, run.Error)
			}
			return run
		case <-time.After(within):
			t.Fatalf("%s: no run within %s", n.id, within)
			return nil
		}
	}

	var wg sync.WaitGroup
	nodes := make([]*node, 2)
	for i, id := range []string{"a", "b"} {
		wg.Add(1)
		go func() { defer wg.Done(); nodes[i] = start(id) }()
	}
	wg.Wait()
	first := [2]*Run{next(nodes[0], time.Minute), next(nodes[1], time.Minute)}
	var lead, standby *node
	switch {
	case first[0].Result == ResultApplied && first[1].Result == ResultStandby:
		lead, standby = nodes[0], nodes[1]
	case first[1].Result == ResultApplied && first[0].Result == ResultStandby:
		lead, standby = nodes[1], nodes[0]
	default:
		t.Fatalf("first runs: a %s, b %s; want one applied and one standby", first[0].Result, first[1].Result)
	}

	var h Health
	_, body := get(t, httpServer(t, standby.r)+"/healthz")
	if err := json.Unmarshal([]byte(body), &h); err != nil || h.Role != "standby" || h.ID != standby.id || h.Leader != lead.id || !h.OK {
		t.Fatalf("standby /healthz: %s (%v)", body, err)
	}
	_, body = get(t, httpServer(t, lead.r)+"/healthz")
	if err := json.Unmarshal([]byte(body), &h); err != nil || h.Role != "leader" || h.Leader != lead.id {
		t.Fatalf("leader /healthz: %s (%v)", body, err)
	}
	select {
	case run := <-standby.runs:
		t.Fatalf("the standby ran again (%s) while the leader leads", run.Result)
	case <-time.After(500 * time.Millisecond):
	}

	// Stop the leader: the standby wins the lock and runs at once (an hour
	// before its next tick). Same commit and state: nothing left to apply.
	stopped := time.Now()
	lead.cancel()
	<-lead.done
	run := next(standby, lockTimeout)
	took := time.Since(stopped)
	t.Logf("takeover run %s after %s", run.Result, took)
	if run.Result != ResultSkipped {
		t.Fatalf("takeover run: %s (%s), want skipped (the leader applied everything)", run.Result, run.Reason)
	}
	_, body = get(t, httpServer(t, standby.r)+"/healthz")
	if err := json.Unmarshal([]byte(body), &h); err != nil || h.Role != "leader" || h.Leader != standby.id {
		t.Fatalf("new leader /healthz: %s (%v)", body, err)
	}
}

func httpServer(t *testing.T, r *Reconciler) string {
	srv := httptest.NewServer(r.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}
