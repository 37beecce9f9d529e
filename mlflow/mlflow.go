// Package mlflow imports a training run or a registered model version from
// an MLflow 3 tracking server (its REST API, ../shared/data/mlflow/REST.md)
// as what registry register records: metrics with the dataset each was
// measured on, parameters, dataset inputs, the git commit, branch,
// repository and dirty flag, and the artifact. Servers older than MLflow 3
// (no outputs, no model_id) are read as far as they go.
//
// There is no maintained Go client for MLflow's REST API; the four GETs
// this needs are plain net/http and encoding/json.
package mlflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/state"
)

// Client talks to one tracking server.
type Client struct {
	BaseURL string // MLFLOW_TRACKING_URI
	// Token (MLFLOW_TRACKING_TOKEN) is sent as a bearer token; otherwise
	// User and Password (MLFLOW_TRACKING_USERNAME/PASSWORD) as basic auth.
	Token, User, Password string
	HTTP                  *http.Client // nil: a client with a 15 s timeout
}

// Imported is a model version as MLflow describes it; Version's Model,
// Version and registration fields are the caller's.
type Imported struct {
	Version  state.ModelVersion
	Warnings []string // a dirty work tree, metrics without a dataset
}

// UsageError is a reference or an artifact choice the caller must fix
// (several logged models and no --artifact).
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Error is an answer of the server: its HTTP status and MLflow's error_code.
type Error struct {
	What   string // "run 3f2a…", "model version fraud/4"
	Status int
	Code   string // RESOURCE_DOES_NOT_EXIST, UNAUTHENTICATED, …
	Msg    string
}

func (e *Error) Error() string {
	switch {
	case e.Status == http.StatusNotFound || e.Code == "RESOURCE_DOES_NOT_EXIST":
		return fmt.Sprintf("mlflow: %s does not exist (%s: %s)", e.What, e.Code, e.Msg)
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		return fmt.Sprintf("mlflow: %s: the server refused the credentials (HTTP %d %s): set MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD", e.What, e.Status, e.Code)
	}
	return fmt.Sprintf("mlflow: %s: HTTP %d %s %s", e.What, e.Status, e.Code, e.Msg)
}

// ParseRef reads "runs:/RUN_ID" or "models:/NAME/VERSION".
func ParseRef(ref string) (runID, model, version string, err error) {
	switch {
	case strings.HasPrefix(ref, "runs:/"):
		runID = strings.Trim(strings.TrimPrefix(ref, "runs:/"), "/")
		if runID == "" || strings.Contains(runID, "/") {
			return "", "", "", &UsageError{fmt.Sprintf("--from-mlflow %q: want runs:/RUN_ID", ref)}
		}
		return runID, "", "", nil
	case strings.HasPrefix(ref, "models:/"):
		name, v, ok := strings.Cut(strings.TrimPrefix(ref, "models:/"), "/")
		if !ok || name == "" || v == "" || strings.Contains(v, "/") {
			return "", "", "", &UsageError{fmt.Sprintf("--from-mlflow %q: want models:/NAME/VERSION", ref)}
		}
		return "", name, v, nil
	}
	return "", "", "", &UsageError{fmt.Sprintf("--from-mlflow %q: want runs:/RUN_ID or models:/NAME/VERSION", ref)}
}

type kv struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type metric struct {
	Key           string  `json:"key"`
	Value         float64 `json:"value"`
	DatasetName   string  `json:"dataset_name"`
	DatasetDigest string  `json:"dataset_digest"`
}

type run struct {
	Info struct {
		RunID       string `json:"run_id"`
		Status      string `json:"status"`
		ArtifactURI string `json:"artifact_uri"`
	} `json:"info"`
	Data struct {
		Metrics []metric `json:"metrics"`
		Params  []kv     `json:"params"`
		Tags    []kv     `json:"tags"`
	} `json:"data"`
	Inputs struct {
		DatasetInputs []struct {
			Tags    []kv `json:"tags"`
			Dataset struct {
				Name       string `json:"name"`
				Digest     string `json:"digest"`
				SourceType string `json:"source_type"`
				Source     string `json:"source"`
			} `json:"dataset"`
		} `json:"dataset_inputs"`
	} `json:"inputs"`
	Outputs *struct {
		ModelOutputs []struct {
			ModelID string `json:"model_id"`
		} `json:"model_outputs"`
	} `json:"outputs"`
}

