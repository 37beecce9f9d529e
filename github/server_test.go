package github

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testToken = "ghs_testTOKENvalue0123456789abcdefABCDEF"
	testOwner = "acme"
	testRepo  = "ml-specs"
	testPR    = 42
	testHead  = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
	testBase  = "9049f1265b7d61be4a8904a9a27120d2064dab3b"
)

// fakeGitHub is a loopback stand-in for the parts of the GitHub REST API that
// cairn uses: issue comments (paginated with Link headers) and check runs.
// Its answers follow the shapes GitHub documents.
type fakeGitHub struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	nextID   int64
	comments []fakeComment // in creation order
	checks   map[int64]*fakeCheck
	requests []string    // "METHOD path"
	statuses [][3]string // commit statuses set: context, state, description
	perPage  int         // page size the server enforces (GitHub caps at 100)
	// fail, when set, answers every request instead of the normal handler.
	fail func(w http.ResponseWriter, r *http.Request) bool
}

type fakeComment struct {
	ID   int64
	Body string
	User string
}

type fakeCheck struct {
	ID          int64
	Name        string
	HeadSHA     string
	Status      string
	Conclusion  string
	Title       string
	Summary     string
	Annotations []map[string]any
	// AnnotationBatches is the number of annotations each request carried.
	AnnotationBatches []int
}

func newFakeGitHub(t *testing.T) *fakeGitHub {
	f := &fakeGitHub{t: t, nextID: 1000, checks: map[int64]*fakeCheck{}, perPage: 100}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGitHub) config() Config {
	return Config{
		Token: testToken, APIURL: f.srv.URL, Owner: testOwner, Repo: testRepo, PR: testPR,
		BaseRef: "main", HeadRef: "move-label", BaseSHA: testBase, HeadSHA: testHead,
	}
}

func (f *fakeGitHub) client(t *testing.T) *Client {
	t.Helper()
	now := func() time.Time { return time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC) }
	c, err := NewClient(f.config(), f.srv.Client(), now)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// addComment seeds a comment, as if someone else had written it.
func (f *fakeGitHub) addComment(user, body string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	f.comments = append(f.comments, fakeComment{ID: f.nextID, Body: body, User: user})
	return f.nextID
}

func (f *fakeGitHub) commentBodies(prefix string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.comments {
		if strings.HasPrefix(c.Body, prefix) {
			out = append(out, c.Body)
		}
	}
	return out
}

func (f *fakeGitHub) commentJSON(c fakeComment) map[string]any {
	ts := "2026-11-27T10:00:00Z"
	return map[string]any{
		"id":                 c.ID,
		"node_id":            "IC_kwDO" + strconv.FormatInt(c.ID, 10),
		"url":                fmt.Sprintf("%s/repos/%s/%s/issues/comments/%d", f.srv.URL, testOwner, testRepo, c.ID),
		"html_url":           fmt.Sprintf("https://github.com/%s/%s/pull/%d#issuecomment-%d", testOwner, testRepo, testPR, c.ID),
		"issue_url":          fmt.Sprintf("%s/repos/%s/%s/issues/%d", f.srv.URL, testOwner, testRepo, testPR),
		"body":               c.Body,
		"user":               map[string]any{"login": c.User, "id": 41898282, "type": "Bot"},
		"created_at":         ts,
		"updated_at":         ts,
		"author_association": "NONE",
	}
}

func (f *fakeGitHub) writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-RateLimit-Limit", "5000")
	w.Header().Set("X-RateLimit-Remaining", "4990")
	w.Header().Set("X-RateLimit-Reset", "1795000000")
	w.Header().Set("X-GitHub-Media-Type", "github.v3; format=json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		f.t.Errorf("encode: %v", err)
	}
}

