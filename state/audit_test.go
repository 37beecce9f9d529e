package state_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/state"
)

// tamper opens a fresh store with 5 audit entries, lets edit change the
// database behind the store's back, and returns what VerifyAudit says.
func tamper(t *testing.T, edit string, expectHead bool) *state.AuditProblem {
	ctx := context.Background()
	s, err := state.OpenSQLite(ctx, filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var head string
	for i := 1; i <= 5; i++ {
		e, err := s.AppendAudit(ctx, state.AuditEntry{Time: time.Date(2026, 1, i, 0, 0, 0, 0, time.UTC), Actor: "ci", Action: "move_model_alias",
			Object: "models/fraud", Before: fmt.Sprintf(`{"version":"%d"}`, i), After: fmt.Sprintf(`{"version":"%d"}`, i+1)})
		if err != nil {
			t.Fatal(err)
		}
		head = e.Hash
	}
	if edit != "" {
		for _, stmt := range strings.Split(edit, ";") {
			if _, err := s.DB().Exec(stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
	}
	log, err := s.ListAudit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !expectHead {
		head = ""
	}
	return state.VerifyAudit(log, head)
}

func TestAuditTampering(t *testing.T) {
	tests := []struct {
		name       string
		edit       string
		expectHead bool
		wantSeq    int64 // 0 = verifies
		wantReason string
	}{
		{"untouched", "", true, 0, ""},
		{"edit after", `UPDATE audit_log SET after_doc = '{"version":"99"}' WHERE seq = 3`, false, 3, "edited"},
		{"edit actor", `UPDATE audit_log SET actor = 'mallory' WHERE seq = 2`, false, 2, "edited"},
		{"edit time", `UPDATE audit_log SET at = '2025-01-01T00:00:00Z' WHERE seq = 4`, false, 4, "edited"},
		{"edit and rehash", `UPDATE audit_log SET actor = 'mallory', hash = 'sha256:feed' WHERE seq = 2`, false, 2, "edited"},
		{"delete middle", `DELETE FROM audit_log WHERE seq = 3`, false, 4, "deleted or reordered"},
		{"delete and renumber", `DELETE FROM audit_log WHERE seq = 3; UPDATE audit_log SET seq = seq - 1 WHERE seq > 3`, false, 3, "prev_hash"},
		{"delete first", `DELETE FROM audit_log WHERE seq = 1`, false, 2, "deleted or reordered"},
		{"reorder", `UPDATE audit_log SET seq = 100 WHERE seq = 2; UPDATE audit_log SET seq = 2 WHERE seq = 3; UPDATE audit_log SET seq = 3 WHERE seq = 100`, false, 2, "prev_hash"},
		{"truncate tail (caught with the known head)", `DELETE FROM audit_log WHERE seq = 5`, true, 4, "removed from the end"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tamper(t, tc.edit, tc.expectHead)
			if tc.wantSeq == 0 {
				if p != nil {
					t.Fatalf("untouched chain: %v", p)
				}
				return
			}
			if p == nil {
				t.Fatal("tampering not detected")
			}
			if p.Seq != tc.wantSeq || !strings.Contains(p.Reason, tc.wantReason) {
				t.Fatalf("problem = %v, want entry #%d with %q", p, tc.wantSeq, tc.wantReason)
			}
		})
	}
}

// TestVerifyScanAgrees: the streamed verification finds what the in-memory
// one finds, on an intact log and on each kind of tampering.
func TestVerifyScanAgrees(t *testing.T) {
	ctx := context.Background()
	for _, tamper := range []string{"", `UPDATE audit_log SET actor = 'x' WHERE seq = 3`, `DELETE FROM audit_log WHERE seq = 2`, `DELETE FROM audit_log WHERE seq = 5`} {
		path := filepath.Join(t.TempDir(), "s.db")
		st, err := state.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		var head string
		for i := 0; i < 5; i++ {
			e, err := st.AppendAudit(ctx, state.AuditEntry{Time: time.Date(2026, 1, 1, 0, i, 0, 0, time.UTC), Actor: "a", Action: "x", Object: "o"})
			if err != nil {
				t.Fatal(err)
			}
			head = e.Hash
		}
		if tamper != "" {
			db, _ := sql.Open("sqlite", path)
			if _, err := db.Exec(tamper); err != nil {
				t.Fatal(err)
			}
			db.Close()
		}
		log, _ := st.ListAudit(ctx)
		want := state.VerifyAudit(log, head)
		_, got, err := state.VerifyScan(ctx, st, head)
		if err != nil {
			t.Fatal(err)
		}
		if (want == nil) != (got == nil) || want != nil && (want.Seq != got.Seq || want.Reason != got.Reason) {
			t.Errorf("%q: scan found %v, in-memory %v", tamper, got, want)
		}
		if tamper != "" && got == nil {
			t.Errorf("%q: not found", tamper)
		}
		st.Close()
	}
}
