// Package leader elects one leader among cairn reconcilers on several
// machines with a PostgreSQL session advisory lock (pg_try_advisory_lock) held
// on a dedicated connection. The lock lives exactly as long as that session:
// when the leader's process dies its connection closes and the lock is free at
// once; when the network fails, the leader stops leading after one failed
// ping (CheckInterval), before the server drops the session (TCP keepalives,
// LockTimeout), so two leaders never overlap.
//
// Use from a reconcile loop:
//
//	e := leader.ForStore(pgStore, "reconcile", leader.Options{})
//	go e.Run(ctx)                 // campaigns for ever, re-campaigns after a loss
//	if e.IsLeader() { apply() }   // /healthz: e.Status()
//
// or hold leadership explicitly:
//
//	lost, err := e.Campaign(ctx)  // blocks until leader (or ctx done)
//	… lead until <-lost …
package leader

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Campaigner is what a reconcile loop needs from an elector.
type Campaigner interface {
	// Campaign blocks until this process leads (or ctx is done) and returns a
	// channel closed when leadership ends: the connection failed, ctx is done
	// or Resign was called.
	Campaign(ctx context.Context) (lost <-chan struct{}, err error)
	IsLeader() bool
}

// Options tune an Elector. Zero values take the defaults.
type Options struct {
	// ID names this candidate in Status and to other candidates (default host:pid).
	ID string
	// CheckInterval is how often a standby retries the lock and the leader
	// pings its connection (default 1s). A standby takes over at most this long
	// after the leader's connection is gone.
	CheckInterval time.Duration
	// LockTimeout bounds how long the server keeps the lock of a leader that
	// vanished without closing its connection (network loss), through TCP
	// keepalives (default 10s; rounded to seconds, at least 3s).
	LockTimeout time.Duration
}

// Elector campaigns for one named leadership.
type Elector struct {
	cfg  *pgx.ConnConfig
	key  int64
	name string
	opts Options

	tryMu sync.Mutex // one lock attempt at a time on the session (Campaign and Leading)

	mu      sync.Mutex
	conn    *pgx.Conn // the standby's or leader's session
	leading bool
	lost    chan struct{}
	resign  chan struct{}
	since   time.Time
}

// New makes an elector for name on the server of cfg. Candidates with the
// same name and schema compete; the key is derived from both.
func New(cfg *pgx.ConnConfig, schema, name string, opts Options) *Elector {
	if opts.ID == "" {
		host, _ := os.Hostname()
		opts.ID = host + ":" + strconv.Itoa(os.Getpid())
	}
	if opts.CheckInterval <= 0 {
		opts.CheckInterval = time.Second
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = 10 * time.Second
	}
	c := cfg.Copy()
	// application_name lets the other candidates name the leader.
	c.RuntimeParams["application_name"] = "cairn-leader:" + opts.ID
	// Server-side keepalives end a silent leader's session (and its lock)
	// within about LockTimeout: idle + count×interval.
	secs := max(int(opts.LockTimeout.Seconds()), 3)
	idle := max(secs/2, 1)
	c.RuntimeParams["tcp_keepalives_idle"] = strconv.Itoa(idle)
	c.RuntimeParams["tcp_keepalives_interval"] = "1"
	c.RuntimeParams["tcp_keepalives_count"] = strconv.Itoa(max(secs-idle, 1))
	return &Elector{cfg: c, key: Key(schema, name), name: name, opts: opts}
}

// PoolStore is what election needs of a state store: its PostgreSQL pool
// and schema (the PostgreSQL backend has them; SQLite has no leaders).
type PoolStore interface {
	Pool() *pgxpool.Pool
	Schema() string
}

// ForStore makes an elector on the PostgreSQL state's server and schema.
func ForStore(s PoolStore, name string, opts Options) *Elector {
	return New(s.Pool().Config().ConnConfig, s.Schema(), name, opts)
}

// Key is the advisory lock key of a leadership: the first 8 bytes of
// sha256("cairn.leader\x00" schema "\x00" name).
func Key(schema, name string) int64 {
	h := sha256.Sum256([]byte("cairn.leader\x00" + schema + "\x00" + name))
	return int64(binary.BigEndian.Uint64(h[:8]))
}

// ID is this candidate's identity.
func (e *Elector) ID() string { return e.opts.ID }

// IsLeader reports whether this candidate leads now.
func (e *Elector) IsLeader() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.leading
}

// Status is a one-line description for /healthz: "leader since …" or "standby".
func (e *Elector) Status() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.leading {
		return fmt.Sprintf("leader of %q since %s (%s)", e.name, e.since.UTC().Format(time.RFC3339), e.opts.ID)
	}
	return fmt.Sprintf("standby for %q (%s)", e.name, e.opts.ID)
}

// Campaign blocks until this candidate holds the lock or ctx is done.
// Leadership won here ends when ctx is done (or Resign, or the session fails).
func (e *Elector) Campaign(ctx context.Context) (<-chan struct{}, error) {
	var lastErr error
	for {
		lost, ok, err := e.acquire(ctx, ctx)
		if ok {
			return lost, nil
		}
		if err != nil {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			e.closeConn()
			if lastErr != nil {
				return nil, fmt.Errorf("leader: campaign for %q: %w (last error: %v)", e.name, ctx.Err(), lastErr)
			}
			return nil, ctx.Err()
		case <-time.After(e.opts.CheckInterval):
		}
	}
}

