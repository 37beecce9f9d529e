package gitops

import (
	"context"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/reconciler"
	"github.com/cairn-dev/cairn/state"
)

// A Cairn-Hotfix: trailer is a line of the message's last paragraph, as git
// trailers are; the words in the subject or the body do not make a hotfix.
func TestHasHotfixTrailer(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		want bool
	}{
		{"prod 11\n\nCairn-Hotfix: INC-42\n", true},
		{"prod 11\n\nWhy: the canary.\n\nSigned-off-by: Ada <a@x>\ncairn-hotfix: yes", true},
		{"prod 11\r\n\r\nCairn-Hotfix: INC-42\r\n", true},
		{"Cairn-Hotfix: INC-42", false}, // the subject, not a trailer
		{"prod 11\n\nCairn-Hotfix: INC-42\n\nmore text after it", false},
		{"prod 11\n\nnot a Cairn-Hotfix: line", false},
		{"", false},
	} {
		if got := HasHotfixTrailer(tc.msg); got != tc.want {
			t.Errorf("HasHotfixTrailer(%q) = %v, want %v", tc.msg, got, tc.want)
		}
	}
}

// A reconcile of a commit with the trailer applies as a hotfix: its
// policy_check entry says so (what cairn metrics counts as rework).
func TestReconcileRecordsHotfixTrailer(t *testing.T) {
	f := newFixture(t)
	f.repo.edit("specs/prompts.cue", `version:       "1.4.0"`, `version:       "1.5.0"`)
	f.repo.edit("specs/prompts.cue", `staging: "1.4.0"`, `staging: "1.5.0"`)
	f.repo.commit("fix the answer prompt\n\nCairn-Hotfix: INC-7", "Ada", "ada@example.com")
	co, err := Fetch(context.Background(), f.repo.dir, "", f.cache)
	if err != nil || !co.Commit.Hotfix {
		t.Fatalf("checkout %+v, %v: want the trailer read", co, err)
	}
	run := f.reconciler(t).RunOnce(context.Background())
	if len(run.Applied) == 0 {
		t.Fatalf("run %s applied nothing: %s %v", run.Result, run.Error, run.Problems)
	}
	found := false
	err = f.st.ScanAudit(context.Background(), state.AuditQuery{Action: reconciler.AuditPolicy}, func(e state.AuditEntry) error {
		found = found || strings.Contains(e.After, `"hotfix":true`)
		return nil
	})
	if err != nil || !found {
		t.Errorf("no policy_check entry records the hotfix (%v)", err)
	}
}
