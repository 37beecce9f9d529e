package github

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

const fixtures = "../testdata/github"

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigFromEnv(t *testing.T) {
	c, err := ConfigFromEnv(env(map[string]string{
		"GITHUB_TOKEN":      testToken,
		"GITHUB_API_URL":    "https://ghe.example.com/api/v3",
		"GITHUB_REPOSITORY": "acme/ml-specs",
		"GITHUB_EVENT_PATH": filepath.Join(fixtures, "event_pull_request.json"),
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Token: testToken, APIURL: "https://ghe.example.com/api/v3", Owner: "acme", Repo: "ml-specs", PR: 42,
		BaseRef: "main", BaseSHA: testBase, HeadRef: "move-label", HeadSHA: testHead,
		EventPath: filepath.Join(fixtures, "event_pull_request.json")}
	if c != want {
		t.Errorf("got  %s\nwant %s", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
	// The token never shows, whatever the verb.
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		if s := fmt.Sprintf(verb, c); strings.Contains(s, testToken) || !strings.Contains(s, "token=set (redacted)") {
			t.Errorf("%s: %s", verb, s)
		}
	}
	// GitHub Enterprise: the base URL gets its trailing slash.
	cl, err := NewClient(c, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := cl.gh.BaseURL.String(); got != "https://ghe.example.com/api/v3/" {
		t.Errorf("base URL %q", got)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"bad repository", map[string]string{"GITHUB_REPOSITORY": "acme"}, `GITHUB_REPOSITORY: invalid repository "acme": want owner/name`},
		{"missing event", map[string]string{"GITHUB_EVENT_PATH": "/nonexistent/event.json"}, "GITHUB_EVENT_PATH: open /nonexistent/event.json"},
		{"push event", map[string]string{"GITHUB_EVENT_PATH": filepath.Join(fixtures, "event_push.json")}, `event_push.json: not a pull_request event (no "pull_request" object); pass --pr, --base and --head`},
		{"syntax", map[string]string{"GITHUB_EVENT_PATH": filepath.Join(fixtures, "event_bad_syntax.json")}, "event_bad_syntax.json: 4:18: invalid event JSON: invalid character ','"},
		{"type", map[string]string{"GITHUB_EVENT_PATH": filepath.Join(fixtures, "event_bad_type.json")}, `event_bad_type.json: 4:25: invalid event JSON: json: cannot unmarshal string into Go struct field .pull_request.number of type int`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ConfigFromEnv(env(tt.env))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v\nwant  %q", err, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		c    Config
		want []string
	}{
		{Config{}, []string{"no GitHub token: set GITHUB_TOKEN", "no repository: set GITHUB_REPOSITORY=owner/name or --repo", "no pull request number (got 0)"}},
		{Config{Token: "a b", Owner: "o", Repo: "r", PR: 1}, []string{"GITHUB_TOKEN contains whitespace"}},
		{Config{Token: "t", Owner: "o", Repo: "r", PR: 1, APIURL: "ftp://x"}, []string{`GITHUB_API_URL "ftp://x" is not an http(s) URL`}},
		{Config{Token: "t", Owner: "o", Repo: "r", PR: 1, APIURL: "https://user:pw@ghe.example.com/api/v3"}, []string{"must not contain credentials"}},
	}
	for _, tt := range tests {
		err := tt.c.Validate()
		if err == nil {
			t.Errorf("%s: no error", tt.c)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tt.c, err, w)
			}
		}
		if strings.Contains(err.Error(), "pw@") || (len(tt.c.Token) > 3 && strings.Contains(err.Error(), tt.c.Token)) {
			t.Errorf("secret in error: %v", err)
		}
	}
}
