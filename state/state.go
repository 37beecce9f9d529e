// Package state is cairn's registry and reconciler state: model and prompt
// versions, aliases and labels, eval runs, rendered-target hashes, the apply
// lock, the hash-chained audit log and a generic record API used by other
// parts (eval cache, RAG snapshots, data-check evidence).
//
// Everything goes through the Store interface so that the SQLite backend (the
// default) and the PostgreSQL backend are interchangeable; statetest.Run is the
// conformance suite every backend must pass unchanged.
package state

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// DefaultPath is where the state lives inside a spec repo unless --state or
// CAIRN_STATE says otherwise.
const DefaultPath = ".cairn/state.db"

// EnvVar names the environment variable that selects the state store.
const EnvVar = "CAIRN_STATE"

// ErrNotFound is returned (wrapped) when a requested object does not exist.
var ErrNotFound = errors.New("not found")

// ConflictError is returned when a write would change something immutable
// (a registered version) or when a compare-and-set finds another value.
type ConflictError struct {
	Object string // "models/fraud@7", "prompts/x.labels.prod"
	Detail string
}

func (e *ConflictError) Error() string { return e.Object + ": " + e.Detail }

// IsConflict reports whether err is (or wraps) a ConflictError.
func IsConflict(err error) bool {
	var c *ConflictError
	return errors.As(err, &c)
}

// ModelVersion is one trained model artifact, registered by a training
// pipeline. Everything but RegisteredAt/RegisteredBy is its content, which is
// immutable once registered.
type ModelVersion struct {
	Model        string             `json:"model"`
	Version      string             `json:"version"`
	ArtifactURI  string             `json:"artifact_uri"`
	Metrics      map[string]float64 `json:"metrics"`
	DataSnapshot string             `json:"data_snapshot,omitempty"`
	Features     []string           `json:"features"`
	Commit       string             `json:"commit,omitempty"`
	RegisteredAt time.Time          `json:"registered_at"`
	RegisteredBy string             `json:"registered_by,omitempty"`
	// TriggerID is the evidence id of the training trigger that produced
	// the version (registry register --trigger; CAIRN_TRIGGER_ID in the job).
	TriggerID string `json:"trigger_id,omitempty"`
	// Run is what the training run said about itself (parameters, data
	// inputs, repository, cost); nil when nothing was recorded.
	Run *TrainingRun `json:"run,omitempty"`
}

// TrainingRun is the training run behind a model version: its parameters,
// the data it read (by digest), where its code lives, what it cost, and the
// dataset each claimed metric was measured on. registry register records it
// from flags or imports it from MLflow; it is part of the version's content.
type TrainingRun struct {
	Params  map[string]string `json:"params,omitempty"`
	Inputs  []DataInput       `json:"inputs,omitempty"`
	RepoURL string            `json:"repo_url,omitempty"`
	Branch  string            `json:"branch,omitempty"`
	Dirty   bool              `json:"dirty,omitempty"` // the commit had uncommitted changes
	CostUSD float64           `json:"cost_usd,omitempty"`
	// MetricDatasets maps a claimed metric to the digest of the dataset it
	// was measured on (MLflow's dataset_digest); metrics measured on
	// different datasets are not comparable.
	MetricDatasets map[string]string `json:"metric_datasets,omitempty"`
	// Source is where the run was imported from ("mlflow runs:/<id>").
	Source string `json:"source,omitempty"`
}

// DataInput is one dataset a training run read.
type DataInput struct {
	Name    string `json:"name,omitempty"`
	URI     string `json:"uri,omitempty"`
	Digest  string `json:"digest,omitempty"`
	Context string `json:"context,omitempty"` // training, validation, …
}

// With is r with more: other's parameters (which win), its inputs added,
// its repository and cost where it gives them (an imported run and the
// flags given beside the import).
func (r *TrainingRun) With(other *TrainingRun) *TrainingRun {
	out := *r
	out.Params = maps.Clone(r.Params)
	if out.Params == nil {
		out.Params = map[string]string{}
	}
	maps.Copy(out.Params, other.Params)
	out.Inputs = append(append([]DataInput{}, r.Inputs...), other.Inputs...)
	if other.RepoURL != "" {
		out.RepoURL = other.RepoURL
	}
	if other.CostUSD != 0 {
		out.CostUSD = other.CostUSD
	}
	return &out
}

