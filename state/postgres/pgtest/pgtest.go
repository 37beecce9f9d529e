// Package pgtest gives tests an isolated PostgreSQL schema. Without a
// reachable server the test is skipped with instructions, unless
// CAIRN_REQUIRE_POSTGRES=1 (CI) makes that a failure.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the variable with the server's base URL.
const EnvURL = "CAIRN_TEST_POSTGRES"

// EnvRequire makes a missing server a test failure instead of a skip.
const EnvRequire = "CAIRN_REQUIRE_POSTGRES"

// DefaultURL is the server the tests use unless EnvURL says otherwise.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// BaseURL returns the server URL, or skips (fails under CAIRN_REQUIRE_POSTGRES=1)
// when it cannot be reached.
func BaseURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		u = DefaultURL
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err == nil {
		err = conn.Ping(ctx)
		conn.Close(ctx)
	}
	if err != nil {
		msg := "PostgreSQL is not reachable (" + err.Error() + "); these tests need one: start it on 127.0.0.1:5432 " +
			"(user postgres, database test, trust auth) or set " + EnvURL + "=postgres://user@host:port/db"
		if os.Getenv(EnvRequire) == "1" {
			t.Fatal(msg + " [" + EnvRequire + "=1 makes this a failure]")
		}
		t.Skip(msg + " [" + EnvRequire + "=1 turns this skip into a failure]")
	}
	return u
}

// Schema creates a fresh schema, drops it when the test ends, and returns a
// URL whose search_path selects it, so each test has its own empty state.
func Schema(t testing.TB) (stateURL, schema string) {
	t.Helper()
	base := BaseURL(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema = "cairn_test_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, `DROP SCHEMA `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return WithSearchPath(t, base, schema), schema
}

// WithSearchPath sets search_path in a PostgreSQL URL.
func WithSearchPath(t testing.TB, base, schema string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
