package github

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestPostCommentCreatesThenUpdates(t *testing.T) {
	f := newFakeGitHub(t)
	// A busy pull request: the sticky comment must be found past the first page.
	f.perPage = 100
	for i := 0; i < 130; i++ {
		f.addComment("reviewer", fmt.Sprintf("comment %d", i))
	}
	// Someone quoting the marker does not make their comment cairn's.
	f.addComment("reviewer", "> <!-- cairn:plan -->\nwhy is this here?")
	m := Marker{Project: "support-assistant"}
	ctx := context.Background()

	c := f.client(t)
	res, err := c.PostComment(ctx, m, "## first run\n")
	if err != nil {
		t.Fatal(err)
	}
	if res.Created != 1 || res.Updated != 0 || len(res.IDs) != 1 {
		t.Fatalf("first run: %+v", res)
	}
	firstID := res.IDs[0]
	if !strings.HasPrefix(res.URLs[0], "https://github.com/acme/ml-specs/pull/42#issuecomment-") {
		t.Errorf("url %q", res.URLs[0])
	}

	// Second run (a new process, so a new client): edit in place.
	c = f.client(t)
	res, err = c.PostComment(ctx, m, "## second run\n")
	if err != nil {
		t.Fatal(err)
	}
	if res.Created != 0 || res.Updated != 1 || res.IDs[0] != firstID {
		t.Fatalf("second run: %+v (first id %d)", res, firstID)
	}
	if st := c.Stats(); st.Listed != 2 {
		t.Errorf("listed %d pages, want 2 (132 comments at 100 per page)", st.Listed)
	}
	bodies := f.commentBodies(MarkerPrefix)
	if len(bodies) != 1 || !strings.Contains(bodies[0], "second run") {
		t.Fatalf("comments with marker: %q", bodies)
	}
	if !strings.HasPrefix(bodies[0], "<!-- cairn:plan project=support-assistant -->\n") {
		t.Errorf("marker missing: %q", bodies[0])
	}

	// Third run with the same text: no write at all.
	res, err = c.PostComment(ctx, m, "## second run\n")
	if err != nil {
		t.Fatal(err)
	}
	if res.Unchanged != 1 || res.Updated+res.Created+res.Deleted != 0 {
		t.Errorf("unchanged run: %+v", res)
	}

	// Another project's comment on the same PR is left alone.
	if _, err := c.PostComment(ctx, Marker{Project: "fraud-detection"}, "fraud\n"); err != nil {
		t.Fatal(err)
	}
	if got := len(f.commentBodies(MarkerPrefix)); got != 2 {
		t.Errorf("%d marked comments, want 2 (one per project)", got)
	}
	if got := len(f.commentBodies("> <!-- cairn:plan")); got != 1 {
		t.Errorf("quoted comment was touched")
	}
}

func TestPostCommentSplitsAndShrinks(t *testing.T) {
	f := newFakeGitHub(t)
	m := Marker{}
	ctx := context.Background()
	c := f.client(t)

	huge := hugePlanReport(1500)
	body := RenderComment(huge)
	if utf8.RuneCountInString(body) < 3*MaxCommentChars {
		t.Fatalf("test body too small: %d", len(body))
	}
	res, err := c.PostComment(ctx, m, body)
	if err != nil {
		t.Fatal(err)
	}
	n := len(res.IDs)
	if n < 4 || res.Created != n {
		t.Fatalf("huge body: %+v", res)
	}
	parts := f.commentBodies(MarkerPrefix)
	if len(parts) != n {
		t.Fatalf("%d marked comments on the PR, want %d", len(parts), n)
	}
	for k, p := range parts {
		if want := fmt.Sprintf("<!-- cairn:plan part=%d/%d -->", k+1, n); !strings.HasPrefix(p, want) {
			t.Errorf("part %d starts %q, want %q", k+1, p[:40], want)
		}
	}
	if !strings.Contains(parts[0], huge.Summary()) {
		t.Errorf("summary not in the first part")
	}

	// The plan shrinks: part 1 is edited, the rest deleted.
	res, err = c.PostComment(ctx, m, "## small now\n")
	if err != nil {
		t.Fatal(err)
	}
	if res.Updated != 1 || res.Deleted != n-1 || res.Created != 0 {
		t.Fatalf("shrink: %+v", res)
	}
	parts = f.commentBodies(MarkerPrefix)
	if len(parts) != 1 || parts[0] != "<!-- cairn:plan -->\n## small now\n" {
		t.Fatalf("after shrink: %q", parts)
	}
}

func TestPostCommentRemovesDuplicates(t *testing.T) {
	f := newFakeGitHub(t)
	// Two earlier runs raced and both created a comment.
	a := f.addComment("github-actions[bot]", "<!-- cairn:plan -->\nold a")
	f.addComment("github-actions[bot]", "<!-- cairn:plan -->\nold b")
	res, err := f.client(t).PostComment(context.Background(), Marker{}, "new\n")
	if err != nil {
		t.Fatal(err)
	}
	if res.IDs[0] != a || res.Updated != 1 || res.Deleted != 1 {
		t.Fatalf("%+v (oldest %d)", res, a)
	}
	if got := f.commentBodies(MarkerPrefix); len(got) != 1 || got[0] != "<!-- cairn:plan -->\nnew\n" {
		t.Fatalf("%q", got)
	}
}
