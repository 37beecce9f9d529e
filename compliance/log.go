package compliance

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/prometheus/common/model"

	"github.com/cairn-dev/cairn/state"
)

// HeartbeatAction is the audit entry reconcile appends once per UTC day,
// so that a quiet log can be told from a log with a hole in it.
const HeartbeatAction = "heartbeat"

// LogSummary is what the report says about cairn's own log: its span,
// its continuity between heartbeats, and the part of the chain verified.
type LogSummary struct {
	Entries      int64  `json:"entries"`
	Head         string `json:"head"`
	Verified     bool   `json:"verified"`
	VerifiedFrom string `json:"verified_from"`
	First        string `json:"first,omitempty"`
	RetainedDays int    `json:"retained_days"`
	Heartbeats   int    `json:"heartbeats"`
	MaxGap       string `json:"max_gap"`
	LongestGap   string `json:"longest_gap,omitempty"`
	Continuous   bool   `json:"continuous"`
	GapFinding   string `json:"gap_finding,omitempty"`
}

func (l *LogSummary) summary() string {
	s := fmt.Sprintf("%d entries since %s: %d of %d days retained, %d heartbeats", l.Entries, l.First, min(l.RetainedDays, RetentionDays), RetentionDays, l.Heartbeats)
	if l.Continuous {
		s += fmt.Sprintf(", no gap over %s (longest %s)", l.MaxGap, l.LongestGap)
	} else if l.GapFinding != "" {
		s += "; " + l.GapFinding
	}
	return s
}

// TamperedError refuses a report on a log whose chain does not verify.
type TamperedError struct{ Problem *state.AuditProblem }

func (e *TamperedError) Error() string {
	return fmt.Sprintf("audit log tampered at entry #%d: %s; no compliance report is written over it", e.Problem.Seq, e.Problem.Reason)
}

// summarizeLog verifies the chain — from the checkpoint `cairn audit
// verify` recorded when there is one, else whole — and measures span and
// continuity from indexed reads: memory stays flat in the log's length.
func summarizeLog(ctx context.Context, st state.Ops, now time.Time, maxGap time.Duration) (*LogSummary, error) {
	l := &LogSummary{MaxGap: model.Duration(maxGap).String()}
	head, ok, err := st.AuditHead(ctx)
	if err != nil || !ok {
		return l, err
	}
	l.Entries, l.Head = head.Seq, head.Hash
	if err := verify(ctx, st, l); err != nil {
		return nil, err
	}
	if err := st.ScanAudit(ctx, state.AuditQuery{Limit: 1}, func(e state.AuditEntry) error {
		l.First = state.FormatTime(e.Time)
		l.RetainedDays = int(now.Sub(e.Time).Hours() / 24)
		return nil
	}); err != nil {
		return nil, err
	}
	var prev, gapFrom time.Time
	var longest time.Duration
	if err := st.ScanAudit(ctx, state.AuditQuery{Action: HeartbeatAction}, func(e state.AuditEntry) error {
		l.Heartbeats++
		if !prev.IsZero() && e.Time.Sub(prev) > longest {
			longest, gapFrom = e.Time.Sub(prev), prev
		}
		prev = e.Time
		return nil
	}); err != nil {
		return nil, err
	}
	switch {
	case l.Heartbeats == 0:
		l.GapFinding = "no heartbeat entries: continuity cannot be shown (cairn reconcile appends one a day)"
		return l, nil
	case now.Sub(prev) > longest:
		longest, gapFrom = now.Sub(prev), prev
	}
	l.LongestGap = model.Duration(longest.Round(time.Minute)).String()
	l.Continuous = longest <= maxGap
	if !l.Continuous {
		l.GapFinding = fmt.Sprintf("a gap of %s between heartbeats from %s, over max_log_gap %s", l.LongestGap, state.FormatTime(gapFrom), l.MaxGap)
	}
	return l, nil
}

