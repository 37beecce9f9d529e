package reconciler

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/reconciler/state"
	"github.com/cairn-dev/cairn/targets"
)

// ApplyLock is the name of the lock one apply holds.
const ApplyLock = "apply"

// ApplyOptions are the plan options plus who applies, when, and how long to
// wait for another apply.
type ApplyOptions struct {
	Options
	Actor       string           // recorded in the audit log
	Commit      string           // the spec repo's commit, recorded in the audit log
	Now         func() time.Time // the clock (tests pass a fixed one)
	LockTimeout time.Duration    // how long to wait for another apply; 0 = fail at once
	// OnAction, if set, is called after each action is applied (for progress output).
	OnAction func(Action)
	// TrainingClient posts training webhooks; nil means a client with a 30 s timeout.
	TrainingClient *http.Client
}

// Result is what an apply did.
type Result struct {
	Plan    *Plan    `json:"plan"`    // the plan at the start
	Applied []Action `json:"applied"` // in the order applied
	Blocked []Action `json:"blocked"` // still blocked at the end
	// Interrupted: ctx was cancelled, Apply stopped between two actions (the
	// error wraps ErrInterrupted); the next apply resumes.
	Interrupted bool `json:"interrupted,omitempty"`
}

// ErrInterrupted is returned (wrapped, with ctx's cause) when Apply stops
// because its context was cancelled: the running action was finished and
// recorded, no further one was started.
var ErrInterrupted = errors.New("apply interrupted")

// interrupted marks res and returns the error saying how far apply got.
func interrupted(ctx context.Context, res *Result) error {
	res.Interrupted = true
	return fmt.Errorf("%w after %d action(s) (the next apply resumes): %w", ErrInterrupted, len(res.Applied), context.Cause(ctx))
}

// LockError says another apply holds the lock.
type LockError struct {
	Holder state.LockHolder
	Waited time.Duration
}

func (e *LockError) Error() string {
	return fmt.Sprintf("another apply holds the state lock: %s (waited %s; see --lock-timeout)", e.Holder, e.Waited.Round(time.Millisecond))
}

// crashHook lets the crash test kill the process at every step; nil in production.
var crashHook func(point string)

func hook(point string) {
	if crashHook != nil {
		crashHook(point)
	}
}

// Apply brings the state to the bundle. It holds the apply lock throughout,
// re-plans before every action (so each action sees the results of the ones
// before it and a killed apply simply continues), runs each action's state
// change and its audit entry in one transaction, and stops when no ready
// action is left. Blocked actions are returned in Result.Blocked, not as an error.
//
// Cancelling ctx (a signal) does not abort the running action: each action
// runs to completion on a context without ctx's cancellation (so an eval that
// was paid for is recorded), and ctx is checked before the next one; Apply
// then returns Result.Interrupted and an error wrapping ErrInterrupted.
func Apply(ctx context.Context, b *compiler.Bundle, st state.Store, opts ApplyOptions) (*Result, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Actor == "" {
		opts.Actor = "unknown"
	}
	holder, err := lock(ctx, st, opts)
	if err != nil {
		return nil, err
	}
	defer st.ReleaseLock(context.WithoutCancel(ctx), ApplyLock, holder.ID)
	hook("locked")

	res := &Result{Applied: []Action{}, Blocked: []Action{}}
	done := map[string]bool{}
	for {
		if ctx.Err() != nil {
			return res, interrupted(ctx, res)
		}
		plan, err := BuildPlan(ctx, b, st, opts.Options)
		if err != nil {
			if ctx.Err() != nil {
				return res, interrupted(ctx, res)
			}
			return res, err
		}
		if res.Plan == nil {
			res.Plan = plan
		}
		var next *Action
		for i := range plan.Actions {
			if a := plan.Actions[i]; a.Ready() && !done[a.Key()] {
				next = &a
				break
			}
		}
		if next == nil {
			res.Blocked = plan.Blocked()
			return res, nil
		}
		done[next.Key()] = true
		hook("before " + next.Key())
		if err := execute(context.WithoutCancel(ctx), b, st, opts, *next); err != nil {
			return res, fmt.Errorf("%s %s: %w", next.Type, next.Object, err)
		}
		hook("after " + next.Key())
		res.Applied = append(res.Applied, *next)
		if opts.OnAction != nil {
			opts.OnAction(*next)
		}
	}
}

