package gitops

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/compliance"
	"github.com/cairn-dev/cairn/internal/atomicfile"
	"github.com/cairn-dev/cairn/internal/diag"
	"github.com/cairn-dev/cairn/reconciler"
	"github.com/cairn-dev/cairn/signing"
	"github.com/cairn-dev/cairn/state"
	"github.com/gliderlabs/ssh"
)

// ComplianceReport builds the framework report of the AI systems the specs
// declare, with the bound history judged against the state and dir's git
// history. It is nil when the specs declare no compliance block and no
// framework was asked for.
func ComplianceReport(ctx context.Context, b *compiler.Bundle, st state.Ops, dir string, now time.Time, check diag.List, o compliance.Options) (*compliance.Report, error) {
	if b.Compliance == nil {
		if len(o.Frameworks) > 0 {
			return nil, &compliance.UsageError{Msg: "--framework: the specs declare no AI systems (compliance: {frameworks, systems}, see README \"Compliance\")"}
		}
		return nil, nil
	}
	bounds, err := reconciler.JudgeBounds(ctx, b, st, dir, reconciler.SystemObjects(b, false))
	if err != nil {
		return nil, fmt.Errorf("bound history: %w", err)
	}
	o.Bounds, o.Dir, o.Now, o.Check = bounds, dir, now, &compliance.Check{Diagnostics: check}
	return compliance.Build(ctx, b, st, o)
}

// heartbeat appends the day's heartbeat entry unless the log has one for
// now's UTC date: with a reconcile at least daily, a gap in the log is
// a gap in the record, not a quiet day (the compliance report's continuity).
func heartbeat(ctx context.Context, st state.Store, now time.Time, actor string) error {
	day := now.UTC().Format("2006-01-02")
	have := false
	if err := st.ScanAudit(ctx, state.AuditQuery{Action: compliance.HeartbeatAction, Desc: true, Limit: 1}, func(e state.AuditEntry) error {
		have = e.Time.UTC().Format("2006-01-02") == day
		return nil
	}); err != nil {
		return err
	}
	if have {
		return nil
	}
	_, err := st.AppendAudit(ctx, state.AuditEntry{Time: now.UTC(), Actor: actor, Action: compliance.HeartbeatAction, Object: "cairn", After: `{"day":"` + day + `"}`})
	return err
}

// WriteSigned writes data to path (atomically) and, with a signer, its
// SSH signature to path.sig. exclusive refuses to replace either file:
// scheduled reports are never overwritten.
func WriteSigned(path string, data []byte, signer ssh.Signer, exclusive bool) error {
	var sig []byte
	if signer != nil {
		var err error
		if sig, err = signing.Sign(signer, data); err != nil {
			return err
		}
	}
	write := atomicfile.Write
	if exclusive {
		write = writeNew
	}
	if err := write(path, data, 0o644); err != nil {
		return err
	}
	if sig != nil {
		return write(path+".sig", sig, 0o644)
	}
	return nil
}

// writeNew creates path with data, refusing an existing file.
func writeNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}