// verify checks the chain: from a checkpoint whose entry still holds its
// recorded hash, the entries after it; without one, every entry.
func verify(ctx context.Context, st state.Ops, l *LogSummary) error {
	var cp state.Checkpoint
	raw, ok, err := st.GetRecord(ctx, state.CheckpointKind, "head")
	if err != nil {
		return err
	}
	if ok && json.Unmarshal(raw, &cp) == nil && cp.Seq > 0 && cp.Seq <= l.Entries {
		prev, i := "", cp.Seq
		err := st.ScanAudit(ctx, state.AuditQuery{AfterSeq: cp.Seq - 1}, func(e state.AuditEntry) error {
			switch {
			case e.Seq == cp.Seq && e.Hash != cp.Hash:
				return &TamperedError{&state.AuditProblem{Seq: e.Seq, Reason: fmt.Sprintf("hash %s differs from the checkpoint's %s (the entry was edited after audit verify)", short(e.Hash), short(cp.Hash))}}
			case e.Seq == cp.Seq:
			case e.Seq != i+1 || e.PrevHash != prev || e.Hash != state.ChainHash(e, prev):
				return &TamperedError{&state.AuditProblem{Seq: e.Seq, Reason: "the entry does not link to the one before it (deleted, reordered or edited)"}}
			}
			prev, i = e.Hash, e.Seq
			return nil
		})
		if err != nil {
			return err
		}
		l.Verified, l.VerifiedFrom = true, fmt.Sprintf("from the checkpoint #%d of %s", cp.Seq, state.FormatTime(cp.At))
		return nil
	}
	_, p, err := state.VerifyScan(ctx, st, "")
	if err != nil {
		return err
	}
	if p != nil {
		return &TamperedError{p}
	}
	l.Verified, l.VerifiedFrom = true, "whole"
	return nil
}

// parseDuration reads a spec duration ("48h", "2d").
func parseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 48 * time.Hour, nil
	}
	d, err := model.ParseDuration(s)
	return time.Duration(d), err
}

// UsageError is a report asked for wrongly (an unknown framework, a
// framework without declared systems): the CLI's usage exit code.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

var (
	jsonHead = regexp.MustCompile(`"cairn_audit_head":\s*"#(\d+) (sha256:[0-9a-f]{64})"`)
	textHead = regexp.MustCompile(`cairn-audit-head: #(\d+) (sha256:[0-9a-f]{64})`)
	// The audit report's own chain summary, in a JSON report without a
	// compliance section.
	auditHead = regexp.MustCompile(`"audit":\s*\{\s*"entries":\s*(\d+),\s*"head":\s*"(sha256:[0-9a-f]{64})"`)
)

// EmbeddedHead finds the audit-log head a written report embeds (its
// marker in Markdown, HTML or JSON).
func EmbeddedHead(report []byte) (seq int64, hash string, ok bool) {
	for _, re := range []*regexp.Regexp{jsonHead, textHead, auditHead} {
		if m := re.FindSubmatch(report); m != nil {
			n, err := strconv.ParseInt(string(m[1]), 10, 64)
			return n, string(m[2]), err == nil
		}
	}
	return 0, "", false
}

// HeadInChain checks that entry seq still has hash, in a chain that
// verifies: the report's log is the log the state holds.
func HeadInChain(ctx context.Context, st state.Ops, seq int64, hash string) error {
	_, p, err := state.VerifyScan(ctx, st, "")
	if err != nil {
		return err
	}
	if p != nil {
		return (&TamperedError{p})
	}
	found := false
	if err := st.ScanAudit(ctx, state.AuditQuery{AfterSeq: seq - 1, Limit: 1}, func(e state.AuditEntry) error {
		if e.Seq == seq && e.Hash != hash {
			return fmt.Errorf("the report's audit head #%d is %s, the log's entry #%d is %s: the log was rewritten since the report", seq, short(hash), seq, short(e.Hash))
		}
		found = e.Seq == seq
		return nil
	}); err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("the report's audit head #%d is not in the log (entries were removed)", seq)
	}
	return nil
}
