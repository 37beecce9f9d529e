# METADATA
# title: An LLM judge differs from the judged model
# description: >-
#   A metric scored by an LLM judge does not use the model it judges (deny); a judge from the
#   same model (one id a snapshot of the other, e.g. gpt-4o and gpt-4o-2024-08-06) is
#   warned.
# custom:
#   id: judge_independence
#   severity: deny
package cairn.policy.judge_independence

import data.cairn.util

# Each rule reads one eval: the compiler writes the model id its target calls into it
# (target_model_id), so an edit to a prompt or model re-runs this policy only on the evals
# whose target's model id changed (cairn keeps its results per shard of evals).
deny contains v if {
	some name, e in input.bundle.evals
	some metric, x in e.metrics
	judge := x.judge.model
	judge == e.target_model_id
	v := {
		"msg": sprintf("metric %q of eval %q is judged by %q, the model it evaluates; use a different judge", [metric, name, judge]),
		"target": util.target("evals", name),
		"path": sprintf("metrics.%s.judge.model", [metric]),
	}
}

warn contains v if {
	some name, e in input.bundle.evals
	some metric, x in e.metrics
	judge := x.judge.model
	model := e.target_model_id
	judge != model
	same_family(judge, model)
	v := {
		"msg": sprintf("metric %q of eval %q is judged by %q, of the same family as the judged %q", [metric, name, judge, model]),
		"target": util.target("evals", name),
		"path": sprintf("metrics.%s.judge.model", [metric]),
	}
}

same_family(a, b) if snapshot_of(a, b)

same_family(a, b) if snapshot_of(b, a)

snapshot_of(x, base) if {
	startswith(x, base)
	regex.match(`^[-@](\d{4}-\d{2}-\d{2}|\d{4}|\d{8}|latest|v?\d+(\.\d+)*)$`, trim_prefix(x, base))
}
