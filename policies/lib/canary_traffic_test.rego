package cairn.policy.canary_traffic_test

import data.cairn.policy.canary_traffic as p

dep(rollout) := {"bundle": {"deployments": {"d": {"rollout": rollout}}}}

test_ten_percent_passes if {
	count(p.deny) == 0 with input as dep({"strategy": "canary", "traffic_percent": 10})
}

test_direct_ignored if {
	count(p.deny) == 0 with input as dep({"strategy": "direct"})
}

test_twenty_percent_denied if {
	p.deny == {{"msg": "canary of deployment \"d\" starts at 20% of traffic; the first step may send at most 10%", "target": "deployments/d", "path": "rollout.traffic_percent"}} with input as dep({"strategy": "canary", "traffic_percent": 20})
}

test_undeclared_percent_denied if {
	some v in p.deny with input as dep({"strategy": "canary"})
	v.path == "rollout"
}

test_steps_starting_small_pass if {
	count(p.deny) == 0 with input as dep({"strategy": "canary", "steps": [{"weight": 5, "pause": "10m"}, {"weight": 50, "pause": "1h"}]})
}

test_steps_starting_large_denied if {
	p.deny == {{"msg": "canary of deployment \"d\" starts at 25% of traffic; the first step may send at most 10%", "target": "deployments/d", "path": "rollout.steps.0.weight"}} with input as dep({"strategy": "canary", "steps": [{"weight": 25, "pause": "10m"}]})
}