// Import reads ref; artifact, when set, is the artifact to record (it
// settles a run with several logged models).
func (c *Client) Import(ctx context.Context, ref, artifact string) (*Imported, error) {
	runID, name, version, err := ParseRef(ref)
	if err != nil {
		return nil, err
	}
	out := &Imported{}
	if name != "" {
		var mv struct {
			ModelVersion struct {
				Source string `json:"source"`
				RunID  string `json:"run_id"`
				Status string `json:"status"`
			} `json:"model_version"`
		}
		what := fmt.Sprintf("model version %s/%s", name, version)
		if err := c.get(ctx, what, "/api/2.0/mlflow/model-versions/get", url.Values{"name": {name}, "version": {version}}, &mv); err != nil {
			return nil, err
		}
		if s := mv.ModelVersion.Status; s != "" && s != "READY" {
			return nil, fmt.Errorf("mlflow: %s is %s, not READY: import it once it is registered", what, s)
		}
		if artifact == "" {
			artifact = mv.ModelVersion.Source
		}
		runID = mv.ModelVersion.RunID
		if runID == "" {
			return nil, fmt.Errorf("mlflow: %s names no run: nothing to import but its source", what)
		}
	}
	var r struct {
		Run run `json:"run"`
	}
	what := "run " + runID
	if err := c.get(ctx, what, "/api/2.0/mlflow/runs/get", url.Values{"run_id": {runID}}, &r); err != nil {
		return nil, err
	}
	if s := r.Run.Info.Status; s != "FINISHED" {
		return nil, fmt.Errorf("mlflow: %s is %s, not FINISHED: a version is registered from a finished run", what, s)
	}
	if artifact == "" {
		if artifact, err = c.loggedModel(ctx, what, r.Run); err != nil {
			return nil, err
		}
	}
	out.Version.ArtifactURI = artifact
	tr := &state.TrainingRun{Params: map[string]string{}, MetricDatasets: map[string]string{}, Source: "mlflow " + ref}
	out.Version.Metrics = map[string]float64{}
	for _, m := range r.Run.Data.Metrics {
		out.Version.Metrics[m.Key] = m.Value
		if m.DatasetDigest != "" {
			tr.MetricDatasets[m.Key] = m.DatasetDigest
		}
	}
	for _, p := range r.Run.Data.Params {
		tr.Params[p.Key] = p.Value
	}
	tags := map[string]string{}
	for _, t := range r.Run.Data.Tags {
		tags[t.Key] = t.Value
	}
	out.Version.Commit = tags["mlflow.source.git.commit"]
	tr.Branch = tags["mlflow.source.git.branch"]
	tr.RepoURL = withoutCredentials(tags["mlflow.source.git.repoURL"])
	if tags["mlflow.source.git.dirty"] == "true" {
		tr.Dirty = true
		out.Warnings = append(out.Warnings, fmt.Sprintf("%s ran from a work tree with uncommitted changes (mlflow.source.git.dirty): commit %s does not fully say what was trained", what, out.Version.Commit))
	}
	for _, in := range r.Run.Inputs.DatasetInputs {
		d := state.DataInput{Name: in.Dataset.Name, Digest: in.Dataset.Digest, URI: sourceURI(in.Dataset.Source)}
		for _, t := range in.Tags {
			if t.Key == "mlflow.data.context" {
				d.Context = t.Value
			}
		}
		tr.Inputs = append(tr.Inputs, d)
	}
	sort.Slice(tr.Inputs, func(i, j int) bool {
		return tr.Inputs[i].Name+tr.Inputs[i].Digest < tr.Inputs[j].Name+tr.Inputs[j].Digest
	})
	out.Version.Run = tr
	return out, nil
}

// loggedModel is the artifact of a run's single logged model (MLflow 3's
// outputs); none or several is for the caller to settle with --artifact.
func (c *Client) loggedModel(ctx context.Context, what string, r run) (string, error) {
	var ids []string
	if r.Outputs != nil {
		for _, o := range r.Outputs.ModelOutputs {
			ids = append(ids, o.ModelID)
		}
	}
	switch len(ids) {
	case 0:
		return "", &UsageError{fmt.Sprintf("mlflow: %s logged no model (or the server is older than MLflow 3): pass --artifact URI", what)}
	case 1:
	default:
		return "", &UsageError{fmt.Sprintf("mlflow: %s logged %d models (%s): pass --artifact URI to say which one this version is", what, len(ids), strings.Join(ids, ", "))}
	}
	var lm struct {
		Model struct {
			Info struct {
				ArtifactURI string `json:"artifact_uri"`
				Status      string `json:"status"`
			} `json:"info"`
		} `json:"model"`
	}
	if err := c.get(ctx, "logged model "+ids[0], "/api/2.0/mlflow/logged-models/"+url.PathEscape(ids[0]), nil, &lm); err != nil {
		return "", err
	}
	if lm.Model.Info.ArtifactURI == "" {
		return "", fmt.Errorf("mlflow: logged model %s of %s has no artifact_uri", ids[0], what)
	}
	return lm.Model.Info.ArtifactURI, nil
}

func (c *Client) get(ctx context.Context, what, path string, q url.Values, v any) error {
	base, err := url.Parse(strings.TrimRight(c.BaseURL, "/"))
	if err != nil || base.Scheme == "" || base.Host == "" {
		return &UsageError{fmt.Sprintf("MLFLOW_TRACKING_URI %q: want http(s)://host[:port]", c.BaseURL)}
	}
	u := base.JoinPath(path)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	switch {
	case c.Token != "":
		req.Header.Set("Authorization", "Bearer "+c.Token)
	case c.User != "":
		req.SetBasicAuth(c.User, c.Password)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 15 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return fmt.Errorf("mlflow: %s: %s did not answer in time", what, base.Redacted())
		}
		return fmt.Errorf("mlflow: %s: cannot reach %s: %v", what, base.Redacted(), errors.Unwrap(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("mlflow: %s: reading the answer: %w", what, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Code string `json:"error_code"`
			Msg  string `json:"message"`
		}
		_ = json.Unmarshal(body, &e) // a non-MLflow error body leaves them empty
		return &Error{What: what, Status: resp.StatusCode, Code: e.Code, Msg: e.Msg}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("mlflow: %s: the answer is not MLflow's JSON: %v", what, err)
	}
	return nil
}

// sourceURI reads a dataset source: MLflow stores it as JSON for most
// source types ({"uri": …}, {"url": …}, {"path": …}), as text otherwise.
func sourceURI(s string) string {
	var m map[string]any
	if json.Unmarshal([]byte(s), &m) == nil {
		for _, k := range []string{"uri", "url", "path", "table_name"} {
			if v, ok := m[k].(string); ok && v != "" {
				return withoutCredentials(v)
			}
		}
		return ""
	}
	return withoutCredentials(s)
}

func withoutCredentials(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil || u.Host == "" {
		return s
	}
	u.User = nil
	return u.String()
}