// IsZero reports whether nothing was recorded.
func (r *TrainingRun) IsZero() bool {
	return r == nil || (len(r.Params) == 0 && len(r.Inputs) == 0 && r.RepoURL == "" && r.Branch == "" && !r.Dirty &&
		r.CostUSD == 0 && len(r.MetricDatasets) == 0 && r.Source == "")
}

// ContentHash is "sha256:<hex>" over the version's immutable content; eval
// evidence for a model version is keyed by it. Fields added later enter it
// only when set, so a version registered before them keeps its hash and
// the eval evidence keyed by it (TestContentHashStable).
func (m ModelVersion) ContentHash() string {
	feats := append([]string(nil), m.Features...)
	sort.Strings(feats)
	metrics := m.Metrics
	if metrics == nil {
		metrics = map[string]float64{}
	}
	// encoding/json sorts map keys, so this is canonical.
	b, _ := json.Marshal(struct {
		Model        string             `json:"model"`
		Version      string             `json:"version"`
		ArtifactURI  string             `json:"artifact_uri"`
		Metrics      map[string]float64 `json:"metrics"`
		DataSnapshot string             `json:"data_snapshot"`
		Features     []string           `json:"features"`
		Commit       string             `json:"commit"`
		TriggerID    string             `json:"trigger_id,omitempty"`
		Run          *TrainingRun       `json:"run,omitempty"`
	}{m.Model, m.Version, m.ArtifactURI, metrics, m.DataSnapshot, feats, m.Commit, m.TriggerID, m.normRun()})
	return HashBytes(b)
}

// normRun is Run, nil when empty (so it stays out of the hash).
func (m ModelVersion) normRun() *TrainingRun {
	if m.Run.IsZero() {
		return nil
	}
	return m.Run
}

// Message is one chat message of a prompt version.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// PromptModel is the model and parameters a prompt version is sent with.
type PromptModel struct {
	Provider    string  `json:"provider"`
	ID          string  `json:"id"`
	Temperature float64 `json:"temperature"`
	MaxTokens   int     `json:"max_tokens"`
}

// PromptVersion is one registered, content-addressed prompt version.
type PromptVersion struct {
	Prompt       string      `json:"prompt"`
	Version      string      `json:"version"`
	ContentHash  string      `json:"content_hash"`
	Template     string      `json:"template,omitempty"`
	Messages     []Message   `json:"messages,omitempty"`
	Model        PromptModel `json:"model"`
	Inputs       []string    `json:"inputs"`
	RegisteredAt time.Time   `json:"registered_at"`
	RegisteredBy string      `json:"registered_by,omitempty"`
}

