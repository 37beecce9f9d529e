package github

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	gh "github.com/google/go-github/v62/github"

	"github.com/cairn-dev/cairn/internal/diag"
)

// GitHub's limits on check runs.
const (
	MaxAnnotationsPerRequest = 50
	maxOutputChars           = 65535 // title is shorter, summary and text each this long
	maxTitleChars            = 255
)

// Conclusions cairn sets.
const (
	Success = "success"
	Failure = "failure"
	Neutral = "neutral"
)

// Annotation levels GitHub accepts.
const (
	LevelNotice  = "notice"
	LevelWarning = "warning"
	LevelFailure = "failure"
)

// Annotation marks a line of a spec file in the check run.
type Annotation struct {
	Path      string // relative to the repository root, forward slashes
	StartLine int
	EndLine   int // 0 means StartLine
	Level     string
	Title     string
	Message   string
}

// CheckRun is what PublishCheckRun posts.
type CheckRun struct {
	Name        string // "cairn"
	HeadSHA     string // "" means the config's HeadSHA
	Title       string
	Summary     string // Markdown, cut to GitHub's limit
	Text        string // Markdown details, cut to GitHub's limit
	Conclusion  string // Success, Failure or Neutral
	DetailsURL  string
	Annotations []Annotation
}

// CheckResult says what PublishCheckRun did.
type CheckResult struct {
	ID       int64
	URL      string
	Requests int // create + updates
}

// PublishCheckRun creates a check run on the head commit and completes it.
// GitHub takes at most 50 annotations per request and appends those of each
// update, so the first 50 go with the create and the rest follow in
// successive updates; the last request sets the conclusion.
func (c *Client) PublishCheckRun(ctx context.Context, run CheckRun) (CheckResult, error) {
	var res CheckResult
	if run.Name == "" {
		run.Name = "cairn"
	}
	sha := run.HeadSHA
	if sha == "" {
		sha = c.cfg.HeadSHA
	}
	if sha == "" {
		return res, fmt.Errorf("check run %q: no head commit SHA; run on a pull_request event or pass --head-sha", run.Name)
	}
	switch run.Conclusion {
	case Success, Failure, Neutral:
	default:
		return res, fmt.Errorf("check run %q: conclusion %q is not one of success, failure, neutral", run.Name, run.Conclusion)
	}
	for i, a := range run.Annotations {
		if err := a.validate(); err != nil {
			return res, fmt.Errorf("check run %q: annotation %d: %w", run.Name, i+1, err)
		}
	}
	batches := batch(run.Annotations, MaxAnnotationsPerRequest)
	if len(batches) == 0 {
		batches = [][]Annotation{nil}
	}
	output := func(b []Annotation) *gh.CheckRunOutput {
		o := &gh.CheckRunOutput{
			Title:       gh.String(cut(run.Title, maxTitleChars)),
			Summary:     gh.String(cut(run.Summary, maxOutputChars)),
			Annotations: toGitHub(b),
		}
		if run.Text != "" {
			o.Text = gh.String(cut(run.Text, maxOutputChars))
		}
		return o
	}
	where := fmt.Sprintf("%s/%s@%s", c.cfg.Owner, c.cfg.Repo, short(sha))
	create := gh.CreateCheckRunOptions{
		Name: run.Name, HeadSHA: sha, Output: output(batches[0]),
		StartedAt: &gh.Timestamp{Time: c.now().UTC()},
	}
	if run.DetailsURL != "" {
		create.DetailsURL = gh.String(run.DetailsURL)
	}
	last := len(batches) == 1
	if last {
		create.Status = gh.String("completed")
		create.Conclusion = gh.String(run.Conclusion)
		create.CompletedAt = &gh.Timestamp{Time: c.now().UTC()}
	} else {
		create.Status = gh.String("in_progress")
	}
	cr, _, err := c.gh.Checks.CreateCheckRun(ctx, c.cfg.Owner, c.cfg.Repo, create)
	if err != nil {
		return res, c.explain(fmt.Sprintf("create check run %q on %s", run.Name, where), permChecks, err)
	}
	c.stats.CheckRequests++
	res.Requests++
	res.ID, res.URL = cr.GetID(), cr.GetHTMLURL()
	for i := 1; i < len(batches); i++ {
		upd := gh.UpdateCheckRunOptions{Name: run.Name, Output: output(batches[i])}
		if i == len(batches)-1 {
			upd.Status = gh.String("completed")
			upd.Conclusion = gh.String(run.Conclusion)
			upd.CompletedAt = &gh.Timestamp{Time: c.now().UTC()}
		}
		if _, _, err := c.gh.Checks.UpdateCheckRun(ctx, c.cfg.Owner, c.cfg.Repo, res.ID, upd); err != nil {
			return res, c.explain(fmt.Sprintf("update check run %d (annotations %d–%d) on %s", res.ID,
				i*MaxAnnotationsPerRequest+1, i*MaxAnnotationsPerRequest+len(batches[i]), where), permChecks, err)
		}
		c.stats.CheckRequests++
		res.Requests++
	}
	return res, nil
}

