package lineage

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/cairn-dev/cairn/data"
	"github.com/cairn-dev/cairn/reconciler"
	"github.com/cairn-dev/cairn/state"
)

// OpenLineage export: the audit log as OpenLineage 2-0-2 RunEvents, one
// JSON object per line. Identity: the job namespace is cairn://<project>;
// jobs are apply, eval/<suite> and train/<model>; model and prompt versions
// are datasets models/<name> and prompts/<name> in that namespace, with the
// version facet. Each run's id is a UUIDv7 made of its audited start time
// and bits of its audit entry's hash, and each event's time is the audited
// time, so exporting the same log twice gives the same bytes. Events carry
// names, URIs and digests — never data rows, prompt text or outputs.
//
// Meaning: an apply is the run from its policy_check entry (written with
// its first change) to its last change; each eval it ran is a child run
// (the parent facet); a training run starts when a trigger fires and
// completes when a version registered with that trigger's id appears (its
// output), or aborts when a newer trigger of the same model supersedes it.

const (
	olSchema   = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
	olProducer = "https://github.com/cairn-dev/cairn"
	facetBase  = "https://openlineage.io/spec/facets/"
)

// Event is one OpenLineage RunEvent; Seq is the audit entry it comes from
// (what delivery records), not part of the JSON.
type Event struct {
	EventTime string   `json:"eventTime"`
	Producer  string   `json:"producer"`
	SchemaURL string   `json:"schemaURL"`
	EventType string   `json:"eventType"`
	Run       olRun    `json:"run"`
	Job       olJob    `json:"job"`
	Inputs    []olData `json:"inputs"`
	Outputs   []olData `json:"outputs"`
	Seq       int64    `json:"-"`
}

type olRun struct {
	RunID  string         `json:"runId"`
	Facets map[string]any `json:"facets,omitempty"`
}

type olJob struct {
	Namespace string         `json:"namespace"`
	Name      string         `json:"name"`
	Facets    map[string]any `json:"facets,omitempty"`
}

type olData struct {
	Namespace string         `json:"namespace"`
	Name      string         `json:"name"`
	Facets    map[string]any `json:"facets,omitempty"`
	// InputFacets are an input's facets about this run's read of it
	// (dataQualityMetrics); never set on outputs.
	InputFacets map[string]any `json:"inputFacets,omitempty"`
}

// snapshotDataset names a training data snapshot as OpenLineage's dataset
// naming does: a URI's scheme and authority are the namespace and its path
// the name (s3://bucket/key → "s3://bucket", "key"); a digest suffix
// (URI@sha256:HEX) is the version. A bare snapshot id is a dataset of the
// project's namespace.
func snapshotDataset(ns, snap string) olData {
	ref, version, _ := strings.Cut(snap, "@")
	if u, err := url.Parse(ref); err == nil && u.Scheme != "" && u.Host != "" && u.User == nil {
		d := olData{Namespace: u.Scheme + "://" + u.Host, Name: strings.TrimPrefix(u.Path, "/")}
		if version != "" {
			d = versioned(d.Namespace, d.Name, version)
		}
		return d
	}
	return versioned(ns, "data/snapshots", snap)
}

// applyJob is the apply job, with where its specs live when the apply
// recorded a repository URL (sourceCodeLocation needs a URI).
func applyJob(ns, repoURL, commit string) olJob {
	j := olJob{Namespace: ns, Name: "apply", Facets: jobType("APPLY")}
	if u, err := url.Parse(repoURL); err == nil && u.Scheme != "" && u.Host != "" && u.User == nil {
		loc := map[string]any{"type": "git", "url": repoURL, "repoUrl": repoURL}
		if commit != "" {
			loc["version"] = commit
		}
		j.Facets["sourceCodeLocation"] = facet("1-1-0/SourceCodeLocationJobFacet.json#/$defs/SourceCodeLocationJobFacet", loc)
	}
	return j
}

