package targets

import (
	"maps"
	"slices"

	"github.com/cairn-dev/cairn/compiler"
)

// Served is what one deployment serves, as the renderers resolve it: its
// stable version and, during a canary, the canary's version and share.
// Lineage records it whenever it changes (reconciler.RecordServing).
type Served struct {
	Deployment string         `json:"deployment"`
	Namespace  string         `json:"namespace"`
	Stable     ServedVersion  `json:"stable"`
	Canary     *ServedVersion `json:"canary,omitempty"`
}

// ServedVersion names a served model or prompt version.
type ServedVersion struct {
	Object  string `json:"object"` // "models/credit" or "prompts/answer"
	Version string `json:"version"`
	Digest  string `json:"digest,omitempty"`
	Percent int    `json:"percent"` // share of the deployment's traffic
}

// Serving resolves every deployment the state serves, by name. A
// deployment the renderers leave out (its alias has no version that passed
// its gates, a version is not registered) serves nothing and is absent. A
// shadow candidate receives a copy of the traffic, not a share, so it is not
// a canary here.
func Serving(b *compiler.Bundle, v View) map[string]Served {
	sb, _ := served(b, v)
	out := map[string]Served{}
	for _, name := range slices.Sorted(maps.Keys(sb.Deployments)) {
		d := sb.Deployments[name]
		var ptrs map[string]string
		var object string
		var digest func(ver string) (string, bool)
		switch {
		case d.Model != "" && sb.Models[d.Model] != nil:
			ptrs, object = sb.Models[d.Model].Aliases, "models/"+d.Model
			digest = func(ver string) (string, bool) {
				mv, ok := v.Models[d.Model][ver]
				return mv.Digest, ok
			}
		case d.Prompt != "" && sb.Prompts[d.Prompt] != nil:
			ptrs, object = sb.Prompts[d.Prompt].Labels, "prompts/"+d.Prompt
			digest = func(ver string) (string, bool) {
				pv, ok := v.Prompts[d.Prompt][ver]
				return pv.ContentHash, ok
			}
		default:
			continue
		}
		ver, ok := ptrs[d.Alias]
		if !ok {
			continue
		}
		dg, ok := digest(ver)
		if !ok {
			continue // not registered: the renderers refuse it
		}
		s := Served{Deployment: name, Namespace: d.Namespace, Stable: ServedVersion{Object: object, Version: ver, Digest: dg, Percent: 100}}
		// KServe gives a new InferenceService's first revision all the
		// traffic: until the deployment was rendered once, the canary is not
		// rendered (kserve.go), so it serves nothing.
		firstRevision := d.Target == "kserve" && !v.Rendered[name]
		if d.Rollout.Strategy == "canary" && d.Rollout.Candidate != "" && !firstRevision {
			cver := d.Rollout.Candidate
			if x, ok := ptrs[cver]; ok {
				cver = x
			}
			if cdg, ok := digest(cver); ok && cver != ver {
				pct := 0
				switch {
				case len(d.Rollout.Steps) > 0:
					pct = d.Rollout.Steps[0].Weight
					if c, ok := v.Canaries[name]; ok && c.Version == cver {
						pct = c.Percent
					}
				case d.Rollout.TrafficPercent != nil:
					pct = *d.Rollout.TrafficPercent
				}
				if pct > 0 {
					s.Canary = &ServedVersion{Object: object, Version: cver, Digest: cdg, Percent: pct}
					s.Stable.Percent = 100 - pct
				}
			}
		}
		out[name] = s
	}
	return out
}
