package state

import (
	"strings"
	"testing"
)

// The one schema renders to each dialect's types and nothing is left unspelled.
func TestMigrationsPerDialect(t *testing.T) {
	for _, c := range []struct{ id, blob, want string }{
		{"INTEGER", "BLOB", "seq INTEGER PRIMARY KEY"},
		{"BIGINT", "BYTEA", "seq BIGINT PRIMARY KEY"},
	} {
		ms := Migrations(c.id, c.blob)
		if len(ms) != len(migrations) {
			t.Fatalf("%d migrations, want %d", len(ms), len(migrations))
		}
		all := strings.Join(ms, "\n")
		if strings.Contains(all, "{{") || !strings.Contains(all, c.want) || !strings.Contains(all, "value "+c.blob+" NOT NULL") {
			t.Errorf("%s/%s:\n%s", c.id, c.blob, all)
		}
	}
}
