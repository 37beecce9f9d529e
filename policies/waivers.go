package policies

import (
	"fmt"
	"sort"

	"github.com/cairn-dev/cairn/compiler"
	"github.com/cairn-dev/cairn/internal/diag"
)

// applyWaivers marks each violation that an active waiver names exactly
// (policy id and target) as waived, in place, and returns a warning for
// each active waiver that suppressed nothing (a typo in its policy or
// target, or a violation fixed since). Validity (expiry, approver, length)
// is decided by the built-in waivers policy, which computed active.
func applyWaivers(b *compiler.Bundle, l diag.List, active map[int]bool, pols []Policy) diag.List {
	ws := b.Governance.Waivers
	used := map[int]bool{}
	for i := range l {
		d := &l[i]
		if d.Code == WaiversID || (d.Severity != diag.Deny && d.Severity != diag.Warn) {
			continue
		}
		for wi, w := range ws {
			if !active[wi] || w.Policy != d.Code || w.Target != d.Object {
				continue
			}
			d.Severity = diag.Waived
			d.Waiver = fmt.Sprintf("waived by %s until %s: %s", w.Approver, w.Expires, w.Reason)
			used[wi] = true
			break
		}
	}
	known := map[string]bool{}
	for _, p := range pols {
		known[p.ID] = true
	}
	idx := make([]int, 0, len(active))
	for wi := range active {
		idx = append(idx, wi)
	}
	sort.Ints(idx)
	var extra diag.List
	for _, wi := range idx {
		if used[wi] || wi >= len(ws) {
			continue
		}
		w := ws[wi]
		msg := fmt.Sprintf("waiver of %s on %s matches no violation; remove it or fix its policy id or target", w.Policy, w.Target)
		if !known[w.Policy] {
			msg = fmt.Sprintf("waiver of %s on %s names no loaded policy; it suppresses nothing", w.Policy, w.Target)
		}
		path := fmt.Sprintf("waivers[%d]", wi)
		extra = append(extra, diag.Diagnostic{Severity: diag.Warn, Code: WaiversID, Message: msg,
			Object: "governance", Path: path, Pos: Locate(b, "governance", path)})
	}
	return extra
}
