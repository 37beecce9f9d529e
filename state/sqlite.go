package state

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // pure-Go SQLite driver "sqlite"
)

// SQLiteDialect is exported so tests can build stores with extra migrations.
func SQLiteDialect() Dialect {
	return Dialect{Name: "sqlite", Migrations: Migrations("INTEGER", "BLOB")}
}

// OpenSQLite opens (creating it and its directory if needed) the SQLite state
// at path, in WAL mode with a busy timeout, and migrates it. A state file
// this user cannot write (a read-only file or directory) is opened with
// OpenSQLiteReadOnly instead, so read-only commands still work.
func OpenSQLite(ctx context.Context, path string) (*SQLStore, error) {
	if err := checkSQLitePath(path); err != nil {
		return nil, err
	}
	if f, err := os.OpenFile(path, os.O_RDWR, 0); errors.Is(err, fs.ErrPermission) {
		return OpenSQLiteReadOnly(ctx, path)
	} else if err == nil {
		f.Close()
	}
	s, err := openSQLite(ctx, path, SQLiteDialect())
	if err != nil && isReadOnlyErr(err) && fileExists(path) {
		// The file is writable but its directory is not (no -wal, -shm or
		// journal can be created): reading still works.
		if ro, rerr := OpenSQLiteReadOnly(ctx, path); rerr == nil {
			return ro, nil
		}
	}
	return s, err
}

// ErrReadOnly is returned (wrapped, naming the file) by any write to a state
// opened read-only.
var ErrReadOnly = errors.New("the state is open read-only")

// OpenSQLiteReadOnly opens an existing SQLite state for reading only: no
// migration, no WAL switch, and every write fails with ErrReadOnly. When
// SQLite cannot open it read-only in place (a WAL database whose -shm file
// cannot be created in a read-only directory), it is opened immutable: the
// file is then assumed not to change while it is open.
func OpenSQLiteReadOnly(ctx context.Context, path string) (*SQLStore, error) {
	if err := checkSQLitePath(path); err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("state: open %s read-only: %w", path, err)
	}
	var firstErr error
	for _, params := range []string{"mode=ro", "mode=ro&immutable=1"} {
		s, err := openReadOnly(ctx, path, params)
		if err == nil {
			return s, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, firstErr
}

func openReadOnly(ctx context.Context, path, params string) (*SQLStore, error) {
	dsn := "file:" + path + "?" + params + "&_pragma=busy_timeout(15000)&_pragma=foreign_keys(1)"
	probe, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("state: open %s read-only: %w", path, err)
	}
	drv := probe.Driver()
	probe.Close()
	db := sql.OpenDB(roConnector{drv: drv, dsn: dsn, path: path})
	db.SetMaxOpenConns(4)
	d := SQLiteDialect()
	s := &SQLStore{db: db, d: d}
	s.ops = ops{q: db, s: s}
	// No migration can run: the schema must already be this cairn's.
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("state: open %s read-only: %w", path, err)
	}
	if v != len(d.Migrations) {
		db.Close()
		return nil, fmt.Errorf("state: %s is at schema version %d and this cairn needs %d, but it is read-only here: open it once with write access to migrate it", path, v, len(d.Migrations))
	}
	return s, nil
}

func checkSQLitePath(path string) error {
	if path == "" {
		return fmt.Errorf("state: empty SQLite path")
	}
	if strings.ContainsAny(path, "?#") {
		return fmt.Errorf("state: SQLite path %q may not contain '?' or '#'", path)
	}
	return nil
}

func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// isReadOnlyErr: SQLite's READONLY (8), CANTOPEN (14) or PERM (3) primary
// codes, as modernc.org/sqlite reports them.
func isReadOnlyErr(err error) bool {
	var coded interface{ Code() int }
	if errors.As(err, &coded) {
		switch coded.Code() & 0xff {
		case 3, 8, 14:
			return true
		}
	}
	return errors.Is(err, fs.ErrPermission)
}

// roConnector hands out connections that refuse writes with ErrReadOnly
// before SQLite sees them, so the error names the file and says why
// (SQLite's own is "attempt to write a readonly database").
type roConnector struct {
	drv  driver.Driver
	dsn  string
	path string
}

