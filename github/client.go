package github

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v62/github"
)

// Client posts comments and check runs to one repository's pull request.
type Client struct {
	gh    *gh.Client
	cfg   Config
	api   string
	now   func() time.Time
	stats Stats
}

// Stats counts the API requests a Client made, by kind, so callers and tests
// can see that a second run edits instead of creating.
type Stats struct {
	Listed, Created, Edited, Deleted, Unchanged int // comments
	CheckRequests                               int // check-run creates and updates
}

// NewClient builds a go-github client for cfg. httpClient may be nil
// (http.DefaultClient's transport is used). now supplies check-run
// timestamps; nil means time.Now.
func NewClient(cfg Config, httpClient *http.Client, now func() time.Time) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return newClient(cfg, httpClient, now)
}

func newClient(cfg Config, httpClient *http.Client, now func() time.Time) (*Client, error) {
	api := cfg.APIURL
	if api == "" {
		api = DefaultAPIURL
	}
	base, err := apiBaseURL(api)
	if err != nil {
		return nil, err
	}
	c := gh.NewClient(httpClient).WithAuthToken(cfg.Token)
	c.BaseURL = base
	c.UserAgent = "cairn"
	if now == nil {
		now = time.Now
	}
	return &Client{gh: c, cfg: cfg, api: base.String(), now: now}, nil
}

// Stats returns the requests made so far.
func (c *Client) Stats() Stats { return c.stats }

// APIError is a GitHub API failure explained for a person: what cairn was
// doing, what GitHub answered, and what to check. It never contains the token.
type APIError struct {
	Op      string    // "list comments on owner/repo#12"
	Status  int       // HTTP status; 0 for network errors
	Message string    // GitHub's message
	Hint    string    // what to check
	Reset   time.Time // when the primary rate limit resets, if that was the cause
	Err     error     // the go-github error
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("GitHub API: " + e.Op + ": ")
	if e.Status != 0 {
		b.WriteString(strconv.Itoa(e.Status) + " " + http.StatusText(e.Status))
		if e.Message != "" && e.Message != http.StatusText(e.Status) {
			b.WriteString(" (" + e.Message + ")")
		}
	} else {
		b.WriteString(e.Message)
	}
	if e.Hint != "" {
		b.WriteString(": " + e.Hint)
	}
	return b.String()
}

func (e *APIError) Unwrap() error { return e.Err }

// permission names the workflow permission an operation needs.
type permission string

const (
	permComments permission = "pull-requests: write"
	permChecks   permission = "checks: write"
)

// explain turns a go-github error into an *APIError with a hint.
func (c *Client) explain(op string, perm permission, err error) error {
	if err == nil {
		return nil
	}
	e := &APIError{Op: op, Err: err}
	var rl *gh.RateLimitError
	var abuse *gh.AbuseRateLimitError
	var er *gh.ErrorResponse
	var ue *url.Error
	switch {
	case errors.As(err, &rl):
		e.Status, e.Message = statusOf(rl.Response, http.StatusForbidden), rl.Message
		e.Reset = rl.Rate.Reset.Time.UTC()
		e.Hint = primaryHint(rl.Rate.Limit, e.Reset)
	case errors.As(err, &abuse):
		e.Status, e.Message = statusOf(abuse.Response, http.StatusForbidden), abuse.Message
		e.Hint = "secondary rate limit (too many requests in a short time)"
		if abuse.RetryAfter != nil && *abuse.RetryAfter > 0 {
			e.Hint += fmt.Sprintf("; retry after %s", abuse.RetryAfter.Round(time.Second))
		} else {
			e.Hint += "; wait a minute and re-run the job"
		}
	case errors.As(err, &er):
		e.Status, e.Message = statusOf(er.Response, 0), er.Message
		e.Hint = c.hint(er, perm)
		if e.Status == http.StatusTooManyRequests || e.Status == http.StatusForbidden {
			if r := er.Response; r != nil && r.Header.Get("X-RateLimit-Remaining") == "0" {
				// GitHub also answers an exhausted primary limit with 429,
				// which go-github does not type as a RateLimitError.
				if v, _ := strconv.ParseInt(r.Header.Get("X-RateLimit-Reset"), 10, 64); v > 0 {
					e.Reset = time.Unix(v, 0).UTC()
				}
				limit, _ := strconv.Atoi(r.Header.Get("X-RateLimit-Limit"))
				e.Hint = primaryHint(limit, e.Reset)
			}
		}
	case errors.As(err, &ue):
		// url.Error names the method and URL; the token travels in a header, not the URL.
		e.Message = fmt.Sprintf("cannot reach %s: %v", c.api, ue.Err)
		e.Hint = "check GITHUB_API_URL and the network"
	default:
		e.Message = err.Error()
	}
	return e
}

func statusOf(r *http.Response, def int) int {
	if r != nil {
		return r.StatusCode
	}
	return def
}

func primaryHint(limit int, reset time.Time) string {
	h := "API rate limit exhausted"
	if limit > 0 {
		h += fmt.Sprintf(" (%d requests/hour)", limit)
	}
	if !reset.IsZero() {
		h += "; it resets at " + reset.Format(time.RFC3339)
	}
	return h + "; wait for the reset or use a token with a higher limit"
}

func (c *Client) hint(er *gh.ErrorResponse, perm permission) string {
	repo := c.cfg.Owner + "/" + c.cfg.Repo
	scopes := ""
	if r := er.Response; r != nil {
		if need := r.Header.Get("X-Accepted-OAuth-Scopes"); need != "" {
			scopes = fmt.Sprintf(" (the endpoint accepts scopes %q; the token has %q)", need, r.Header.Get("X-OAuth-Scopes"))
		}
	}
	switch statusOf(er.Response, 0) {
	case http.StatusUnauthorized:
		return "the token was rejected; check that GITHUB_TOKEN is set to a valid, unexpired token for " + c.api
	case http.StatusForbidden:
		return fmt.Sprintf("the token may not do this on %s; grant the workflow `permissions: %s` "+
			"(a personal token needs the repo scope)%s; pull requests from forks get a read-only GITHUB_TOKEN", repo, perm, scopes)
	case http.StatusNotFound:
		if c.cfg.PR <= 0 {
			return fmt.Sprintf("check that repository %s exists and that the token can see it (the workflow needs `permissions: %s`)%s", repo, perm, scopes)
		}
		return fmt.Sprintf("check that repository %s and pull request #%d exist and that the token can see them "+
			"(GitHub answers 404 to tokens without access to a private repository)%s", repo, c.cfg.PR, scopes)
	case http.StatusUnprocessableEntity:
		var parts []string
		for _, fe := range er.Errors {
			s := strings.TrimSpace(strings.Join(nonEmpty(fe.Resource, fe.Field, fe.Code, fe.Message), " "))
			if s != "" {
				parts = append(parts, s)
			}
		}
		h := "GitHub rejected the request as invalid"
		if len(parts) > 0 {
			h += " [" + strings.Join(parts, "; ") + "]"
		}
		if perm == permChecks {
			h += fmt.Sprintf("; check that head SHA %s is a commit of %s", c.cfg.HeadSHA, repo)
		}
		return h
	}
	return ""
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
