package state

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// GenesisHash is the PrevHash of the first audit entry.
const GenesisHash = "sha256:0000000000000000000000000000000000000000000000000000000000000000"

// AuditEntry is one record of the append-only, hash-chained audit log.
// Before and After are JSON documents (or empty) describing the object.
type AuditEntry struct {
	Seq      int64     `json:"seq"`
	Time     time.Time `json:"time"`
	Actor    string    `json:"actor"`
	Commit   string    `json:"commit,omitempty"`
	Action   string    `json:"action"`
	Object   string    `json:"object"`
	Before   string    `json:"before,omitempty"`
	After    string    `json:"after,omitempty"`
	PrevHash string    `json:"prev_hash"`
	Hash     string    `json:"hash"`
}

// Canonical is the entry's content as hashed: JSON with a fixed key order,
// UTC time in RFC 3339 with nanoseconds, without the hashes themselves.
func (e AuditEntry) Canonical() []byte {
	b, _ := json.Marshal(struct {
		Seq    int64  `json:"seq"`
		Time   string `json:"time"`
		Actor  string `json:"actor"`
		Commit string `json:"commit"`
		Action string `json:"action"`
		Object string `json:"object"`
		Before string `json:"before"`
		After  string `json:"after"`
	}{e.Seq, FormatTime(e.Time), e.Actor, e.Commit, e.Action, e.Object, e.Before, e.After})
	return b
}

// ChainHash computes sha256(canonical(entry) ‖ prevHash).
func ChainHash(e AuditEntry, prevHash string) string {
	h := sha256.New()
	h.Write(e.Canonical())
	h.Write([]byte(prevHash))
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// AuditProblem names the first entry where the chain breaks.
type AuditProblem struct {
	Index  int   // position in the list as stored (0-based)
	Seq    int64 // the entry's stored sequence number
	Reason string
}

func (p *AuditProblem) Error() string {
	return fmt.Sprintf("audit entry #%d (position %d): %s", p.Seq, p.Index+1, p.Reason)
}

// VerifyAudit recomputes the chain over entries (in stored order) and returns
// the first problem: an edited entry (its hash does not match its content), a
// deleted one (a gap in the sequence or a broken link), or a reordered one.
// With expectHead != "" the last hash must also equal it, which catches
// truncation of the tail (a chain cannot show its own missing end).
func VerifyAudit(entries []AuditEntry, expectHead string) *AuditProblem {
	prev := GenesisHash
	for i, e := range entries {
		if e.Seq != int64(i+1) {
			return &AuditProblem{i, e.Seq, fmt.Sprintf("sequence number %d where %d was expected (an entry was deleted or reordered)", e.Seq, i+1)}
		}
		if e.PrevHash != prev {
			return &AuditProblem{i, e.Seq, fmt.Sprintf("prev_hash %s does not match the previous entry's hash %s (an entry before it was deleted, reordered or edited)", short(e.PrevHash), short(prev))}
		}
		if want := ChainHash(e, prev); e.Hash != want {
			return &AuditProblem{i, e.Seq, fmt.Sprintf("stored hash %s does not match its content (recomputed %s): the entry was edited", short(e.Hash), short(want))}
		}
		prev = e.Hash
	}
	if expectHead != "" && prev != expectHead {
		return &AuditProblem{len(entries) - 1, int64(len(entries)), fmt.Sprintf("chain head is %s, expected %s (entries were removed from the end)", short(prev), short(expectHead))}
	}
	return nil
}

func short(h string) string {
	if len(h) > 19 {
		return h[:19] + "…"
	}
	return h
}

// FormatTime is how times are stored: UTC, RFC 3339 with nanoseconds.
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// ParseTime reverses FormatTime ("" is the zero time).
func ParseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}