// params is the executionParameters facet of key/value pairs (sorted).
func params(kv map[string]string) map[string]any {
	var ps []map[string]any
	for _, k := range slices.Sorted(maps.Keys(kv)) {
		ps = append(ps, map[string]any{"key": k, "value": kv[k]})
	}
	return facet("1-0-0/ExecutionParametersRunFacet.json#/$defs/ExecutionParametersRunFacet", map[string]any{"parameters": ps})
}

func errorMessage(msg string) map[string]any {
	return facet("1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet", map[string]any{"message": msg, "programmingLanguage": "GO"})
}

// withFacets returns a copy of run with more facets: events are kept (for
// delivery) after they are made, so one event's facets never change another's.
func withFacets(run olRun, more map[string]any) olRun {
	out := olRun{RunID: run.RunID, Facets: map[string]any{}}
	maps.Copy(out.Facets, run.Facets)
	maps.Copy(out.Facets, more)
	return out
}

func facet(schema string, fields map[string]any) map[string]any {
	fields["_producer"] = olProducer
	fields["_schemaURL"] = facetBase + schema
	return fields
}

func jobType(kind string) map[string]any {
	return map[string]any{"jobType": facet("2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet",
		map[string]any{"processingType": "BATCH", "integration": "CAIRN", "jobType": kind})}
}

func versioned(ns, name, version string) olData {
	return olData{Namespace: ns, Name: name, Facets: map[string]any{
		"version": facet("1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet", map[string]any{"datasetVersion": version})}}
}

// RunID is the UUIDv7 of a run that starts at t with audit entry hash h:
// the time in its 48 high bits, the hash's bits in the random ones.
func RunID(t time.Time, h string) string {
	var u uuid.UUID
	ms := uint64(t.UnixMilli())
	for i := 0; i < 6; i++ {
		u[i] = byte(ms >> (40 - 8*i))
	}
	raw, _ := hex.DecodeString(strings.TrimPrefix(h, "sha256:"))
	for i := 6; i < 16 && i-6 < len(raw); i++ {
		u[i] = raw[i-6]
	}
	u[6] = 0x70 | u[6]&0x0f // version 7
	u[8] = 0x80 | u[8]&0x3f // RFC 4122 variant
	return u.String()
}

