# METADATA
# title: First canary traffic is at most 10%
# description: >-
#   A canary rollout declares traffic_percent, or steps whose first weight is the first
#   step, and the first step sends at most 10% of the traffic to the candidate.
# custom:
#   id: canary_traffic
#   severity: deny
package cairn.policy.canary_traffic

import data.cairn.util

max_percent := 10

deny contains v if {
	some name, d in input.bundle.deployments
	d.rollout.strategy == "canary"
	d.rollout.traffic_percent > max_percent
	v := {
		"msg": sprintf("canary of deployment %q starts at %v%% of traffic; the first step may send at most %v%%", [name, d.rollout.traffic_percent, max_percent]),
		"target": util.target("deployments", name),
		"path": "rollout.traffic_percent",
	}
}

deny contains v if {
	some name, d in input.bundle.deployments
	d.rollout.strategy == "canary"
	first := d.rollout.steps[0].weight
	first > max_percent
	v := {
		"msg": sprintf("canary of deployment %q starts at %v%% of traffic; the first step may send at most %v%%", [name, first, max_percent]),
		"target": util.target("deployments", name),
		"path": "rollout.steps.0.weight",
	}
}

deny contains v if {
	some name, d in input.bundle.deployments
	d.rollout.strategy == "canary"
	not is_number(object.get(d.rollout, "traffic_percent", null))
	count(object.get(d.rollout, "steps", [])) == 0
	v := {
		"msg": sprintf("canary of deployment %q declares no traffic_percent (at most %v)", [name, max_percent]),
		"target": util.target("deployments", name),
		"path": "rollout",
	}
}
