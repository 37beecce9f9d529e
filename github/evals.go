package github

import (
	"sort"
	"strconv"

	"github.com/cairn-dev/cairn/evals"
)

// FromEvals adapts two runs of one suite (either may be nil: a suite added or
// removed by the pull request) to the comment's SuiteDelta, using
// evals.Compare for the cases whose status changed.
func FromEvals(base, head *evals.Run) SuiteDelta {
	d := evals.Compare(base, head)
	s := SuiteDelta{Suite: d.Suite, Removed: head == nil}
	if head != nil {
		s.Target, s.Errors, s.HeadVersion = head.Target, head.Errors, head.Version
		if head.Classic != nil {
			s.Rows = head.Classic.Rows
		}
	} else if base != nil {
		s.Target = base.Target
	}
	if base != nil {
		s.BaseVersion = base.Version
	}
	aggs := func(r *evals.Run) map[string]evals.Aggregate {
		m := map[string]evals.Aggregate{}
		if r != nil {
			for _, a := range r.Metrics {
				m[a.Name] = a
			}
		}
		return m
	}
	bm, hm := aggs(base), aggs(head)
	var names []string
	for n := range bm {
		names = append(names, n)
	}
	for n := range hm {
		if _, ok := bm[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		md := MetricDelta{Name: n}
		ref, inHead := hm[n]
		if !inHead {
			ref = bm[n]
		}
		th := ref.Threshold
		md.Threshold, md.LowerIsBetter = &th, ref.Op == "<="
		if a, ok := bm[n]; ok {
			md.Base = a.Value
		}
		if inHead {
			md.Head, md.HeadLow, md.HeadHigh, md.Note = ref.Value, ref.Low, ref.High, ref.Note
		}
		s.Metrics = append(s.Metrics, md)
	}
	cases := func(r *evals.Run) map[string]evals.CaseResult {
		m := map[string]evals.CaseResult{}
		if r != nil {
			for _, c := range r.Cases {
				m[caseKey(c.ID, c.Repeat)] = c
			}
		}
		return m
	}
	bc, hc := cases(base), cases(head)
	for _, t := range d.Transitions {
		k := caseKey(t.ID, t.Repeat)
		ch := CaseChange{ID: k, Base: string(t.From), Head: string(t.To)}
		c, ok := hc[k]
		if !ok {
			c = bc[k]
		}
		ch.Metric, ch.Note = why(c)
		s.Changed = append(s.Changed, ch)
	}
	return s
}

func caseKey(id string, repeat int) string {
	if repeat > 0 {
		return id + "#" + strconv.Itoa(repeat+1)
	}
	return id
}

// why names the first metric that did not pass and its reason, or the
// case's error.
func why(c evals.CaseResult) (metric, note string) {
	if c.Error != "" {
		return "", short200(c.Error)
	}
	names := make([]string, 0, len(c.Metrics))
	for n := range c.Metrics {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		m := c.Metrics[n]
		if !m.Pass {
			r := m.Reason
			if m.Error != "" {
				r = m.Error
			}
			return n, short200(r)
		}
	}
	return "", ""
}

func short200(s string) string {
	s = oneLine(s)
	if r := []rune(s); len(r) > 200 {
		return string(r[:199]) + "…"
	}
	return s
}