// Leading reports whether this candidate leads, making one non-blocking
// attempt at the lock when it does not (so a lone reconciler leads from its
// first run, without waiting for Run's next check). It is what gitops.Leader
// asks. Leadership won here lasts until Resign, Close or a failed session,
// not until ctx ends: ctx only bounds the attempt.
func (e *Elector) Leading(ctx context.Context) (bool, error) {
	_, ok, err := e.acquire(ctx, context.Background())
	if err != nil {
		return false, fmt.Errorf("leader: %q: %w", e.name, err)
	}
	return ok, nil
}

// acquire returns the current leadership or makes one attempt at the lock;
// on success it holds the lock until holdCtx is done, Resign or the session
// fails. Serialised: the session is one connection, and a second
// pg_try_advisory_lock by the holder would succeed again (advisory locks are
// re-entrant per session) and start a second holder.
func (e *Elector) acquire(ctx, holdCtx context.Context) (<-chan struct{}, bool, error) {
	e.tryMu.Lock()
	defer e.tryMu.Unlock()
	e.mu.Lock()
	if e.leading {
		lost := e.lost
		e.mu.Unlock()
		return lost, true, nil
	}
	e.mu.Unlock()
	ok, err := e.try(ctx)
	if !ok {
		return nil, false, err
	}
	e.mu.Lock()
	e.leading, e.since = true, time.Now()
	e.lost, e.resign = make(chan struct{}), make(chan struct{})
	lost, resign, conn := e.lost, e.resign, e.conn
	e.mu.Unlock()
	go e.hold(holdCtx, conn, lost, resign)
	return lost, true, nil
}

// try makes one attempt on the standby session, reconnecting if needed.
func (e *Elector) try(ctx context.Context) (bool, error) {
	e.mu.Lock()
	conn := e.conn
	e.mu.Unlock()
	if conn == nil || conn.IsClosed() {
		cctx, cancel := context.WithTimeout(ctx, max(e.opts.CheckInterval, 2*time.Second))
		c, err := pgx.ConnectConfig(cctx, e.cfg)
		cancel()
		if err != nil {
			return false, err
		}
		e.mu.Lock()
		e.conn, conn = c, c
		e.mu.Unlock()
	}
	qctx, cancel := context.WithTimeout(ctx, max(e.opts.CheckInterval, 2*time.Second))
	defer cancel()
	var ok bool
	if err := conn.QueryRow(qctx, `SELECT pg_try_advisory_lock($1)`, e.key).Scan(&ok); err != nil {
		e.closeConnLocked()
		return false, err
	}
	return ok, nil
}

// hold pings the leader's session until it fails, ctx ends or Resign.
func (e *Elector) hold(ctx context.Context, conn *pgx.Conn, lost, resign chan struct{}) {
	t := time.NewTicker(e.opts.CheckInterval)
	defer t.Stop()
	end := func() {
		// Closing the session releases the lock; no unlock round trip needed.
		// Closed before leading turns false, so that no attempt reuses it.
		e.closeConn()
		e.mu.Lock()
		e.leading = false
		e.mu.Unlock()
		close(lost)
	}
	for {
		select {
		case <-ctx.Done():
			end()
			return
		case <-resign:
			end()
			return
		case <-t.C:
			// A dead session fails at once; a slow answer on a busy machine is not
			// a lost leadership, so the ping may take longer than one interval.
			pctx, cancel := context.WithTimeout(ctx, max(e.opts.CheckInterval, 2*time.Second))
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				end()
				return
			}
		}
	}
}

// Resign gives up leadership (if held) and waits until it is released.
func (e *Elector) Resign() {
	e.mu.Lock()
	resign, lost, leading := e.resign, e.lost, e.leading
	if leading {
		e.resign = nil
	}
	e.mu.Unlock()
	if leading && resign != nil {
		close(resign)
		<-lost
	}
}

// Close resigns and closes the standby session.
func (e *Elector) Close() {
	e.Resign()
	e.closeConn()
}

func (e *Elector) closeConn() {
	// A pgx connection is not safe for concurrent use: wait for an attempt
	// in flight (Run's campaign, Leading) instead of closing under it.
	e.tryMu.Lock()
	defer e.tryMu.Unlock()
	e.closeConnLocked()
}

// closeConnLocked is closeConn for a caller that holds tryMu (try itself).
func (e *Elector) closeConnLocked() {
	e.mu.Lock()
	c := e.conn
	e.conn = nil
	e.mu.Unlock()
	if c != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = c.Close(ctx)
	}
}

// Run campaigns until ctx is done, campaigning again after each loss, and
// calls onChange (if not nil) with each change of leadership.
func (e *Elector) Run(ctx context.Context, onChange func(leading bool)) error {
	defer e.Close()
	for {
		lost, err := e.Campaign(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if onChange != nil {
			onChange(true)
		}
		select {
		case <-lost:
			if onChange != nil {
				onChange(false)
			}
		case <-ctx.Done():
			// Leadership won by Leading is not tied to ctx: resign it.
			e.Resign()
			<-lost
			if onChange != nil {
				onChange(false)
			}
			return nil
		}
	}
}

// Leader returns the ID of the current leader ("" when none), read from the
// lock table, so a standby's /healthz can say who leads.
func (e *Elector) Leader(ctx context.Context) (string, error) {
	conn, err := pgx.ConnectConfig(ctx, e.cfg)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	u := uint64(e.key)
	var app string
	err = conn.QueryRow(ctx, `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
		  AND l.classid::bigint = $1 AND l.objid::bigint = $2
		  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
		int64(u>>32), int64(u&0xffffffff)).Scan(&app)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("leader: who leads %q: %w", e.name, err)
	}
	id, _ := cutPrefix(app, "cairn-leader:")
	return id, nil
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return s, false
}

var _ Campaigner = (*Elector)(nil)
