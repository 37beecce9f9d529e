package leader_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-dev/cairn/gitops/leader"
	"github.com/cairn-dev/cairn/state/postgres/pgtest"
)

const interval = 200 * time.Millisecond

// TestMain doubles as a candidate process: the kill test re-executes the
// test binary with CAIRN_LEADER_HELPER set.
func TestMain(m *testing.M) {
	if u := os.Getenv("CAIRN_LEADER_HELPER"); u != "" {
		cfg, err := pgx.ParseConfig(u)
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		e := leader.New(cfg, "helper", "reconcile", leader.Options{ID: "helper", CheckInterval: interval})
		if _, err := e.Campaign(context.Background()); err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		fmt.Println("LEADER")
		select {} // lead until killed
	}
	os.Exit(m.Run())
}

func connCfg(t *testing.T) *pgx.ConnConfig {
	cfg, err := pgx.ParseConfig(pgtest.BaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < d {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s", what, d)
	return 0
}

func TestExactlyOneLeaderAndHandover(t *testing.T) {
	cfg := connCfg(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	schema := t.Name() + fmt.Sprint(time.Now().UnixNano()) // a key no other test run uses
	var es []*leader.Elector
	var mu sync.Mutex
	lost := map[string]int{} // how often each elector saw its leadership end
	// IDs unique to this run: the test ends a session by its application
	// name, and other packages' tests on the same server name theirs "a", "b".
	run := time.Now().UnixNano() % 1e9
	for _, base := range []string{"a", "b", "c"} {
		id := fmt.Sprintf("%s-%d", base, run)
		e := leader.New(cfg, schema, "reconcile", leader.Options{ID: id, CheckInterval: interval})
		es = append(es, e)
		go e.Run(ctx, func(leading bool) {
			if !leading {
				mu.Lock()
				lost[id]++
				mu.Unlock()
			}
		})
	}
	defer func() {
		for _, e := range es {
			e.Close()
		}
	}()
	leaders := func() []*leader.Elector {
		var l []*leader.Elector
		for _, e := range es {
			if e.IsLeader() {
				l = append(l, e)
			}
		}
		return l
	}
	waitFor(t, 5*time.Second, "a leader", func() bool { return len(leaders()) == 1 })
	// Stable: still exactly one over several check intervals.
	for i := 0; i < 10; i++ {
		if n := len(leaders()); n != 1 {
			t.Fatalf("%d leaders", n)
		}
		time.Sleep(interval / 2)
	}
	first := leaders()[0]
	if who, err := es[0].Leader(ctx); err != nil || who != first.ID() {
		t.Fatalf("Leader() = %q (%v), want %q", who, err, first.ID())
	}
	if !strings.HasPrefix(first.Status(), "leader of") {
		t.Errorf("leader status %q", first.Status())
	}
	// The server kills the leader's session (what happens to a dead process's
	// connection): the leader notices and a standby takes over.
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, "cairn-leader:"+first.ID()); err != nil {
		t.Fatal(err)
	}
	// The terminated elector is alive and campaigns again, so it may win the
	// new election itself: what must hold is that it noticed, and that there
	// is again exactly one leader.
	took := waitFor(t, 5*time.Second, "handover", func() bool {
		mu.Lock()
		noticed := lost[first.ID()] > 0
		mu.Unlock()
		return noticed && len(leaders()) == 1
	})
	t.Logf("handover after a terminated session: %s (check interval %s)", took, interval)
	if took > 3*interval+time.Second {
		t.Errorf("handover took %s", took)
	}
	// Resign hands over too: the resigned elector campaigns again and may win
	// the new election, but leadership must end and be held again by one.
	second := leaders()[0]
	mu.Lock()
	before := lost[second.ID()]
	mu.Unlock()
	second.Resign()
	waitFor(t, 5*time.Second, "handover after resign", func() bool {
		mu.Lock()
		ended := lost[second.ID()] > before
		mu.Unlock()
		return ended && len(leaders()) == 1
	})
}

func TestKilledLeaderProcessHandsOver(t *testing.T) {
	cfg := connCfg(t)
	u := pgtest.BaseURL(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CAIRN_LEADER_HELPER="+u)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "LEADER" {
		t.Fatalf("helper said %q", line)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := leader.New(cfg, "helper", "reconcile", leader.Options{ID: "standby", CheckInterval: interval})
	defer e.Close()
	var mu sync.Mutex
	var became time.Time
	go e.Run(ctx, func(l bool) {
		mu.Lock()
		defer mu.Unlock()
		if l && became.IsZero() {
			became = time.Now()
		}
	})
	time.Sleep(3 * interval)
	if e.IsLeader() {
		t.Fatal("standby leads while the helper process holds the lock")
	}
	if who, _ := e.Leader(ctx); who != "helper" {
		t.Fatalf("Leader() = %q, want helper", who)
	}
	killed := time.Now()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	waitFor(t, 10*time.Second, "takeover after SIGKILL", e.IsLeader)
	mu.Lock()
	took := became.Sub(killed)
	mu.Unlock()
	t.Logf("takeover %s after SIGKILL of the leader process (check interval %s)", took, interval)
	if took > 2*interval+time.Second {
		t.Errorf("takeover took %s, want about one check interval", took)
	}
}

func TestCampaignHonoursContext(t *testing.T) {
	cfg := connCfg(t)
	key := fmt.Sprint(time.Now().UnixNano())
	a := leader.New(cfg, key, "x", leader.Options{ID: "a", CheckInterval: interval})
	defer a.Close()
	if _, err := a.Campaign(context.Background()); err != nil {
		t.Fatal(err)
	}
	b := leader.New(cfg, key, "x", leader.Options{ID: "b", CheckInterval: interval})
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*interval)
	defer cancel()
	if _, err := b.Campaign(ctx); err == nil {
		t.Fatal("second candidate won a held lock")
	}
	if leader.Key("s", "x") == leader.Key("t", "x") || leader.Key("s", "x") != leader.Key("s", "x") {
		t.Fatal("keys must differ per schema and be stable")
	}
}

// Leading (gitops.Leader) makes one attempt without blocking; leadership it
// wins outlives the attempt's context, is shared with Run (no second holder)
// and ends with Close, after which another candidate's Leading wins.
func TestLeadingAttemptsOnce(t *testing.T) {
	cfg := connCfg(t)
	key := fmt.Sprint(time.Now().UnixNano())
	a := leader.New(cfg, key, "reconcile", leader.Options{ID: "a", CheckInterval: interval})
	defer a.Close()
	b := leader.New(cfg, key, "reconcile", leader.Options{ID: "b", CheckInterval: interval})
	defer b.Close()

	actx, cancel := context.WithCancel(context.Background())
	ok, err := a.Leading(actx)
	cancel()
	if err != nil || !ok {
		t.Fatalf("a.Leading = %v, %v: want the free lock at once", ok, err)
	}
	start := time.Now()
	if ok, err := b.Leading(context.Background()); err != nil || ok {
		t.Fatalf("b.Leading = %v, %v while a leads", ok, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("b.Leading blocked %s", d)
	}
	time.Sleep(2 * interval) // a's leadership outlives the cancelled attempt ctx
	if !a.IsLeader() {
		t.Fatal("a lost leadership when the Leading ctx ended")
	}
	// Run on the leader shares the leadership; cancelling Run resigns it.
	rctx, rcancel := context.WithCancel(context.Background())
	changes := make(chan bool, 4)
	done := make(chan struct{})
	go func() { _ = a.Run(rctx, func(l bool) { changes <- l }); close(done) }()
	if l := <-changes; !l {
		t.Fatal("Run on the leader reported standby")
	}
	if who, err := b.Leader(context.Background()); err != nil || who != "a" {
		t.Fatalf("b.Leader() = %q, %v", who, err)
	}
	rcancel()
	<-done
	if l := <-changes; l || a.IsLeader() {
		t.Fatal("Run did not resign when its ctx ended")
	}
	waitFor(t, 5*time.Second, "b takes over", func() bool {
		ok, err := b.Leading(context.Background())
		return err == nil && ok
	})
}
