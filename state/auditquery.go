package state

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// AuditQuery selects audit entries; every field left zero matches all. The
// backends answer it from indexes (object, action, sequence) and stream the
// rows: nothing loads the whole log. Times are compared as times, not as
// the stored text (RFC 3339 with a variable-length fraction does not sort
// as text), so a time bound filters the streamed rows.
type AuditQuery struct {
	Object   string    // exactly this object ("deployments/credit-api")
	Action   string    // exactly this action ("serve")
	From, To time.Time // From ≤ time < To
	AfterSeq int64     // seq > AfterSeq
	ToSeq    int64     // seq ≤ ToSeq (0: no bound)
	Desc     bool      // newest first
	Limit    int       // at most this many (0: all)
}

// where renders the query as SQL conditions and arguments.
func (q AuditQuery) where() (string, []any) {
	var conds []string
	var args []any
	add := func(c string, a any) { conds = append(conds, c); args = append(args, a) }
	if q.Object != "" {
		add("object = ?", q.Object)
	}
	if q.Action != "" {
		add("action = ?", q.Action)
	}
	if q.AfterSeq > 0 {
		add("seq > ?", q.AfterSeq)
	}
	if q.ToSeq > 0 {
		add("seq <= ?", q.ToSeq)
	}
	w := ""
	if len(conds) > 0 {
		w = " WHERE " + strings.Join(conds, " AND ")
	}
	return w, args
}

// Checkpoint is the head of the audit chain as `audit verify` last found it
// intact: readers check an entry's link to it instead of the whole chain.
type Checkpoint struct {
	Seq  int64     `json:"seq"`
	Hash string    `json:"hash"`
	At   time.Time `json:"at"`
}

// CheckpointKind is the record kind (key "head") holding the checkpoint.
const CheckpointKind = "audit.checkpoint"

// timed reports whether the query bounds time (filtered after the read).
func (q AuditQuery) timed() bool { return !q.From.IsZero() || !q.To.IsZero() }

// inTime reports whether t is within [From, To).
func (q AuditQuery) inTime(t time.Time) bool {
	return (q.From.IsZero() || !t.Before(q.From)) && (q.To.IsZero() || t.Before(q.To))
}

// VerifyScan is VerifyAudit over the stored log, streamed: memory stays
// flat in the log's length. It returns the head it verified up to.
func VerifyScan(ctx context.Context, st Ops, expectHead string) (head AuditEntry, problem *AuditProblem, err error) {
	prev, i := GenesisHash, 0
	err = st.ScanAudit(ctx, AuditQuery{}, func(e AuditEntry) error {
		if e.Seq != int64(i+1) || e.PrevHash != prev || e.Hash != ChainHash(e, prev) {
			problem = verifyLink(e, i, prev)
			return errStop
		}
		prev, head = e.Hash, e
		i++
		return nil
	})
	if err == errStop {
		err = nil
	}
	if err != nil || problem != nil {
		return head, problem, err
	}
	if expectHead != "" && prev != expectHead {
		problem = &AuditProblem{Index: i - 1, Seq: int64(i), Reason: fmt.Sprintf("chain head is %s, expected %s (entries were removed from the end)", short(prev), short(expectHead))}
	}
	return head, problem, nil
}

var errStop = fmt.Errorf("stop")

// verifyLink names what is wrong with entry e at position i after prev.
func verifyLink(e AuditEntry, i int, prev string) *AuditProblem {
	switch {
	case e.Seq != int64(i+1):
		return &AuditProblem{i, e.Seq, fmt.Sprintf("sequence number %d where %d was expected (an entry was deleted or reordered)", e.Seq, i+1)}
	case e.PrevHash != prev:
		return &AuditProblem{i, e.Seq, fmt.Sprintf("prev_hash %s does not match the previous entry's hash %s (an entry before it was deleted, reordered or edited)", short(e.PrevHash), short(prev))}
	}
	return &AuditProblem{i, e.Seq, fmt.Sprintf("stored hash %s does not match its content (recomputed %s): the entry was edited", short(e.Hash), short(ChainHash(e, prev)))}
}

// TimeOrderError refuses an entry older than the head: times along the
// chain never go back, so "the last serve entry with time ≤ T" is one entry
// and the intervals it starts do not overlap. A clock that went back (a
// reconciler on another machine with a skewed clock) is an error to fix,
// not something to record.
type TimeOrderError struct {
	Time, Head time.Time
	HeadSeq    int64
}

func (e *TimeOrderError) Error() string {
	return fmt.Sprintf("state: audit entry at %s is earlier than the head (#%d at %s); entries are appended in time order (is this machine's clock behind?)",
		FormatTime(e.Time), e.HeadSeq, FormatTime(e.Head))
}

// FirstSeqAt returns the sequence number of the first entry whose time is
// at or after t (the head's plus one when none is), by binary search over
// point reads: entries are appended in time order (TimeOrderError), so a
// time range becomes a sequence range that the indexes serve directly.
func FirstSeqAt(ctx context.Context, st Ops, t time.Time) (int64, error) {
	head, ok, err := st.AuditHead(ctx)
	if err != nil || !ok {
		return 1, err
	}
	lo, hi := int64(1), head.Seq+1 // the answer is in [lo, hi]
	for lo < hi {
		mid := lo + (hi-lo)/2
		var at time.Time
		found := false
		if err := st.ScanAudit(ctx, AuditQuery{AfterSeq: mid - 1, Limit: 1}, func(e AuditEntry) error {
			at, found = e.Time, true
			return nil
		}); err != nil {
			return 0, err
		}
		if found && at.Before(t) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo, nil
}