// Pointer is an alias of a model ("models/fraud" prod → "7") or a label of a
// prompt ("prompts/answer" prod → "1.3.0").
type Pointer struct {
	Object  string `json:"object"`
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Case statuses of an eval run. An ERROR is never a FAIL and never a PASS.
const (
	CasePass  = "PASS"
	CaseFail  = "FAIL"
	CaseError = "ERROR"
)

// CaseResult is one dataset row's outcome in an eval run.
type CaseResult struct {
	CaseID string             `json:"case_id"`
	Status string             `json:"status"`
	Scores map[string]float64 `json:"scores,omitempty"`
	Output string             `json:"output,omitempty"`
	Error  string             `json:"error,omitempty"`
}

// EvalRun is one run of an eval suite against one exact subject: a prompt's
// content hash or a model version's content hash.
type EvalRun struct {
	ID            int64              `json:"id"`
	Eval          string             `json:"eval"`
	EvalHash      string             `json:"eval_hash"` // the suite definition + dataset it ran
	Target        string             `json:"target"`    // "prompts/x" or "models/y"
	TargetVersion string             `json:"target_version"`
	SubjectHash   string             `json:"subject_hash"`
	Passed        bool               `json:"passed"`
	Metrics       map[string]float64 `json:"metrics"`
	Summary       string             `json:"summary,omitempty"`
	StartedAt     time.Time          `json:"started_at"`
	FinishedAt    time.Time          `json:"finished_at"`
	Cases         []CaseResult       `json:"cases,omitempty"`
	// What answered the run: each model id the provider reported with its
	// system fingerprint and case count, and the RAG snapshots used.
	Answered     []Answered `json:"answered,omitempty"`
	RAGSnapshots []string   `json:"rag_snapshots,omitempty"`
	// What the run cost: provider tokens (input and output) and dollars.
	Tokens  int     `json:"tokens,omitempty"`
	CostUSD float64 `json:"cost_usd,omitempty"`
}

// Answered is one model (as its provider named it) that answered cases.
type Answered struct {
	Model             string `json:"model"`
	SystemFingerprint string `json:"system_fingerprint,omitempty"`
	Cases             int    `json:"cases"`
}

// LockHolder says who holds a lock and since when.
type LockHolder struct {
	ID    string    `json:"id"` // unique per acquisition
	Actor string    `json:"actor"`
	Host  string    `json:"host"`
	PID   int       `json:"pid"`
	Since time.Time `json:"since"`
}

func (h LockHolder) String() string {
	return fmt.Sprintf("%s (pid %d on %s) since %s", h.Actor, h.PID, h.Host, h.Since.UTC().Format(time.RFC3339))
}

// Ops are the reads and writes of the state. Outside Update each call is its
// own transaction; inside Update all calls share one.
type Ops interface {
	// RegisterModelVersion stores a model version. Registering identical
	// content again is a no-op (created=false); different content under the
	// same version is a *ConflictError.
	RegisterModelVersion(ctx context.Context, mv ModelVersion) (created bool, err error)
	GetModelVersion(ctx context.Context, model, version string) (*ModelVersion, error)
	// ListModelVersions lists versions of one model, or of all when model is "".
	ListModelVersions(ctx context.Context, model string) ([]ModelVersion, error)

	// RegisterPromptVersion is RegisterModelVersion for prompts; content is
	// compared by ContentHash.
	RegisterPromptVersion(ctx context.Context, pv PromptVersion) (created bool, err error)
	GetPromptVersion(ctx context.Context, prompt, version string) (*PromptVersion, error)
	ListPromptVersions(ctx context.Context, prompt string) ([]PromptVersion, error)

	// GetPointer returns the version an alias/label points at.
	GetPointer(ctx context.Context, object, name string) (version string, ok bool, err error)
	// SetPointer moves an alias/label from `from` ("" = absent) to `to`
	// ("" = delete); if the current value is not `from` it is a *ConflictError.
	SetPointer(ctx context.Context, object, name, from, to string) error
	// ListPointers lists pointers of objects starting with prefix ("" = all).
	ListPointers(ctx context.Context, prefix string) ([]Pointer, error)

	// RecordEvalRun stores a run and its cases and returns its id.
	RecordEvalRun(ctx context.Context, run EvalRun) (int64, error)
	// GetEvalRun returns a run with its cases.
	GetEvalRun(ctx context.Context, id int64) (*EvalRun, error)
	// LatestEvalRun returns the newest run (without cases) of eval against
	// subjectHash with suite definition evalHash.
	LatestEvalRun(ctx context.Context, eval, subjectHash, evalHash string) (*EvalRun, bool, error)
	// ListEvalRuns lists runs (without cases), of one eval or all when "".
	ListEvalRuns(ctx context.Context, eval string) ([]EvalRun, error)

	// SetRenderedHash records the hash of a rendered file ("" deletes it).
	SetRenderedHash(ctx context.Context, path, hash string) error
	RenderedHashes(ctx context.Context) (map[string]string, error)

	// Generic records, keyed by (kind, key).
	PutRecord(ctx context.Context, kind, key string, value []byte) error
	GetRecord(ctx context.Context, kind, key string) ([]byte, bool, error)
	ListRecords(ctx context.Context, kind, prefix string) (map[string][]byte, error)
	DeleteRecord(ctx context.Context, kind, key string) error
	// DeleteRecords deletes every record of kind whose key starts with
	// prefix (literally: % and _ are not patterns), in one statement.
	DeleteRecords(ctx context.Context, kind, prefix string) error
	PutRecordOnce(ctx context.Context, kind, key string, value []byte) (inserted bool, err error)

	// AppendAudit appends an entry to the hash chain, filling Seq, PrevHash
	// and Hash; the returned entry is what was stored.
	AppendAudit(ctx context.Context, e AuditEntry) (AuditEntry, error)
	// ListAudit returns the log in sequence order.
	ListAudit(ctx context.Context) ([]AuditEntry, error)
	// ScanAudit streams the entries q selects to fn, in sequence order (or
	// reversed with q.Desc), from indexes; fn's error stops the scan and is
	// returned.
	ScanAudit(ctx context.Context, q AuditQuery, fn func(AuditEntry) error) error
	// AuditHead is the last entry (ok=false on an empty log).
	AuditHead(ctx context.Context) (e AuditEntry, ok bool, err error)
}

// Store is a state backend.
type Store interface {
	Ops
	// Update runs fn in one write transaction: every write fn makes through
	// tx commits together, or (when fn or the commit fails) none does.
	Update(ctx context.Context, fn func(tx Ops) error) error
	// AcquireLock takes the named lock for h if it is free. Otherwise it
	// returns the current holder and acquired=false.
	AcquireLock(ctx context.Context, name string, h LockHolder) (current LockHolder, acquired bool, err error)
	// ReleaseLock frees the lock if holderID still holds it; released says whether it did.
	ReleaseLock(ctx context.Context, name, holderID string) (released bool, err error)
	// SchemaVersion is the applied migration version.
	SchemaVersion(ctx context.Context) (int, error)
	Close() error
}

// Opener opens a backend for a URL of its scheme.
type Opener func(ctx context.Context, url string) (Store, error)

var (
	backendsMu sync.Mutex
	backends   = map[string]Opener{}
)

// RegisterBackend makes Open accept URLs with the scheme ("postgres"). The
// PostgreSQL package calls it from init.
func RegisterBackend(scheme string, open Opener) {
	backendsMu.Lock()
	defer backendsMu.Unlock()
	backends[scheme] = open
}

// Open opens the state named by urlOrPath: a file path or sqlite://path for
// SQLite, or a URL of a registered backend (postgres://…).
func Open(ctx context.Context, urlOrPath string) (Store, error) {
	if urlOrPath == "" {
		return nil, errors.New("state: empty state location")
	}
	if scheme, rest, ok := schemeOf(urlOrPath); ok {
		if scheme == "sqlite" || scheme == "file" {
			return OpenSQLite(ctx, rest)
		}
		backendsMu.Lock()
		open := backends[scheme]
		backendsMu.Unlock()
		if open == nil {
			return nil, fmt.Errorf("state: unsupported state URL scheme %q in %s (supported: sqlite://, a file path%s)", scheme, redactURL(urlOrPath), registeredSchemes())
		}
		return open(ctx, urlOrPath)
	}
	return OpenSQLite(ctx, urlOrPath)
}

// Location resolves where the state lives: the flag, else $CAIRN_STATE, else
// DefaultPath inside the spec repo.
func Location(flag, repoDir string) string {
	if flag != "" {
		return flag
	}
	if v := os.Getenv(EnvVar); v != "" {
		return v
	}
	return filepath.Join(repoDir, DefaultPath)
}

func registeredSchemes() string {
	backendsMu.Lock()
	defer backendsMu.Unlock()
	var s []string
	for k := range backends {
		s = append(s, k+"://")
	}
	sort.Strings(s)
	if len(s) == 0 {
		return ""
	}
	return ", " + strings.Join(s, ", ")
}

// redactURL drops a password from a URL so errors never print secrets.
func redactURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		cred := rest[:at]
		if user, _, ok := strings.Cut(cred, ":"); ok {
			return scheme + "://" + user + ":xxxxx@" + rest[at+1:]
		}
	}
	return u
}

