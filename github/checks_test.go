package github

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/internal/diag"
)

func annotations(n int) []Annotation {
	var out []Annotation
	for i := 0; i < n; i++ {
		lvl := []string{LevelFailure, LevelWarning, LevelNotice}[i%3]
		out = append(out, Annotation{Path: "specs/models.cue", StartLine: i + 1, Level: lvl, Title: "owners", Message: fmt.Sprintf("violation %d", i)})
	}
	return out
}

func TestPublishCheckRunBatchesAnnotations(t *testing.T) {
	tests := []struct {
		n       int
		batches []int
	}{
		{0, []int{0}},
		{1, []int{1}},
		{50, []int{50}},
		{51, []int{50, 1}},
		{120, []int{50, 50, 20}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.n), func(t *testing.T) {
			f := newFakeGitHub(t)
			c := f.client(t)
			res, err := c.PublishCheckRun(context.Background(), CheckRun{
				Title: "1 denial", Summary: "summary", Conclusion: Failure, Annotations: annotations(tt.n),
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Requests != len(tt.batches) {
				t.Errorf("%d requests, want %d", res.Requests, len(tt.batches))
			}
			if got := f.countRequests("POST", "/check-runs") + f.countRequests("PATCH", "/check-runs/"); got != len(tt.batches) {
				t.Errorf("server saw %d check-run requests, want %d", got, len(tt.batches))
			}
			cr := f.checks[res.ID]
			if fmt.Sprint(cr.AnnotationBatches) != fmt.Sprint(tt.batches) {
				t.Errorf("batches %v, want %v", cr.AnnotationBatches, tt.batches)
			}
			if len(cr.Annotations) != tt.n {
				t.Errorf("%d annotations stored, want %d", len(cr.Annotations), tt.n)
			}
			for i, a := range cr.Annotations {
				if a["start_line"] != float64(i+1) || a["message"] != fmt.Sprintf("violation %d", i) {
					t.Errorf("annotation %d out of order: %v", i, a)
					break
				}
			}
			if cr.Status != "completed" || cr.Conclusion != Failure || cr.Name != "cairn" || cr.HeadSHA != testHead {
				t.Errorf("check run %+v", cr)
			}
			if res.URL != fmt.Sprintf("https://github.com/acme/ml-specs/runs/%d", res.ID) {
				t.Errorf("url %q", res.URL)
			}
		})
	}
}

func TestPublishCheckRunConclusions(t *testing.T) {
	f := newFakeGitHub(t)
	c := f.client(t)
	for _, concl := range []string{Success, Failure, Neutral} {
		res, err := c.PublishCheckRun(context.Background(), CheckRun{Title: concl, Summary: "s", Conclusion: concl})
		if err != nil {
			t.Fatal(err)
		}
		if got := f.checks[res.ID].Conclusion; got != concl {
			t.Errorf("conclusion %q, want %q", got, concl)
		}
	}
	_, err := c.PublishCheckRun(context.Background(), CheckRun{Conclusion: "passed"})
	if err == nil || !strings.Contains(err.Error(), `"passed" is not one of success, failure, neutral`) {
		t.Errorf("bad conclusion: %v", err)
	}
}

func TestPublishCheckRunRejectsBadAnnotations(t *testing.T) {
	f := newFakeGitHub(t)
	c := f.client(t)
	tests := []struct {
		a    Annotation
		want string
	}{
		{Annotation{Path: "/abs/x.cue", StartLine: 1, Level: LevelNotice}, `path "/abs/x.cue" must be relative`},
		{Annotation{Path: "x.cue", StartLine: 0, Level: LevelNotice}, "x.cue: start line 0 must be ≥ 1"},
		{Annotation{Path: "x.cue", StartLine: 5, EndLine: 2, Level: LevelNotice}, "end line 2 is before start line 5"},
		{Annotation{Path: "x.cue", StartLine: 3, Level: "error"}, `x.cue:3: level "error" is not one of notice, warning, failure`},
	}
	for _, tt := range tests {
		_, err := c.PublishCheckRun(context.Background(), CheckRun{Conclusion: Success, Annotations: []Annotation{tt.a}})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: error %v, want %q", tt.a, err, tt.want)
		}
	}
	if n := f.countRequests("POST", "/check-runs"); n != 0 {
		t.Errorf("%d requests sent for invalid input", n)
	}
}

func TestAnnotationsFromDiagnostics(t *testing.T) {
	l := diag.List{
		{Severity: diag.Deny, Code: "owners", Title: "Objects have owners", Message: "model has no owner", Object: "models/fraud", Path: "owner", Pos: diag.Position{File: "specs/models.cue", Line: 12, Col: 3}},
		{Severity: diag.Warn, Code: "budget", Message: "near budget", Pos: diag.Position{File: "cairn.cue", Line: 4, Col: 1}},
		{Severity: diag.Waived, Code: "canary", Message: "canary 20%", Waiver: "approved by ana until 2026-12-31", Pos: diag.Position{File: "cairn.cue", Line: 0}},
		{Severity: diag.Error, Code: "E001", Message: "no position"},
	}
	got := Annotations(l, "ml/")
	want := []Annotation{
		{Path: "ml/specs/models.cue", StartLine: 12, Level: LevelFailure, Title: "owners: Objects have owners", Message: "model has no owner [models/fraud.owner]"},
		{Path: "ml/cairn.cue", StartLine: 4, Level: LevelWarning, Title: "budget", Message: "near budget"},
		{Path: "ml/cairn.cue", StartLine: 1, Level: LevelNotice, Title: "canary", Message: "canary 20%\nwaived: approved by ana until 2026-12-31"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

// A commit status (how reconcile announces a rollback): set on the commit,
// a long description cut to GitHub's 140 characters, an unknown commit and
// a bad state refused with what to check.
func TestSetCommitStatus(t *testing.T) {
	f := newFakeGitHub(t)
	c := f.client(t)
	ctx := context.Background()
	long := strings.Repeat("error-rate 0.3 > stable 0.01 + 0.01; ", 10)
	if err := c.SetCommitStatus(ctx, testHead, "cairn/rollout/fraud-api", StatusFailure, "rolled back canary 8: "+long); err != nil {
		t.Fatal(err)
	}
	if len(f.statuses) != 1 || f.statuses[0][0] != "cairn/rollout/fraud-api" || f.statuses[0][1] != "failure" || len([]rune(f.statuses[0][2])) != 140 {
		t.Fatalf("statuses %q", f.statuses)
	}
	if err := c.SetCommitStatus(ctx, "0000000000000000000000000000000000000000", "cairn/rollout/x", StatusFailure, "x"); err == nil || !strings.Contains(err.Error(), "No commit found") {
		t.Errorf("unknown commit: %v", err)
	}
	if err := c.SetCommitStatus(ctx, testHead, "cairn/rollout/x", "broken", "x"); err == nil || !strings.Contains(err.Error(), "want success, failure or pending") {
		t.Errorf("bad state: %v", err)
	}
}