// Export streams the OpenLineage events of the audit entries after since
// to emit. The whole log is read (streamed) so that a run begun before since
// keeps its id and its parent; only events of later entries are emitted.
func Export(ctx context.Context, st state.Ops, project string, since int64, emit func(Event) error) error {
	ns := "cairn://" + project
	all := emit
	emit = func(ev Event) error {
		if ev.Seq <= since {
			return nil
		}
		return all(ev)
	}
	base := func(e state.AuditEntry, typ string, run olRun, job olJob) Event {
		return Event{EventTime: e.Time.UTC().Format(time.RFC3339Nano), Producer: olProducer, SchemaURL: olSchema, EventType: typ,
			Run: run, Job: job, Inputs: []olData{}, Outputs: []olData{}, Seq: e.Seq}
	}
	var apply *Event               // the open apply run's COMPLETE, sent when the next starts
	training := map[string]Event{} // model → its open training run's START
	flush := func() error {
		if apply == nil {
			return nil
		}
		ev := *apply
		apply = nil
		return emit(ev)
	}
	if err := CheckCheckpoint(ctx, st); err != nil {
		return err
	}
	// The whole chain is verified as it streams by (one pass, no extra reads).
	prev, n := state.GenesisHash, int64(0)
	err := st.ScanAudit(ctx, state.AuditQuery{}, func(e state.AuditEntry) error {
		n++
		if e.Seq != n || e.PrevHash != prev || e.Hash != state.ChainHash(e, prev) {
			return &TamperedError{&state.AuditProblem{Seq: e.Seq, Reason: "its hash, its sequence or its link to the entry before it does not hold"}}
		}
		prev = e.Hash
		kind, name, _ := strings.Cut(e.Object, "/")
		switch e.Action {
		case reconciler.AuditPolicy:
			if err := flush(); err != nil {
				return err
			}
			var pc struct {
				Approvals    *int   `json:"approvals"`
				RepoURL      string `json:"repo_url"`
				Unattributed bool   `json:"approvals_unattributed"`
				ApprovedBy   []struct {
					Login string `json:"login"`
				} `json:"approved_by"`
			}
			_ = json.Unmarshal([]byte(e.After), &pc) // an entry without them exports without them
			run := olRun{RunID: RunID(e.Time, e.Hash)}
			if pc.Approvals != nil {
				kv := map[string]string{"approvals": fmt.Sprint(*pc.Approvals)}
				var who []string
				for _, a := range pc.ApprovedBy {
					who = append(who, a.Login)
				}
				switch {
				case len(who) > 0:
					kv["approved_by"] = strings.Join(who, ",")
				case pc.Unattributed:
					kv["approved_by"] = "(unattributed: a count, nobody named)"
				}
				run.Facets = map[string]any{"executionParameters": params(kv)}
			}
			job := applyJob(ns, pc.RepoURL, e.Commit)
			if err := emit(base(e, "START", run, job)); err != nil {
				return err
			}
			done := base(e, "COMPLETE", run, job)
			apply = &done
		case reconciler.AuditApplyDone:
			if apply == nil {
				return nil
			}
			var d struct {
				Held []struct {
					Action string `json:"action"`
					Status string `json:"status"`
				} `json:"held"`
				Error string `json:"error"`
			}
			if json.Unmarshal([]byte(e.After), &d) != nil {
				return nil
			}
			ev := *apply
			apply = nil
			ev.EventTime, ev.Seq = e.Time.UTC().Format(time.RFC3339Nano), e.Seq
			more := map[string]any{}
			if len(d.Held) > 0 {
				held := []map[string]any{}
				for _, h := range d.Held {
					held = append(held, map[string]any{"action": h.Action, "status": h.Status})
				}
				more["cairn_held"] = map[string]any{"_producer": olProducer, "_schemaURL": CairnFacetSchema + "#/$defs/CairnHeldRunFacet", "held": held}
			}
			if d.Error != "" {
				ev.EventType = "FAIL"
				more["errorMessage"] = errorMessage(d.Error)
			}
			ev.Run = withFacets(ev.Run, more)
			return emit(ev)
		case reconciler.AuditApplyDenied:
			if err := flush(); err != nil {
				return err
			}
			var d struct {
				Denials []struct{ Policy, Target, Pos string } `json:"denials"`
				RepoURL string                                 `json:"repo_url"`
			}
			if json.Unmarshal([]byte(e.After), &d) != nil {
				return nil
			}
			var why []string
			for _, x := range d.Denials {
				w := x.Policy
				if x.Target != "" {
					w += " on " + x.Target
				}
				if x.Pos != "" {
					w += " (" + x.Pos + ")"
				}
				why = append(why, w)
			}
			run := olRun{RunID: RunID(e.Time, e.Hash)}
			job := applyJob(ns, d.RepoURL, e.Commit)
			if err := emit(base(e, "START", run, job)); err != nil {
				return err
			}
			return emit(base(e, "FAIL", withFacets(run, map[string]any{"errorMessage": errorMessage("denied by the policy check: " + strings.Join(why, "; "))}), job))
		case "reconcile": // gitops' run entry: a denied commit is an apply the check refused
			var rc struct {
				Result string `json:"result"`
				Reason string `json:"reason"`
			}
			if json.Unmarshal([]byte(e.After), &rc) != nil || rc.Result != "denied" {
				return nil
			}
			if err := flush(); err != nil {
				return err
			}
			run := olRun{RunID: RunID(e.Time, e.Hash)}
			job := applyJob(ns, "", e.Commit)
			if err := emit(base(e, "START", run, job)); err != nil {
				return err
			}
			return emit(base(e, "FAIL", withFacets(run, map[string]any{"errorMessage": errorMessage("reconcile: denied by the policy check: " + rc.Reason)}), job))
		case data.AuditValidate:
			var v data.ValidationEntry
			if json.Unmarshal([]byte(e.After), &v) != nil {
				return nil
			}
			cols := map[string]any{}
			for c, n := range v.Columns {
				cols[c] = map[string]any{"nullCount": n.Nulls, "count": n.Rows - n.Nulls}
			}
			in := versioned(ns, "data/"+v.FeatureSet, v.Data)
			in.InputFacets = map[string]any{"dataQualityMetrics": facet("1-0-3/DataQualityMetricsInputDatasetFacet.json#/$defs/DataQualityMetricsInputDatasetFacet",
				map[string]any{"rowCount": v.Rows, "bytes": v.Bytes, "columnMetrics": cols})}
			run := olRun{RunID: RunID(e.Time, e.Hash)}
			job := olJob{Namespace: ns, Name: "validate/" + v.FeatureSet, Facets: jobType("VALIDATE")}
			start := base(e, "START", run, job)
			start.Inputs = []olData{in}
			if err := emit(start); err != nil {
				return err
			}
			// A failed rule is a completed run: the verdict is the data's.
			end := base(e, "COMPLETE", run, job)
			end.Inputs = []olData{in}
			return emit(end)
		case string(reconciler.MoveModelAlias), string(reconciler.MovePromptLabel):
			var m struct{ Version string }
			if json.Unmarshal([]byte(e.After), &m) == nil && apply != nil {
				apply.Outputs = append(apply.Outputs, versioned(ns, kind+"/"+name, m.Version))
				apply.EventTime, apply.Seq = e.Time.UTC().Format(time.RFC3339Nano), e.Seq
			}
		case string(reconciler.RegisterPromptVersion):
			var p struct{ Version string }
			if json.Unmarshal([]byte(e.After), &p) == nil && apply != nil {
				apply.Outputs = append(apply.Outputs, versioned(ns, kind+"/"+name, p.Version))
				apply.EventTime, apply.Seq = e.Time.UTC().Format(time.RFC3339Nano), e.Seq
			}
		case string(reconciler.RunEval), string(reconciler.TriggerTraining), reconciler.ActionServe, string(reconciler.RenderTarget),
			string(reconciler.DeleteModelAlias), string(reconciler.DeletePromptLabel), string(reconciler.DeleteDeployment), string(reconciler.SnapshotRAG):
			if apply != nil {
				apply.EventTime, apply.Seq = e.Time.UTC().Format(time.RFC3339Nano), e.Seq
			}
		}
		switch e.Action {
		case string(reconciler.RunEval):
			var r struct {
				Target, Version, Subject string
				Passed                   bool
				DatasetHash              string `json:"dataset_hash"`
			}
			if json.Unmarshal([]byte(e.After), &r) != nil {
				return nil
			}
			run := olRun{RunID: RunID(e.Time, e.Hash)}
			if apply != nil {
				run.Facets = map[string]any{"parent": facet("1-2-0/ParentRunFacet.json#/$defs/ParentRunFacet", map[string]any{
					"run": map[string]any{"runId": apply.Run.RunID}, "job": map[string]any{"namespace": ns, "name": "apply"}})}
			}
			job := olJob{Namespace: ns, Name: "eval/" + name, Facets: jobType("EVAL")}
			in := []olData{}
			if r.Target != "" {
				ver := r.Version
				if ver == "" {
					ver = r.Subject
				}
				in = append(in, versioned(ns, r.Target, ver))
			}
			if r.DatasetHash != "" {
				in = append(in, versioned(ns, "evals/"+name+"/dataset", r.DatasetHash))
			}
			start := base(e, "START", run, job)
			start.Inputs = in
			if err := emit(start); err != nil {
				return err
			}
			// A failed gate is a completed run (the verdict is the gate's).
			end := base(e, "COMPLETE", run, job)
			end.Inputs = in
			return emit(end)
		case string(reconciler.TriggerTraining):
			var tr struct {
				EvidenceID string `json:"evidence_id"`
			}
			if json.Unmarshal([]byte(e.After), &tr) != nil {
				return nil
			}
			job := olJob{Namespace: ns, Name: "train/" + name, Facets: jobType("TRAIN")}
			if old, ok := training[name]; ok { // superseded by a newer trigger
				abort := base(e, "ABORT", old.Run, old.Job)
				if err := emit(abort); err != nil {
					return err
				}
			}
			start := base(e, "START", olRun{RunID: RunID(e.Time, e.Hash)}, job)
			start.Run.Facets = map[string]any{"cairn_trigger": map[string]any{"_producer": olProducer,
				"_schemaURL": CairnFacetSchema + "#/$defs/CairnTriggerRunFacet", "evidence_id": tr.EvidenceID}}
			training[name] = start
			return emit(start)
		case "register_model_version":
			var mv struct {
				Version      string `json:"version"`
				TriggerID    string `json:"trigger_id"`
				DataSnapshot string `json:"data_snapshot"`
			}
			if json.Unmarshal([]byte(e.After), &mv) != nil || mv.TriggerID == "" {
				return nil
			}
			open, ok := training[name]
			if !ok || open.Run.Facets["cairn_trigger"].(map[string]any)["evidence_id"] != mv.TriggerID {
				return nil
			}
			delete(training, name)
			done := base(e, "COMPLETE", open.Run, open.Job)
			done.Outputs = []olData{versioned(ns, "models/"+name, mv.Version)}
			if mv.DataSnapshot != "" {
				done.Inputs = []olData{snapshotDataset(ns, mv.DataSnapshot)}
			}
			return emit(done)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

// DeliveredKind is the state record (keyed by the server URL) of how far
// delivery to that server got: an audit sequence number.
const DeliveredKind = "openlineage.delivered"

// CairnFacetSchema is the schema of cairn's own facets (docs/openlineage),
// pinned to the repository's path at a tag.
const CairnFacetSchema = "https://raw.githubusercontent.com/cairn-dev/cairn/v0.5.0/docs/openlineage/CairnFacets.json"

// Deliver POSTs events to a Marquez-compatible endpoint (url +
// /api/v1/lineage) one at a time and returns the sequence of the last
// entry whose events were all accepted (201); any other answer stops it
// with an error naming the event. token, when set, is sent as a bearer.
// The caller records the returned sequence; only 201s advance it.
// upTo is the last entry of the export (all delivered: delivered = upTo).
func Deliver(ctx context.Context, client *http.Client, url, token string, events []Event, delivered, upTo int64) (int64, error) {
	endpoint := strings.TrimRight(url, "/") + "/api/v1/lineage"
	for i, ev := range events {
		body, _ := json.Marshal(ev)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
		if err != nil {
			return delivered, err
		}
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			return delivered, fmt.Errorf("openlineage: POST %s: %w (delivered up to entry #%d)", endpoint, err, delivered)
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			return delivered, fmt.Errorf("openlineage: POST %s: event %d (%s %s of entry #%d) answered %s: %s (delivered up to entry #%d)",
				endpoint, i+1, ev.EventType, ev.Job.Name, ev.Seq, resp.Status, strings.TrimSpace(string(msg)), delivered)
		}
		// Events are not in entry order (an apply completes after the
		// evals it ran): delivered is the entry before the first one with
		// an event still to send.
		delivered = upTo
		for _, rest := range events[i+1:] {
			delivered = min(delivered, rest.Seq-1)
		}
	}
	return delivered, nil
}
