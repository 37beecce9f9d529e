package cairn.policy.prod_slo_test

import data.cairn.policy.prod_slo as p

test_prod_with_slo_passes if {
	count(p.deny) == 0 with input as {"bundle": {"deployments": {"api": {"alias": "prod", "slos": ["avail"]}}}}
}

test_slo_found_by_deployment_field if {
	count(p.deny) == 0 with input as {"bundle": {"deployments": {"api": {"alias": "prod"}}, "slos": {"avail": {"deployment": "api"}}}}
}

test_prod_without_slo_denied if {
	p.deny == {{"msg": "deployment \"api\" serves prod but no SLO names it", "target": "deployments/api", "path": "alias"}} with input as {"bundle": {"deployments": {"api": {"alias": "prod", "slos": []}}}}
}

test_staging_needs_none if {
	count(p.deny) == 0 with input as {"bundle": {"deployments": {"api": {"alias": "staging", "slos": []}}}}
}