func lock(ctx context.Context, st state.Store, opts ApplyOptions) (state.LockHolder, error) {
	host, _ := os.Hostname()
	var id [8]byte
	_, _ = rand.Read(id[:])
	h := state.LockHolder{ID: hex.EncodeToString(id[:]), Actor: opts.Actor, Host: host, PID: os.Getpid(), Since: opts.Now().UTC()}
	start := time.Now()
	for {
		cur, ok, err := st.AcquireLock(ctx, ApplyLock, h)
		if err != nil {
			return h, err
		}
		if ok {
			return h, nil
		}
		// A holder on this machine whose process is gone was killed mid-apply:
		// take the lock over (audited) so the next apply can resume its work.
		if cur.Host == host && cur.PID != os.Getpid() && !processAlive(cur.PID) {
			if released, err := st.ReleaseLock(ctx, ApplyLock, cur.ID); err != nil {
				return h, err
			} else if released {
				before, _ := json.Marshal(cur)
				if _, err := st.AppendAudit(ctx, state.AuditEntry{Time: opts.Now(), Actor: opts.Actor, Commit: opts.Commit,
					Action: "break_stale_lock", Object: "locks/" + ApplyLock, Before: string(before)}); err != nil {
					return h, err
				}
			}
			continue
		}
		waited := time.Since(start)
		if waited >= opts.LockTimeout {
			return h, &LockError{Holder: cur, Waited: waited}
		}
		select {
		case <-ctx.Done():
			return h, ctx.Err()
		case <-time.After(min(100*time.Millisecond, opts.LockTimeout-waited)):
		}
	}
}