// RedactURL is exported for backends and the CLI.
func RedactURL(u string) string { return redactURL(u) }

// HashBytes returns "sha256:<hex>" of b.
func HashBytes(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// ErrNoState says a read-only command found no state where it looked:
// nothing has been applied or registered with this state yet.
var ErrNoState = errors.New("no state")

// NoStateError names where the state was looked for.
type NoStateError struct{ Location string }

func (e *NoStateError) Error() string {
	return fmt.Sprintf("no state at %s: nothing has been applied or registered with it yet (run 'cairn apply', or pass --state / set %s)", e.Location, EnvVar)
}

func (e *NoStateError) Is(target error) bool { return target == ErrNoState }

// OpenExisting opens the state for a read-only command: a SQLite file that
// does not exist is a *NoStateError (never created, nor its directory); a
// URL backend is opened as usual.
func OpenExisting(ctx context.Context, urlOrPath string) (Store, error) {
	path := urlOrPath
	if scheme, rest, ok := schemeOf(urlOrPath); ok {
		if scheme != "sqlite" && scheme != "file" {
			return Open(ctx, urlOrPath)
		}
		path = rest
	}
	if path != "" {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, &NoStateError{Location: path}
		}
	}
	return Open(ctx, urlOrPath)
}

// schemeOf splits a state URL into its scheme and the rest; a plain path
// (which may contain "://" further on) has none.
func schemeOf(urlOrPath string) (scheme, rest string, ok bool) {
	scheme, rest, ok = strings.Cut(urlOrPath, "://")
	if !ok || strings.ContainsAny(scheme, `/\.`) {
		return "", urlOrPath, false
	}
	return scheme, rest, true
}