func (f *fakeGitHub) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	fail := f.fail
	f.mu.Unlock()
	if got := r.Header.Get("Authorization"); got != "Bearer "+testToken {
		f.writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
		return
	}
	if fail != nil && fail(w, r) {
		return
	}
	repo := fmt.Sprintf("/repos/%s/%s", testOwner, testRepo)
	path := r.URL.Path
	switch {
	case r.Method == "GET" && path == fmt.Sprintf("%s/issues/%d/comments", repo, testPR):
		f.listComments(w, r)
	case r.Method == "POST" && path == fmt.Sprintf("%s/issues/%d/comments", repo, testPR):
		var in struct{ Body string }
		if !f.decode(w, r, &in) {
			return
		}
		if n := len([]rune(in.Body)); n > MaxCommentChars {
			f.writeJSON(w, 422, validationFailed("IssueComment", "body", "custom", fmt.Sprintf("Body is too long (maximum is 65536 characters, got %d)", n)))
			return
		}
		f.mu.Lock()
		f.nextID++
		c := fakeComment{ID: f.nextID, Body: in.Body, User: "github-actions[bot]"}
		f.comments = append(f.comments, c)
		f.mu.Unlock()
		f.writeJSON(w, http.StatusCreated, f.commentJSON(c))
	case strings.HasPrefix(path, repo+"/issues/comments/"):
		id, _ := strconv.ParseInt(strings.TrimPrefix(path, repo+"/issues/comments/"), 10, 64)
		f.mu.Lock()
		idx := -1
		for i, c := range f.comments {
			if c.ID == id {
				idx = i
			}
		}
		f.mu.Unlock()
		if idx < 0 {
			f.writeJSON(w, 404, map[string]string{"message": "Not Found", "documentation_url": "https://docs.github.com/rest/issues/comments"})
			return
		}
		switch r.Method {
		case "PATCH":
			var in struct{ Body string }
			if !f.decode(w, r, &in) {
				return
			}
			if n := len([]rune(in.Body)); n > MaxCommentChars {
				f.writeJSON(w, 422, validationFailed("IssueComment", "body", "custom", "Body is too long (maximum is 65536 characters)"))
				return
			}
			f.mu.Lock()
			f.comments[idx].Body = in.Body
			c := f.comments[idx]
			f.mu.Unlock()
			f.writeJSON(w, 200, f.commentJSON(c))
		case "DELETE":
			f.mu.Lock()
			f.comments = append(f.comments[:idx], f.comments[idx+1:]...)
			f.mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
		default:
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	case r.Method == "POST" && strings.HasPrefix(path, repo+"/statuses/"):
		var in struct {
			State       string `json:"state"`
			Context     string `json:"context"`
			Description string `json:"description"`
		}
		if !f.decode(w, r, &in) {
			return
		}
		if sha := strings.TrimPrefix(path, repo+"/statuses/"); sha != testHead {
			f.writeJSON(w, 422, map[string]any{"message": "No commit found for SHA: " + sha, "documentation_url": "https://docs.github.com/rest/commits/statuses#create-a-commit-status"})
			return
		}
		if len([]rune(in.Description)) > 140 {
			f.writeJSON(w, 422, validationFailed("Status", "description", "custom", "description is too long (maximum is 140 characters)"))
			return
		}
		f.mu.Lock()
		f.statuses = append(f.statuses, [3]string{in.Context, in.State, in.Description})
		f.mu.Unlock()
		f.writeJSON(w, http.StatusCreated, map[string]any{"id": 1, "state": in.State, "context": in.Context, "description": in.Description})
	case r.Method == "POST" && path == repo+"/check-runs":
		var in struct {
			Name       string       `json:"name"`
			HeadSHA    string       `json:"head_sha"`
			Status     string       `json:"status"`
			Conclusion string       `json:"conclusion"`
			Output     *checkOutput `json:"output"`
		}
		if !f.decode(w, r, &in) {
			return
		}
		if in.HeadSHA != testHead {
			f.writeJSON(w, 422, map[string]any{"message": "No commit found for SHA: " + in.HeadSHA, "documentation_url": "https://docs.github.com/rest/checks/runs#create-a-check-run"})
			return
		}
		f.mu.Lock()
		f.nextID++
		cr := &fakeCheck{ID: f.nextID, Name: in.Name, HeadSHA: in.HeadSHA}
		f.checks[cr.ID] = cr
		f.mu.Unlock()
		if !f.applyCheck(w, cr, in.Status, in.Conclusion, in.Output) {
			return
		}
		f.writeJSON(w, 201, f.checkJSON(cr))
	case r.Method == "PATCH" && strings.HasPrefix(path, repo+"/check-runs/"):
		id, _ := strconv.ParseInt(strings.TrimPrefix(path, repo+"/check-runs/"), 10, 64)
		f.mu.Lock()
		cr := f.checks[id]
		f.mu.Unlock()
		if cr == nil {
			f.writeJSON(w, 404, map[string]string{"message": "Not Found"})
			return
		}
		var in struct {
			Name, Status, Conclusion string
			Output                   *checkOutput
		}
		if !f.decode(w, r, &in) {
			return
		}
		if !f.applyCheck(w, cr, in.Status, in.Conclusion, in.Output) {
			return
		}
		f.writeJSON(w, 200, f.checkJSON(cr))
	default:
		f.writeJSON(w, 404, map[string]string{"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
	}
}

type checkOutput struct {
	Title, Summary, Text string
	Annotations          []map[string]any
}

func (f *fakeGitHub) applyCheck(w http.ResponseWriter, cr *fakeCheck, status, conclusion string, out *checkOutput) bool {
	if out != nil {
		if len(out.Annotations) > 50 {
			f.writeJSON(w, 422, validationFailed("CheckRun", "annotations", "too_long", "more than 50 annotations"))
			return false
		}
		for _, a := range out.Annotations {
			for _, k := range []string{"path", "start_line", "end_line", "annotation_level", "message"} {
				if _, ok := a[k]; !ok {
					f.writeJSON(w, 422, validationFailed("CheckRun", "annotations", "missing_field", k))
					return false
				}
			}
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if status != "" {
		cr.Status = status
	}
	if conclusion != "" {
		cr.Conclusion = conclusion
	}
	if out != nil {
		cr.Title, cr.Summary = out.Title, out.Summary
		cr.Annotations = append(cr.Annotations, out.Annotations...)
		cr.AnnotationBatches = append(cr.AnnotationBatches, len(out.Annotations))
	}
	return true
}

func (f *fakeGitHub) checkJSON(cr *fakeCheck) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := map[string]any{
		"id": cr.ID, "node_id": "CR_kwDO" + strconv.FormatInt(cr.ID, 10), "head_sha": cr.HeadSHA,
		"name": cr.Name, "status": cr.Status,
		"url":      fmt.Sprintf("%s/repos/%s/%s/check-runs/%d", f.srv.URL, testOwner, testRepo, cr.ID),
		"html_url": fmt.Sprintf("https://github.com/%s/%s/runs/%d", testOwner, testRepo, cr.ID),
		"output": map[string]any{"title": cr.Title, "summary": cr.Summary, "annotations_count": len(cr.Annotations),
			"annotations_url": fmt.Sprintf("%s/repos/%s/%s/check-runs/%d/annotations", f.srv.URL, testOwner, testRepo, cr.ID)},
		"app": map[string]any{"id": 15368, "slug": "github-actions", "name": "GitHub Actions"},
	}
	if cr.Conclusion != "" {
		m["conclusion"] = cr.Conclusion
	}
	return m
}

func (f *fakeGitHub) listComments(w http.ResponseWriter, r *http.Request) {
	per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	if per <= 0 || per > f.perPage {
		per = f.perPage
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	if page <= 0 {
		page = 1
	}
	f.mu.Lock()
	all := append([]fakeComment(nil), f.comments...)
	f.mu.Unlock()
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	last := max(1, (len(all)+per-1)/per)
	lo, hi := min((page-1)*per, len(all)), min(page*per, len(all))
	out := []map[string]any{}
	for _, c := range all[lo:hi] {
		out = append(out, f.commentJSON(c))
	}
	link := func(p int, rel string) string {
		u := *r.URL
		q := u.Query()
		q.Set("page", strconv.Itoa(p))
		q.Set("per_page", strconv.Itoa(per))
		u.RawQuery = q.Encode()
		return fmt.Sprintf(`<%s%s>; rel="%s"`, f.srv.URL, u.RequestURI(), rel)
	}
	var links []string
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"), link(page-1, "prev"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	f.writeJSON(w, 200, out)
}

func (f *fakeGitHub) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	data, err := io.ReadAll(r.Body)
	if err == nil {
		err = json.Unmarshal(data, v)
	}
	if err != nil {
		f.writeJSON(w, 400, map[string]string{"message": "Problems parsing JSON"})
		return false
	}
	return true
}

func validationFailed(resource, field, code, msg string) map[string]any {
	return map[string]any{
		"message":           "Validation Failed",
		"errors":            []map[string]string{{"resource": resource, "field": field, "code": code, "message": msg}},
		"documentation_url": "https://docs.github.com/rest",
	}
}

func (f *fakeGitHub) countRequests(method, pathSuffix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.requests {
		if strings.HasPrefix(r, method+" ") && strings.Contains(r, pathSuffix) {
			n++
		}
	}
	return n
}