func doc(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func pointerDoc(field, name, version string) string {
	if version == "" {
		return ""
	}
	return doc(map[string]string{field: name, "version": version})
}

// execute applies one action: the slow part (running an eval, snapshotting,
// writing a file) first, then the state change and its audit entry in one
// transaction, so a kill leaves either both or neither.
func execute(ctx context.Context, b *compiler.Bundle, st state.Store, opts ApplyOptions, a Action) error {
	now := opts.Now().UTC()
	entry := state.AuditEntry{Time: now, Actor: opts.Actor, Commit: opts.Commit, Action: string(a.Type), Object: a.Object}
	var change func(tx state.Ops) error
	switch a.Type {
	case RegisterPromptVersion:
		name := strings.TrimPrefix(a.Object, "prompts/")
		p := b.Prompts[name]
		if p == nil {
			return fmt.Errorf("prompt %s is not in the bundle", name)
		}
		pv := state.PromptVersion{Prompt: name, Version: p.Version, ContentHash: p.ContentHash, Template: p.Template, Inputs: p.Inputs,
			Model:        state.PromptModel{Provider: p.Model.Provider, ID: p.Model.ID, Temperature: p.Model.Temperature, MaxTokens: p.Model.MaxTokens},
			RegisteredAt: now, RegisteredBy: opts.Actor}
		for _, m := range p.Messages {
			pv.Messages = append(pv.Messages, state.Message{Role: m.Role, Content: m.Content})
		}
		entry.After = doc(map[string]string{"version": p.Version, "content_hash": p.ContentHash})
		change = func(tx state.Ops) error {
			_, err := tx.RegisterPromptVersion(ctx, pv)
			return err
		}
	case MovePromptLabel, MoveModelAlias:
		field := "label"
		if a.Type == MoveModelAlias {
			field = "alias"
		}
		entry.Before = pointerDoc(field, a.Name, a.Before)
		entry.After = doc(struct {
			Name    string      `json:"name"`
			Version string      `json:"version"`
			Subject string      `json:"subject,omitempty"`
			Gates   []GateCheck `json:"gates"`
		}{a.Name, a.After, a.Subject, a.Gates})
		change = func(tx state.Ops) error { return tx.SetPointer(ctx, a.Object, a.Name, a.Before, a.After) }
	case RunEval:
		if opts.Evals == nil {
			return errors.New("eval runner not available")
		}
		name := strings.TrimPrefix(a.Object, "evals/")
		req := EvalRequest{Eval: name, Target: a.Name, TargetVersion: a.TargetVersion, SubjectHash: a.Subject, EvalHash: a.After}
		started := opts.Now().UTC()
		out, err := opts.Evals.RunEval(ctx, b, req)
		if err != nil {
			return err
		}
		hook("ran " + a.Key())
		run := state.EvalRun{Eval: name, EvalHash: a.After, Target: a.Name, TargetVersion: a.TargetVersion, SubjectHash: a.Subject,
			Passed: out.Passed, Metrics: out.Metrics, Summary: out.Summary, StartedAt: started, FinishedAt: opts.Now().UTC(), Cases: out.Cases}
		change = func(tx state.Ops) error {
			id, err := tx.RecordEvalRun(ctx, run)
			entry.After = doc(map[string]any{"run": id, "target": run.Target, "version": run.TargetVersion, "subject": run.SubjectHash,
				"passed": run.Passed, "metrics": run.Metrics, "summary": run.Summary})
			return err
		}
	case SnapshotRAG:
		if opts.RAG == nil {
			return errors.New("rag snapshotter not available")
		}
		name := strings.TrimPrefix(a.Object, "rag/")
		snap, err := opts.RAG.Snapshot(ctx, b, name)
		if err != nil {
			return err
		}
		hook("ran " + a.Key())
		rec := doc(ragRecord{Hash: a.After, ID: snap.ID})
		entry.Before = a.Before
		entry.After = doc(map[string]string{"hash": a.After, "snapshot": snap.ID, "summary": snap.Summary})
		change = func(tx state.Ops) error { return tx.PutRecord(ctx, RecordRAGSnapshot, name, []byte(rec)) }
	case RenderTarget:
		if err := writeRendered(b.Root, a); err != nil {
			return err
		}
		hook("ran " + a.Key())
		entry.Before, entry.After = a.Before, a.After
		change = func(tx state.Ops) error { return tx.SetRenderedHash(ctx, a.Object, a.After) }
	case TriggerTraining:
		c, err := fireTraining(ctx, b, st, opts, a, &entry)
		if err != nil {
			return err
		}
		change = c
	default:
		return fmt.Errorf("action type %s is not supported by this cairn", a.Type)
	}
	return st.Update(ctx, func(tx state.Ops) error {
		if err := change(tx); err != nil {
			return err
		}
		if _, err := tx.AppendAudit(ctx, entry); err != nil {
			return err
		}
		hook("in-tx " + a.Key())
		return nil
	})
}

// writeRendered restores or writes a rendered file, or removes a stale one
// (After ""), through targets.Write like `cairn render`. A stale file is
// re-checked for the cairn header first: what a person wrote is never removed.
func writeRendered(root string, a Action) error {
	rel, err := renderedRel(a.Object)
	if err != nil {
		return err
	}
	dir := filepath.Join(root, RenderedDir)
	if a.After == "" {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if !targets.Generated(rel, data) {
			return fmt.Errorf("%s has no cairn header: not removing a file cairn did not write", a.Object)
		}
		return targets.Write(dir, nil, []targets.Change{{Status: "extra", Path: rel}})
	}
	return targets.Write(dir, []targets.File{{Path: rel, Content: a.content}}, []targets.Change{{Status: "changed", Path: rel}})
}

// writeFile writes rel under root atomically (temp file + rename), refusing
// paths that leave root.
func writeFile(root, rel string, content []byte) error {
	clean := filepath.Clean(filepath.FromSlash(rel))
	if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return fmt.Errorf("rendered path %q leaves the spec repo", rel)
	}
	path := filepath.Join(root, clean)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".cairn-render-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(content); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
