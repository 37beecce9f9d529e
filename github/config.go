// Package github posts cairn's pull-request results to GitHub: one sticky
// comment (found again by a hidden marker, split at GitHub's size limit) and a
// check run with annotations at spec lines. It talks to GitHub through
// go-github; the API base URL is configurable for GitHub Enterprise and tests.
//
// Nothing here prints: functions return values and errors, the CLI formats them.
package github

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
)

// DefaultAPIURL is github.com's REST API.
const DefaultAPIURL = "https://api.github.com/"

// Config says which repository and pull request to talk to, and how.
// Build it with ConfigFromEnv, then override fields from flags, then Validate.
type Config struct {
	// Token authenticates every request. It is never printed: String, GoString
	// and %v/%+v/%#v all redact it.
	Token string
	// APIURL is the REST API base (GITHUB_API_URL): https://api.github.com,
	// https://ghe.example.com/api/v3, or a test server.
	APIURL string
	Owner  string // from GITHUB_REPOSITORY "owner/name"
	Repo   string
	// PR is the pull request number; BaseRef/HeadRef are branch names and
	// BaseSHA/HeadSHA the commits, all from the pull_request event.
	PR      int
	BaseRef string
	HeadRef string
	BaseSHA string
	HeadSHA string
	// EventPath is where the event came from, for error messages.
	EventPath string
}

// String redacts the token so a Config can be logged safely.
func (c Config) String() string {
	tok := "unset"
	if c.Token != "" {
		tok = "set (redacted)"
	}
	return fmt.Sprintf("github.Config{api=%s repo=%s/%s pr=%d base=%s@%s head=%s@%s token=%s}",
		c.APIURL, c.Owner, c.Repo, c.PR, c.BaseRef, short(c.BaseSHA), c.HeadRef, short(c.HeadSHA), tok)
}

// GoString keeps %#v from printing the token.
func (c Config) GoString() string { return c.String() }

// Format keeps every verb (%v, %+v, %s, %q …) from printing the token.
func (c Config) Format(f fmt.State, verb rune) { fmt.Fprint(f, c.String()) }

// ConfigFromEnv reads the variables GitHub Actions sets: GITHUB_TOKEN,
// GITHUB_API_URL, GITHUB_REPOSITORY and GITHUB_EVENT_PATH (the event JSON,
// from which a pull_request or pull_request_target event gives the PR number,
// refs and SHAs). Missing variables leave fields empty for flags to fill;
// present but malformed ones are errors naming the variable and value.
// getenv is os.Getenv in production and a map lookup in tests.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	c := Config{
		Token:  strings.TrimSpace(getenv("GITHUB_TOKEN")),
		APIURL: strings.TrimSpace(getenv("GITHUB_API_URL")),
	}
	if r := strings.TrimSpace(getenv("GITHUB_REPOSITORY")); r != "" {
		owner, repo, err := SplitRepository(r)
		if err != nil {
			return c, fmt.Errorf("GITHUB_REPOSITORY: %w", err)
		}
		c.Owner, c.Repo = owner, repo
	}
	if p := strings.TrimSpace(getenv("GITHUB_EVENT_PATH")); p != "" {
		data, err := os.ReadFile(p)
		if err != nil {
			return c, fmt.Errorf("GITHUB_EVENT_PATH: %w", err)
		}
		ev, err := ParseEvent(data)
		if err != nil {
			return c, fmt.Errorf("GITHUB_EVENT_PATH %s: %w", p, err)
		}
		c.EventPath = p
		c.PR, c.BaseRef, c.HeadRef, c.BaseSHA, c.HeadSHA = ev.Number, ev.BaseRef, ev.HeadRef, ev.BaseSHA, ev.HeadSHA
		if c.Owner == "" && ev.Repository != "" {
			c.Owner, c.Repo, _ = SplitRepository(ev.Repository)
		}
	}
	return c, nil
}

// Validate checks what every GitHub call needs and says which variable or
// flag to set. It never includes the token's value.
func (c Config) Validate() error {
	err := c.validateRepo()
	if c.PR <= 0 {
		err = errors.Join(err, fmt.Errorf("no pull request number (got %d): run on a pull_request event or pass --pr N", c.PR))
	}
	return err
}

