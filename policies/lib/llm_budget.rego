# METADATA
# title: LLM deployments declare a budget and stay under it
# description: >-
#   A deployment serving an LLM has an SLO with a budget (usd_per_month and/or
#   usd_per_1k_requests), its cost can be projected (traffic and a price are known), and the
#   projection stays within every declared bound.
# custom:
#   id: llm_budget
#   severity: deny
package cairn.policy.llm_budget

import data.cairn.util

llm_deployments contains name if {
	some name, d in input.bundle.deployments
	util.is_llm(d)
}

# budgeted holds the deployments that some SLO gives a budget. Sets built in one pass
# and membership tests keep a large bundle at O(deployments + SLOs).
budgeted := {s.deployment | some s in input.bundle.slos; s.budget}

deny contains v if {
	some name in llm_deployments
	not name in budgeted
	v := {
		"msg": sprintf("LLM deployment %q declares no budget: give one of its SLOs budget.usd_per_month or budget.usd_per_1k_requests", [name]),
		"target": util.target("deployments", name),
		"path": "",
	}
}

deny contains v if {
	some name in llm_deployments
	name in budgeted
	d := input.bundle.deployments[name]
	not d.projection
	v := {
		"msg": sprintf("the cost of LLM deployment %q cannot be projected against its budget: declare traffic.requests_per_day", [name]),
		"target": util.target("deployments", name),
		"path": "traffic",
	}
}

deny contains v if {
	some name in llm_deployments
	name in budgeted
	err := input.bundle.deployments[name].projection.error
	err != ""
	v := {
		"msg": sprintf("the cost of LLM deployment %q cannot be projected against its budget: %s", [name, err]),
		"target": util.target("deployments", name),
		"path": "traffic",
	}
}

# bounds names the budget fields, each limiting the projection field of the same name.
bounds := {"usd_per_month": "per month", "usd_per_1k_requests": "per 1k requests"}

deny contains v if {
	some sname, s in input.bundle.slos
	name := s.deployment
	name in llm_deployments
	p := input.bundle.deployments[name].projection
	not p.error
	some field, unit in bounds
	limit := s.budget[field]
	p[field] > limit
	v := {
		"msg": sprintf("LLM deployment %q is projected at $%s %s, over the $%s budget of SLO %q", [name, util.usd(p[field]), unit, util.usd(limit), sname]),
		"target": util.target("deployments", name),
		"path": "traffic",
	}
}