func (a Annotation) validate() error {
	switch {
	case a.Path == "" || strings.HasPrefix(a.Path, "/") || strings.Contains(a.Path, `\`):
		return fmt.Errorf("path %q must be relative to the repository root with forward slashes", a.Path)
	case a.StartLine < 1:
		return fmt.Errorf("%s: start line %d must be ≥ 1", a.Path, a.StartLine)
	case a.EndLine != 0 && a.EndLine < a.StartLine:
		return fmt.Errorf("%s: end line %d is before start line %d", a.Path, a.EndLine, a.StartLine)
	}
	switch a.Level {
	case LevelNotice, LevelWarning, LevelFailure:
	default:
		return fmt.Errorf("%s:%d: level %q is not one of notice, warning, failure", a.Path, a.StartLine, a.Level)
	}
	return nil
}

func toGitHub(as []Annotation) []*gh.CheckRunAnnotation {
	var out []*gh.CheckRunAnnotation
	for _, a := range as {
		end := a.EndLine
		if end == 0 {
			end = a.StartLine
		}
		ga := &gh.CheckRunAnnotation{
			Path: gh.String(a.Path), StartLine: gh.Int(a.StartLine), EndLine: gh.Int(end),
			AnnotationLevel: gh.String(a.Level), Message: gh.String(cut(a.Message, maxOutputChars)),
		}
		if a.Title != "" {
			ga.Title = gh.String(cut(a.Title, maxTitleChars))
		}
		out = append(out, ga)
	}
	return out
}

func batch(as []Annotation, n int) [][]Annotation {
	var out [][]Annotation
	for len(as) > 0 {
		k := min(n, len(as))
		out = append(out, as[:k])
		as = as[k:]
	}
	return out
}

// cut shortens s to at most n characters, saying so at the end.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	const more = "\n\n… (truncated)"
	head, _ := cutRunes(s, n-utf8.RuneCountInString(more))
	return head + more
}

// Annotations turns located diagnostics into check-run annotations:
// errors and denials are failures, warnings warnings, waived denials notices.
// Diagnostics without a file are left out (they are in the summary).
// prefix is the spec repo's path inside the git repository ("" at its root),
// since GitHub wants paths from the repository root.
func Annotations(l diag.List, prefix string) []Annotation {
	var out []Annotation
	for _, d := range l {
		if !d.Pos.IsValid() {
			continue
		}
		a := Annotation{Path: joinPath(prefix, d.Pos.File), StartLine: max(d.Pos.Line, 1), Message: d.Message}
		switch d.Severity {
		case diag.Error, diag.Deny:
			a.Level = LevelFailure
		case diag.Warn:
			a.Level = LevelWarning
		default:
			a.Level = LevelNotice
		}
		a.Title = d.Code
		if d.Title != "" {
			a.Title += ": " + d.Title
		}
		if d.Object != "" {
			obj := d.Object
			if d.Path != "" {
				obj += "." + d.Path
			}
			a.Message += " [" + obj + "]"
		}
		if d.Waiver != "" {
			a.Message += "\nwaived: " + d.Waiver
		}
		out = append(out, a)
	}
	return out
}

func joinPath(prefix, file string) string {
	prefix = strings.Trim(strings.ReplaceAll(prefix, `\`, "/"), "/")
	if prefix == "" || prefix == "." {
		return file
	}
	return prefix + "/" + file
}