// validateRepo checks what every request needs: a token, the repository and
// a usable API URL.
func (c Config) validateRepo() error {
	var errs []error
	if c.Token == "" {
		errs = append(errs, errors.New("no GitHub token: set GITHUB_TOKEN (in a workflow: env: GITHUB_TOKEN: ${{ github.token }})"))
	} else if strings.ContainsAny(c.Token, " \t\r\n") {
		errs = append(errs, errors.New("GITHUB_TOKEN contains whitespace; check how the secret was pasted"))
	}
	if c.Owner == "" || c.Repo == "" {
		errs = append(errs, errors.New("no repository: set GITHUB_REPOSITORY=owner/name or --repo owner/name"))
	}
	if c.APIURL != "" {
		if _, err := apiBaseURL(c.APIURL); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

var repoRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$`)

// SplitRepository splits "owner/name".
func SplitRepository(s string) (owner, repo string, err error) {
	if !repoRE.MatchString(s) || strings.HasSuffix(s, "/.") || strings.HasSuffix(s, "/..") {
		return "", "", fmt.Errorf("invalid repository %q: want owner/name", s)
	}
	owner, repo, _ = strings.Cut(s, "/")
	return owner, repo, nil
}

// apiBaseURL parses GITHUB_API_URL into go-github's BaseURL, which must end in "/".
func apiBaseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("GITHUB_API_URL %q is not an http(s) URL (want e.g. https://api.github.com or https://ghe.example.com/api/v3)", s)
	}
	if u.User != nil {
		// Credentials in the URL would be echoed in error messages; refuse them.
		return nil, errors.New("GITHUB_API_URL must not contain credentials; use GITHUB_TOKEN")
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u, nil
}

// Event is the part of a pull_request event cairn needs.
type Event struct {
	Number     int
	BaseRef    string
	BaseSHA    string
	HeadRef    string
	HeadSHA    string
	Repository string // "owner/name" of the base repository
}

// ParseEvent reads a GitHub Actions event payload. Only pull_request and
// pull_request_target payloads (which carry a "pull_request" object) are
// accepted; for others the error says so.
func ParseEvent(data []byte) (Event, error) {
	var raw struct {
		Number      int `json:"number"`
		PullRequest *struct {
			Number int `json:"number"`
			Base   struct {
				Ref string `json:"ref"`
				SHA string `json:"sha"`
			} `json:"base"`
			Head struct {
				Ref string `json:"ref"`
				SHA string `json:"sha"`
			} `json:"head"`
		} `json:"pull_request"`
		Repository struct {
			FullName string `json:"full_name"`
		} `json:"repository"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return Event{}, jsonError(data, err)
	}
	if raw.PullRequest == nil {
		return Event{}, errors.New(`not a pull_request event (no "pull_request" object); pass --pr, --base and --head`)
	}
	pr := raw.PullRequest
	ev := Event{
		Number: pr.Number, BaseRef: pr.Base.Ref, BaseSHA: pr.Base.SHA,
		HeadRef: pr.Head.Ref, HeadSHA: pr.Head.SHA, Repository: raw.Repository.FullName,
	}
	if ev.Number == 0 {
		ev.Number = raw.Number
	}
	if ev.Number <= 0 {
		return Event{}, errors.New(`pull_request event has no "number"`)
	}
	for name, sha := range map[string]string{"pull_request.base.sha": ev.BaseSHA, "pull_request.head.sha": ev.HeadSHA} {
		if sha != "" && !shaRE.MatchString(sha) {
			return Event{}, fmt.Errorf("%s %q is not a commit SHA", name, sha)
		}
	}
	return ev, nil
}

var shaRE = regexp.MustCompile(`^[0-9a-f]{40}([0-9a-f]{24})?$`)

// jsonError turns a JSON syntax or type error into "line:col: message".
func jsonError(data []byte, err error) error {
	var off int64
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	default:
		return fmt.Errorf("invalid JSON: %v", err)
	}
	line, col := 1, 1
	// Offset counts the bytes read, the offending one included.
	for i := int64(0); i < off-1 && i < int64(len(data)); i++ {
		if data[i] == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return fmt.Errorf("%d:%d: invalid event JSON: %v", line, col, err)
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