func (c roConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return roConn{Conn: conn, path: c.path}, nil
}

func (c roConnector) Driver() driver.Driver { return c.drv }

type roConn struct {
	driver.Conn
	path string
}

func (c roConn) refuse(query string) error {
	if !isWriteSQL(query) {
		return nil
	}
	return fmt.Errorf("state %s: %w (this user cannot write the file or its directory); run the command as a user who can", c.path, ErrReadOnly)
}

func (c roConn) Prepare(query string) (driver.Stmt, error) {
	if err := c.refuse(query); err != nil {
		return nil, err
	}
	return c.Conn.Prepare(query)
}

func (c roConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if err := c.refuse(query); err != nil {
		return nil, err
	}
	if p, ok := c.Conn.(driver.ConnPrepareContext); ok {
		return p.PrepareContext(ctx, query)
	}
	return c.Conn.Prepare(query)
}

func (c roConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if err := c.refuse(query); err != nil {
		return nil, err
	}
	if e, ok := c.Conn.(driver.ExecerContext); ok {
		return e.ExecContext(ctx, query, args)
	}
	return nil, driver.ErrSkip
}

func (c roConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if err := c.refuse(query); err != nil {
		return nil, err
	}
	if q, ok := c.Conn.(driver.QueryerContext); ok {
		return q.QueryContext(ctx, query, args)
	}
	return nil, driver.ErrSkip
}

func (c roConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if b, ok := c.Conn.(driver.ConnBeginTx); ok {
		return b.BeginTx(ctx, opts)
	}
	return c.Conn.Begin() //nolint:staticcheck // the fallback database/sql itself uses
}

func (c roConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

// isWriteSQL reports whether a statement writes: its first keyword (after
// comments) is one of SQLite's writing statements. A write this misses is
// still refused by SQLite itself (mode=ro), only less clearly.
func isWriteSQL(q string) bool {
	for {
		q = strings.TrimLeft(q, " \t\r\n(")
		switch {
		case strings.HasPrefix(q, "--"):
			if i := strings.IndexByte(q, '\n'); i >= 0 {
				q = q[i+1:]
				continue
			}
			return false
		case strings.HasPrefix(q, "/*"):
			if i := strings.Index(q, "*/"); i >= 0 {
				q = q[i+2:]
				continue
			}
			return false
		}
		break
	}
	end := strings.IndexFunc(q, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') })
	if end < 0 {
		end = len(q)
	}
	switch strings.ToUpper(q[:end]) {
	case "INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER", "VACUUM", "REINDEX":
		return true
	}
	return false
}

func openSQLite(ctx context.Context, path string, d Dialect) (*SQLStore, error) {
	if err := checkSQLitePath(path); err != nil {
		return nil, err
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("state: create %s: %w", dir, err)
		}
	}
	// _txlock=immediate takes the write lock at BEGIN, so two writers queue on
	// the busy timeout instead of deadlocking on a read→write upgrade.
	dsn := "file:" + path + "?_txlock=immediate" +
		"&_pragma=busy_timeout(15000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)"
	// Several processes opening a new file at once race to switch it to
	// WAL, and SQLite answers that switch with SQLITE_BUSY without waiting
	// on the busy timeout: the open is retried for a while instead.
	var lastErr error
	for attempt := 0; attempt < 50; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, lastErr
			case <-time.After(time.Duration(attempt) * 10 * time.Millisecond):
			}
		}
		s, err := openOnce(ctx, path, dsn, d)
		if err == nil || !isBusy(err) {
			return s, err
		}
		lastErr = err
	}
	return nil, lastErr
}

func openOnce(ctx context.Context, path, dsn string, d Dialect) (*SQLStore, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("state: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("state: open %s: %w", path, err)
	}
	s, err := NewSQLStore(ctx, db, d)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("%w (state %s)", err, path)
	}
	return s, nil
}

// isBusy reports SQLite's "database is locked" (SQLITE_BUSY).
func isBusy(err error) bool {
	return strings.Contains(err.Error(), "SQLITE_BUSY") || strings.Contains(err.Error(), "database is locked")
}
